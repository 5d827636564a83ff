"""One module per output format; `write_all` writes every file of a batch's output."""

from __future__ import annotations

from pathlib import Path

from grader.rubric import Rubric
from grader.scoring import SubmissionResult


def write_all(results: list[SubmissionResult], rubric: Rubric, out: Path) -> None:
    from grader.reports import feedback_md, grades_csv, html, results_json

    results_json.write(results, rubric, out / "results.json")
    grades_csv.write(results, rubric, out / "grades.csv")
    for result in results:
        feedback_md.write(result, rubric.assignment, out / "feedback")
    html.write(results, rubric, out)
