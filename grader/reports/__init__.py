"""One module per output format; each takes the graded results and writes or returns one thing."""
