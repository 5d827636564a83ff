"""One module per output format; `write_all` writes every file of a batch's output."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from grader.rubric import Rubric
from grader.scoring import SubmissionResult
from grader.submission import Skipped


def write_all(results: list[SubmissionResult], rubric: Rubric, out: Path, skipped: Sequence[Skipped] = ()) -> None:
    """`skipped`: the entries of the class directories not graded (`submission.Skipped`),
    listed in results.json and summary.html."""
    from grader.reports import feedback_md, grades_csv, html, results_json
    from grader.text import scrub

    results = [scrub(result) for result in results]
    results_json.write(results, rubric, out / "results.json", skipped)
    grades_csv.write(results, rubric, out / "grades.csv")
    for result in results:
        feedback_md.write(result, rubric.assignment, out / "feedback")
    html.write(results, rubric, out, skipped)
