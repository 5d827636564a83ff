"""Grade one submission: load, attribute, execute, check, and add up the points.

This is the pipeline in one place. Whatever goes wrong with a student's file (unreadable,
not a notebook) or inside the grader itself becomes an `error` result with a reason, never an
exception that would stop the batch, and never a silent zero that looks like a wrong answer.
"""

from __future__ import annotations

import sys
import time
import traceback
from dataclasses import dataclass, replace
from pathlib import Path

from grader.attribution import Asked, Attribution, Found, attribute
from grader.checks import Check, clip
from grader.evidence import Evidence, QuestionEvidence
from grader.execution import execute
from grader.review import Review, ReviewFlag, review_flags
from grader.rubric import Question, Rubric
from grader.sandbox import Limits, format_size
from grader.submission import Submission, SubmissionError, load
from grader.syntax import source_lines
from grader.text import readable, terminal


@dataclass(frozen=True)
class CheckResult:
    name: str
    kind: str
    passed: bool
    score: float
    max_score: float
    feedback: str  # the rubric's message for pass or fail
    detail: str  # what was observed
    hidden: bool
    withheld: bool = False  # a hidden check of a student's kit: graded by the instructor, not here

    @property
    def shown_detail(self) -> str:
        """What a student may read of the observation: nothing for a hidden check."""
        return "" if self.hidden else self.detail


@dataclass(frozen=True)
class ProcessView:
    """One process the question's code ran, as the reports draw it."""

    key: str
    pid: int
    parent: str | None  # key of the process that started it, None for the main process
    role: str  # "main", "process", "pool worker", "forked"
    name: str | None
    exit_code: int | None
    output: str  # what it printed (stdout), cut to a few lines


@dataclass(frozen=True)
class Override:
    """An instructor's mark, kept in the gradebook (`grader.gradebook`) and applied to every
    export: new points for one check or a whole question, and a comment to the student."""

    question: str
    check: str | None  # None: the whole question
    points: float | None  # None: only a comment
    comment: str  # shown to the student
    reason: str  # why, for the instructors only
    author: str
    at: str  # ISO 8601, UTC
    stale: bool = False  # the submission changed since the override was made

    @property
    def target(self) -> str:
        return f"{self.question.upper()}: {self.check}" if self.check else self.question.upper()


@dataclass(frozen=True)
class QuestionResult:
    id: str
    score: float
    max_score: float
    checks: tuple[CheckResult, ...]
    notes: tuple[str, ...]  # time-outs, kernel deaths: what happened to the question's code
    processes: tuple[ProcessView, ...] = ()  # the main process first, then those it started
    found: Found = Found.MISSING  # how attribution located the answer
    answer: str = ""  # the text read as the answer, prompt removed
    code: str = ""  # the code credited to the question
    overrides: tuple[Override, ...] = ()  # the instructor's, applied by `gradebook.finalize`
    auto_score: float | None = None  # the grader's own score, when an override changed it


@dataclass(frozen=True)
class SubmissionResult:
    student: str
    path: str
    status: str  # "graded" or "error"
    score: float
    max_score: float
    error: str | None
    questions: tuple[QuestionResult, ...]
    seconds: float
    review: tuple[ReviewFlag, ...] = ()  # where a mark rests on a guess: look before trusting it
    late: bool = False  # Canvas marked the hand-in late (`_LATE` in its file name)
    penalty: float = 0.0  # points taken off by the rubric's late policy
    auto_score: float | None = None  # the grader's own total, when overrides or a penalty changed it

    @property
    def withheld_points(self) -> float:
        """Points of a student kit's hidden checks, which only the instructor's batch grades."""
        return sum(c.max_score for q in self.questions for c in q.checks if c.withheld)

    @classmethod
    def from_dict(cls, data: dict) -> SubmissionResult:
        """The inverse of `dataclasses.asdict`, for cached results."""
        questions = tuple(
            QuestionResult(**{**q, "checks": tuple(CheckResult(**c) for c in q["checks"]),
                              "notes": tuple(q["notes"]),
                              "processes": tuple(ProcessView(**p) for p in q.get("processes", ())),
                              "found": Found(q.get("found", Found.MISSING.value)),
                              "overrides": tuple(Override(**o) for o in q.get("overrides", ()))})
            for q in data["questions"]
        )
        review = tuple(ReviewFlag(f["question"], Review(f["reason"]), f["detail"]) for f in data.get("review", ()))
        return cls(**{**data, "questions": questions, "review": review})


def grade(student: str, path: Path, rubric: Rubric, limits: Limits,
          protect: tuple[Path, ...] = (), engine: str = "shell") -> SubmissionResult:
    """`protect`: paths student code must not see or touch (output directory, rubric).
    `engine`: how notebooks run, "shell" or "kernel" (see `execution.execute`)."""
    started = time.monotonic()
    try:
        submission = load(student, path)
        attribution = attribute(submission, asked(rubric))
        evidence = execute(submission, attribution, limits, frozenset(q.id for q in rubric.questions),
                           (*protect, rubric.path.parent), engine)
        questions = tuple(
            _grade_question(question, submission, attribution, evidence, limits)
            for question in rubric.questions
        )
        review = review_flags(attribution, evidence.inputs, {q.id: q.score for q in questions}, evidence.rejected)
    except SubmissionError as exc:
        return _error(student, path, rubric, clip(str(exc)), started)
    except Exception as exc:  # a grader fault: say so, do not score the student for it
        sys.stderr.write(terminal(traceback.format_exc(), lines=True))  # the whole story, for a bug report
        detail = clip(traceback.format_exception_only(type(exc), exc)[-1].strip())
        return _error(student, path, rubric, f"{path}: internal grader error: {detail}", started)
    return SubmissionResult(
        student=student, path=readable(str(path)), status="graded",
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


def _error(student: str, path: Path, rubric: Rubric, reason: str, started: float) -> SubmissionResult:
    return SubmissionResult(student, readable(str(path)), "error", 0.0, rubric.max_score, readable(reason), (),
                            round(time.monotonic() - started, 2))


def _grade_question(question: Question, submission: Submission, attribution: Attribution,
                    evidence: Evidence, limits: Limits) -> QuestionResult:
    view = evidence.for_question(question.id)
    view = _with_text(view, question.id, submission, attribution)
    results = tuple(_run_check(check, view) for check in question.checks)
    notes = (*attribution.notes.get(question.id, ()), *_notes(view, evidence, limits))
    return QuestionResult(
        question.id, round(sum(r.score for r in results), 2), question.points, results, notes,
        _process_tree(view), attribution.found.get(question.id, Found.MISSING), view.answer, view.code,
    )


def _process_tree(view: QuestionEvidence, output_chars: int = 600) -> tuple[ProcessView, ...]:
    """The processes of the question, each with its parent and its own output."""
    texts = view.output_by_process()
    writers = set(texts)
    by_pid = {(p.run, p.pid): p.key for p in view.processes.values()}
    parents = {by_pid.get((c.run, c.parent_pid)) for c in view.children}
    roots = [view.processes[key] for key in sorted(view.roots) if key in writers or key in parents]
    returned_by: dict[str, list[str]] = {}
    for task in view.tasks:
        returned_by.setdefault(task.key, []).extend(task.values)
    shown = []
    for process in [*roots, *sorted(view.children, key=lambda p: p.pid)]:
        parent = None if process.key in view.roots else by_pid.get((process.run, process.parent_pid))
        role = ("main" if process.key in view.roots else "pool worker" if process.pool_worker
                else "process" if process.name else "forked")
        text = texts.get(process.key, "")
        returned = returned_by.get(process.key, [])[:50]
        if returned:
            text += f"returned {', '.join(returned)}\n"
        if len(text) > output_chars:
            text = text[:output_chars] + "\n..."
        name = clip(process.name, 100) if process.name is not None else None  # a name the student chose
        shown.append(ProcessView(process.key, process.pid, parent, role, name, process.exit_code, text))
    return tuple(shown)


def _notes(view: QuestionEvidence, evidence: Evidence, limits: Limits) -> tuple[str, ...]:
    """What happened to the question's code, naming any limit it hit: a student who made a
    fork bomb should read "process limit", not only "wrong answer"."""
    where = view.question.upper()
    notes = []
    troubled = False
    for unit in view.units:
        if unit.status == "timeout":
            notes.append(f"{unit.label}: time limit of {limits.timeout:g} s exceeded in {where}; "
                         "it was stopped and its processes were killed")
        elif unit.status == "died":
            notes.append(f"{unit.label}: the kernel (the process running it) died and was restarted")
        elif unit.status == "skipped":
            notes.append(f"{unit.label}: not run, the time limit of {where} was already used up")
        elif unit.status == "not run":
            notes.append(f"{unit.label}: not run: {clip(unit.error or '')}")
        troubled |= unit.status != "ok"
    texts = [unit.error or "" for unit in view.units] + [child.stderr[-2000:] for child in view.children]
    hits = []
    for pattern, message in (
        ("MemoryError", f"memory limit of {format_size(limits.memory)} per process exceeded"),
        ("Resource temporarily unavailable", f"process limit of {limits.processes} processes alive at once reached"),
        ("File too large", f"file size limit of {format_size(limits.file_size)} exceeded"),
    ):
        if any(pattern in text for text in texts):
            hits.append(message)
            troubled = True
    if any(child.exit_code == -24 for child in view.children):  # SIGXCPU
        hits.append(f"CPU time limit of {limits.cpu_time:g} s per process exceeded")
    if any(question == view.question for question, _ in evidence.cut):
        hits.append(f"output limit of {format_size(limits.output)} reached")
    if troubled or any(child.exit_code not in (0, None) for child in view.children):
        hits.extend(evidence.limits_hit)  # the cgroups cannot say which question: the troubled ones
    notes.extend(f"{hit} in {where}" + ("; the rest was cut" if hit.startswith("output") else "") for hit in hits)
    return tuple(dict.fromkeys(notes))


def _with_text(view: QuestionEvidence, question_id: str, submission: Submission,
               attribution: Attribution) -> QuestionEvidence:
    """Add what the checks read from the file itself: the text answer and the code."""
    if submission.kind == "script":
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
        feedback=check.on_pass if passed or check.kind == "withheld" else check.on_fail,
        detail=clip(outcome.detail, _DETAIL_CHARS),  # whatever a check quotes of the student's
        hidden=check.hidden, withheld=check.kind == "withheld",
    )


_DETAIL_CHARS = 4_000  # of one check's observation in the reports
