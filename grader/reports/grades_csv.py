"""`grades.csv`: one row per student, a column per question, for a spreadsheet or gradebook.

Every row goes through `grader.common.text.csv_row`: a student's name or text never starts a formula.
"""

from __future__ import annotations

import csv
from pathlib import Path

from grader.common.text import csv_row
from grader.grading.results import SubmissionResult
from grader.grading.rubric import Rubric


def write(results: list[SubmissionResult], rubric: Rubric, path: Path) -> None:
    ids = [question.id for question in rubric.questions]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(csv_row(["student", *ids, "total", "max", "status", "review", "late", "penalty",
                                 "overridden"]))
        for result in results:
            scores = {question.id: question.score for question in result.questions}
            writer.writerow(csv_row([
                result.student,
                *[scores.get(i) for i in ids],
                result.score, result.max_score, result.status,
                "; ".join(flag.label for flag in result.review),
                "yes" if result.late else "", result.penalty or "",
                "; ".join(o.target + (" (stale)" if o.stale else "") for q in result.questions for o in q.overrides),
            ]))
