"""Stage 2, attribution: which question every cell, line and sentence of a submission answers."""
