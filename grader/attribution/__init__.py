"""Attribution: which question every cell, line and sentence of a submission answers."""
