"""One module per output format; `write_all` writes every file of a batch's output."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from grader.analysis.similarity import Pair
from grader.grading.results import SubmissionResult
from grader.grading.rubric import Rubric
from grader.load.discover import Skipped


def write_all(results: list[SubmissionResult], rubric: Rubric, out: Path, skipped: Sequence[Skipped] = (),
              pairs: Sequence[Pair] = (), absent: Sequence[dict[str, str]] = (),
              only: frozenset[str] | None = None) -> None:
    """`skipped`: the entries of the class directories not graded (`submission.Skipped`),
    listed in results.json and summary.html; `pairs`: similar submissions; `absent`: roster
    students with no submission; `only`: write the per-student files of these students alone
    (the class files are always written). `publish.publish` is the caller, after the overrides."""
    from grader.common.text import report_name, scrub
    from grader.reports import feedback_md, grades_csv, gradescope, html, results_json

    mine = [only is None or result.student in only for result in results]
    results = [scrub(result) for result in results]
    results_json.write(results, rubric, out / "results.json", skipped)
    grades_csv.write(results, rubric, out / "grades.csv")
    students = [result for result, chosen in zip(results, mine) if chosen]
    for result in students:
        feedback_md.write(result, rubric.assignment, out / "feedback")
        gradescope.write(result, out / "gradescope" / f"{report_name(result.student)}.json")
    html.write(results, rubric, out, skipped, pairs, absent, students)
