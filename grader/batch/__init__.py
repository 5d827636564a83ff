"""Stage 6, a class: many submissions graded in parallel, cached, resumable."""
