"""Load: a hand-in (notebook, script, Canvas zip) read into one shape, a list of cells."""
