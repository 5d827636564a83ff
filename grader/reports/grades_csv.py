"""`grades.csv`: one row per student, a column per question, for a spreadsheet or gradebook."""

from __future__ import annotations

import csv
from pathlib import Path

from grader.rubric import Rubric
from grader.scoring import SubmissionResult


def write(results: list[SubmissionResult], rubric: Rubric, path: Path) -> None:
    ids = [question.id for question in rubric.questions]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", *ids, "total", "max", "status", "review"])
        for result in results:
            scores = {question.id: question.score for question in result.questions}
            writer.writerow([
                result.student,
                *[_number(scores[i]) if i in scores else "" for i in ids],
                _number(result.score), _number(result.max_score), result.status,
                "; ".join(flag.label for flag in result.review),
            ])


def _number(value: float) -> str:
    return f"{value:g}"
