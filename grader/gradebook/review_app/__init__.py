"""`grader review OUT`: the instructor's page, a Flask app (`app.py`) with its templates and static files."""
