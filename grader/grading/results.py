"""What grading one submission produced: the data every report, the cache and the gradebook read.

Its own module so that a report imports the result types, not the pipeline that makes them.
"""

from __future__ import annotations

from dataclasses import dataclass

from grader.attribution.model import Found
from grader.common.text import Word
from grader.grading.review import Review, ReviewFlag


class Status(Word):
    GRADED = "graded"
    ERROR = "error"  # nothing graded: the file could not be read or run, or the grader failed


class Mark(Word):
    """How a check went, as every report shows it."""

    PASS = "pass"
    PART = "part"  # some of its points
    FAIL = "fail"


class Role(Word):
    """What a process was, as the reports name it."""

    MAIN = "main"
    PROCESS = "process"
    POOL_WORKER = "pool worker"
    FORKED = "forked"


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
    def mark(self) -> Mark:
        return Mark.PASS if self.passed else Mark.PART if self.score > 0 else Mark.FAIL

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
    role: Role
    name: str | None
    exit_code: int | None
    output: str  # what it printed (stdout), cut to a few lines


@dataclass(frozen=True)
class Override:
    """An instructor's mark, kept in the gradebook (`grader.gradebook.store`) and applied to every
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
    overrides: tuple[Override, ...] = ()  # the instructor's, applied by `gradebook.store.finalize`
    auto_score: float | None = None  # the grader's own score, when an override changed it


@dataclass(frozen=True)
class SubmissionResult:
    student: str
    path: str
    status: Status
    score: float
    max_score: float
    error: str | None
    questions: tuple[QuestionResult, ...]
    seconds: float
    review: tuple[ReviewFlag, ...] = ()  # where a mark rests on a guess: look before trusting it
    late: bool = False  # Canvas marked the hand-in late (`_LATE` in its file name)
    penalty: float = 0.0  # points taken off by the rubric's late policy
    auto_score: float | None = None  # the grader's own total, when overrides or a penalty changed it
    fault: bool = False  # the error is the grader's, not the submission's: not kept in the cache

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
                              "processes": tuple(ProcessView(**{**p, "role": Role(p["role"])})
                                                 for p in q.get("processes", ())),
                              "found": Found(q.get("found", Found.MISSING.value)),
                              "overrides": tuple(Override(**o) for o in q.get("overrides", ()))})
            for q in data["questions"]
        )
        review = tuple(ReviewFlag(f["question"], Review(f["reason"]), f["detail"]) for f in data.get("review", ()))
        return cls(**{**data, "status": Status(data["status"]), "questions": questions, "review": review})
