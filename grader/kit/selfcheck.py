"""`grader.check()`: a student's self-check from a cell of their notebook, or from their script.

It grades the file as saved on disk (what the instructor will grade), with the kit's rubric
when one lies beside it (`grader_rubric.yaml`, from `grader assign`), and shows the feedback:
as HTML under the cell in Jupyter (in an iframe, so the page's style stays its own), as text
elsewhere. While the grader runs the notebook, the probe's own `grader` module stands in for
this one, so the call in the notebook does nothing there and costs no points.
"""

from __future__ import annotations

import html
import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from grader.grading.results import SubmissionResult
from grader.kit.assign import RUBRIC_NAME


class SelfCheckError(Exception):
    """What to fix before a self-check can run, in one line."""


@dataclass(frozen=True)
class Feedback:
    result: SubmissionResult
    assignment: str

    def __str__(self) -> str:
        from grader.common.text import terminal
        from grader.reports import feedback_md

        return terminal(feedback_md.render(self.result, self.assignment), lines=True)

    def _repr_html_(self) -> str:
        from grader.common.text import readable, scrub
        from grader.reports import html as pages

        page = readable(pages.feedback(scrub(self.result), self.assignment))
        return (f'<iframe srcdoc="{html.escape(page, quote=True)}" sandbox="" title="grader feedback" '
                'style="width: 100%; height: 640px; border: 1px solid #dde2ea; border-radius: 8px"></iframe>')

    @property
    def score(self) -> float:
        return self.result.score


def check(question: str | None = None, path: str | os.PathLike | None = None,
          rubric: str | os.PathLike | None = None) -> Feedback | None:
    """Grade `path` (default: this notebook, or the script running) and show the feedback;
    `question` ("q5"): show that question only. Returns the feedback, except in a notebook,
    where it is displayed under the cell (returned, the cell would show it twice). What
    stops it (no notebook, no such question, a broken rubric) is one line on stderr."""
    try:
        return _check(question, path, rubric)
    except SelfCheckError as exc:  # one line, not a traceback into the grader
        print(f"grader.check: {exc}", file=sys.stderr)
        return None


def _check(question: str | None, path: str | os.PathLike | None, rubric: str | os.PathLike | None) -> Feedback | None:
    from grader.batch.grade_all import grade_all
    from grader.batch.settings import Settings
    from grader.grading.rubric import DEFAULT_RUBRIC, RubricError, load_rubric

    target = Path(path) if path is not None else _this_file()
    if not target.exists():
        raise SelfCheckError(f"{target}: no such file; save your notebook, or give its path: grader.check(path=...)")
    beside = target.parent / RUBRIC_NAME  # the kit's, from `grader assign`
    if rubric:
        rubric_path = Path(rubric)
    elif beside.is_file():
        rubric_path = beside
    else:
        rubric_path = Path(os.environ.get("GRADER_RUBRIC") or DEFAULT_RUBRIC)
    try:
        loaded = load_rubric(rubric_path)
    except RubricError as exc:
        raise SelfCheckError(str(exc)) from None
    wanted = question.strip().lower() if question is not None else None
    if wanted is not None and wanted not in {q.id for q in loaded.questions}:
        raise SelfCheckError(f"no question {question!r} in {rubric_path.name} "
                             f"(its questions: {', '.join(q.id for q in loaded.questions)})")
    outcome = grade_all([(target.stem, target)], Settings(loaded, loaded.limits))
    [result] = outcome.results
    if wanted is not None:
        result = replace(result, questions=tuple(q for q in result.questions if q.id == wanted),
                         review=tuple(f for f in result.review if f.question in (None, wanted)),
                         score=sum(q.score for q in result.questions if q.id == wanted),
                         max_score=sum(q.max_score for q in result.questions if q.id == wanted))
    feedback = Feedback(result, loaded.assignment)
    if getattr(_shell(), "kernel", None) is not None:
        from IPython.display import display

        display(feedback)
        return None
    print(feedback)
    return feedback


def _this_file() -> Path:
    """The notebook this kernel runs (Jupyter and VS Code say so), else the one notebook in the
    working directory, else the script being run."""
    shell = _shell()
    if shell is not None:
        names = shell.user_ns
        for named in (names.get("__vsc_ipynb_file__"), names.get("__session__"), os.environ.get("JPY_SESSION_NAME")):
            if named and str(named).endswith(".ipynb") and Path(named).is_file():
                return Path(named)
        notebooks = sorted(Path.cwd().glob("*.ipynb"), key=lambda p: p.stat().st_mtime, reverse=True)
        if len(notebooks) == 1:
            return notebooks[0]
        if notebooks:
            raise SelfCheckError("several notebooks here: give yours, grader.check(path='my_assignment.ipynb')")
        raise SelfCheckError("no notebook found: give its path, grader.check(path='my_assignment.ipynb')")
    main = sys.modules.get("__main__")
    if main is not None and getattr(main, "__file__", None):
        return Path(main.__file__).resolve()  # type: ignore[arg-type]
    raise SelfCheckError("no file to check: give its path, grader.check(path='my_assignment.ipynb')")


def _shell():  # type: ignore[no-untyped-def]
    """The IPython shell this runs in, or None."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()
