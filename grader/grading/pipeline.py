"""Grade one submission: load, attribute, execute, check, and add up the points.

This is the pipeline in one place. Whatever goes wrong with a student's file (unreadable,
not a notebook) or inside the grader itself becomes an `error` result with a reason, never an
exception that would stop the batch, and never a silent zero that looks like a wrong answer.
"""

from __future__ import annotations

import sys
import time
import traceback
from dataclasses import replace
from pathlib import Path

from grader.attribution.attribute import attribute
from grader.attribution.model import Asked, Attribution, Found
from grader.common.syntax import source_lines
from grader.common.text import clip, readable, terminal
from grader.evidence.model import Evidence, QuestionEvidence
from grader.evidence.read import read_evidence
from grader.grading.checks import Check, Withheld
from grader.grading.notes import run_notes
from grader.grading.process_tree import process_tree
from grader.grading.results import CheckResult, QuestionResult, Status, SubmissionResult
from grader.grading.review import review_flags
from grader.grading.rubric import Question, Rubric
from grader.load.submission import Submission, SubmissionError, SubmissionKind, load
from grader.run.engine import EngineKind
from grader.run.execute import execute
from grader.run.limits import Limits
from grader.run.sandbox import Aborted


def grade(student: str, path: Path, rubric: Rubric, limits: Limits,
          protect: tuple[Path, ...] = (), engine: EngineKind = EngineKind.SHELL) -> SubmissionResult:
    """`protect`: paths student code must not see or touch (output directory, rubric).
    `engine`: how notebooks run (see `run.engine.EngineKind`)."""
    started = time.monotonic()
    try:
        submission = load(student, path)
        attribution = attribute(submission, asked(rubric))
        evidence = read_evidence(execute(submission, attribution, limits, frozenset(q.id for q in rubric.questions),
                                         (*protect, rubric.path.parent), engine))
        questions = tuple(
            _grade_question(question, submission, attribution, evidence, limits)
            for question in rubric.questions
        )
        review = review_flags(attribution, evidence.inputs, {q.id: q.score for q in questions}, evidence.rejected)
    except SubmissionError as exc:
        return _error(student, path, rubric, clip(str(exc)), started)
    except Aborted:  # Ctrl-C before its run began: no mark, and nothing kept of it
        return _error(student, path, rubric, f"{path}: not graded, the batch was interrupted", started, fault=True)
    except Exception as exc:  # a grader fault: say so, do not score the student for it
        sys.stderr.write(terminal(traceback.format_exc(), lines=True))  # the whole story, for a bug report
        detail = clip(traceback.format_exception_only(type(exc), exc)[-1].strip())
        return _error(student, path, rubric, f"{path}: internal grader error: {detail}", started, fault=True)
    return SubmissionResult(
        student=student, path=readable(str(path)), status=Status.GRADED,
        score=round(sum(q.score for q in questions), 2), max_score=rubric.max_score,
        error=None, questions=questions, seconds=round(time.monotonic() - started, 2), review=review,
    )


def asked(rubric: Rubric) -> tuple[Asked, ...]:
    """What attribution must know of the rubric: each question's prompt, and whether it
    asks for code (any check beyond reading the text answer)."""
    return tuple(
        Asked(q.id, q.prompt, q.asks_code,
              tuple(name for c in q.checks for name in getattr(c, "calls", ())))
        for q in rubric.questions
    )


def _error(student: str, path: Path, rubric: Rubric, reason: str, started: float,
           fault: bool = False) -> SubmissionResult:
    return SubmissionResult(student, readable(str(path)), Status.ERROR, 0.0, rubric.max_score, readable(reason), (),
                            round(time.monotonic() - started, 2), fault=fault)


def _grade_question(question: Question, submission: Submission, attribution: Attribution,
                    evidence: Evidence, limits: Limits) -> QuestionResult:
    view = evidence.for_question(question.id)
    view = _with_text(view, question.id, submission, attribution)
    results = tuple(_run_check(check, view) for check in question.checks)
    notes = (*attribution.notes.get(question.id, ()), *run_notes(view, evidence, limits))
    return QuestionResult(
        question.id, round(sum(r.score for r in results), 2), question.points, results, notes,
        process_tree(view), attribution.found.get(question.id, Found.MISSING), view.answer, view.code,
    )


def _with_text(view: QuestionEvidence, question_id: str, submission: Submission,
               attribution: Attribution) -> QuestionEvidence:
    """Add what the checks read from the file itself: the text answer and the code."""
    if submission.kind is SubmissionKind.SCRIPT:
        lines = source_lines(attribution.script)
        code = "\n".join(
            "\n".join(lines[start - 1 : end])
            for start, end, q in attribution.regions if q == question_id
        )
        file_code = attribution.script
    else:
        code = attribution.code.get(question_id, "")
        file_code = "\n".join(piece.source for piece in attribution.pieces)
    return replace(view, answer=attribution.answers.get(question_id, ""), code=code, file_code=file_code)


def _run_check(check: Check, view: QuestionEvidence) -> CheckResult:
    outcome = check.evaluate(view)
    passed = outcome.fraction >= 1.0
    return CheckResult(
        name=check.title, kind=check.kind, passed=passed,
        score=round(check.points * outcome.fraction, 2), max_score=check.points,
        feedback=check.on_pass if passed or isinstance(check, Withheld) else check.on_fail,
        detail=clip(outcome.detail, _DETAIL_CHARS),  # whatever a check quotes of the student's
        hidden=check.hidden, withheld=isinstance(check, Withheld),
    )


_DETAIL_CHARS = 4_000  # of one check's observation in the reports
