"""Write every export of a batch from the gradebook: the one driver `grade` and `review` share.

`grade` records what it graded and how the batch was asked for (the rubric, the roster, the
students in order, what was skipped, the similar pairs); `publish` reads that back, applies
the overrides and the late policy (`store.finalize`) and writes every report. The review
page calls `publish` after each change, so no export ever shows a mark the gradebook does not.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

from grader import reports
from grader.analysis.similarity import Pair
from grader.gradebook.store import Gradebook, finalize, key
from grader.grading.results import SubmissionResult
from grader.grading.rubric import Rubric, load_rubric
from grader.load.discover import Skipped, content_digest
from grader.reports import canvas


class Missing(str, enum.Enum):
    """What the Canvas export gives a roster student who handed nothing in."""

    BLANK = "blank"
    ZERO = "zero"


@dataclass(frozen=True)
class Published:
    results: list[SubmissionResult]  # as every export shows them
    own: list[SubmissionResult]  # the grader's, before overrides and the late policy
    pairs: list[Pair]
    rubric: Rubric
    unmatched: list[SubmissionResult]  # submissions that match no roster row
    absent: list[dict[str, str]]  # roster rows with no submission


def record(book: Gradebook, results: list[SubmissionResult], paths: dict[str, Path], rubric: Rubric,
           skipped: list[Skipped], pairs: list[Pair], roster: Path | None = None,
           assignment_id: str = "", missing: Missing = Missing.BLANK) -> None:
    """`paths`: each student's submission, whose bytes an override's staleness is judged by."""
    book.store([(result, content_digest(paths[result.student]) if result.student in paths else None)
                for result in results])
    book.put("rubric", str(rubric.path.resolve()))
    book.put("students", [key(result) for result in results])
    book.put("skipped", [[entry.path, entry.reason] for entry in skipped])
    book.put("pairs", [pair.to_json() for pair in pairs])
    book.put("roster", str(roster.resolve()) if roster else None)
    book.put("assignment_id", assignment_id)
    book.put("missing", missing.value)


def publish(book: Gradebook, out: Path, changed: frozenset[str] | None = None) -> Published:
    """`changed`: only these students' own files need writing again (the review page's change);
    the class files are always written. Raises `RubricError` or `canvas.RosterError` if the
    recorded rubric or roster is gone."""
    rubric = load_rubric(Path(str(book.get("rubric"))))
    overrides = book.overrides()
    own = book.results(list(book.get("students", [])))
    results = [finalize(result, overrides.get(key(result), []), rubric.late_penalty) for result in own]
    skipped = [Skipped(path, reason) for path, reason in book.get("skipped", [])]
    pairs = [Pair.from_json(pair) for pair in book.get("pairs", [])]
    roster_path = book.get("roster")
    unmatched: list[SubmissionResult] = []
    absent: list[dict[str, str]] = []
    roster = canvas.read_roster(Path(str(roster_path))) if roster_path else None
    if roster is not None:
        unmatched, absent = canvas.write(results, roster, rubric, str(book.get("assignment_id", "")),
                                         Missing(book.get("missing", "blank")) is Missing.ZERO, out / "canvas.csv")
    reports.write_all(results, rubric, out, skipped, pairs, absent, changed)
    return Published(results, own, pairs, rubric, unmatched, absent)
