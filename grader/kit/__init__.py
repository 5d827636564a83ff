"""For students: the kit an instructor hands out, and `grader.check()`."""
