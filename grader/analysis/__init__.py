"""Across a class: similar pairs and answer groups, for the instructor to look at."""
