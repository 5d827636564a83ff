"""grader: grades Python multiprocessing assignments by observing the processes they create.

`grader.check()` in a notebook or a script is a student's self-check (`grader.kit.selfcheck`).
"""

__version__ = "0.2.0"


def check(question=None, path=None, rubric=None):  # type: ignore[no-untyped-def]
    """Grade this notebook (as saved) or script and show the feedback; `check("q5")`: one question."""
    from grader.kit.selfcheck import check as self_check

    return self_check(question, path, rubric)
