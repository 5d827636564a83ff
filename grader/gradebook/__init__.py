"""The instructor's record: results and overrides in SQLite, every export written from it, the review page."""
