"""A class: many submissions graded in parallel, cached, resumable."""
