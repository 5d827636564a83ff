"""Stands in for the grader package inside a run: a notebook that calls `grader.check()` is
being graded already, so the call does nothing and costs nothing (the real package, outside
the run, is `grader/__init__.py`)."""


def check(*args, **kwargs):  # type: ignore[no-untyped-def]
    return None
