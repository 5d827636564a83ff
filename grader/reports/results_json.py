"""`results.json`: every result in full, the machine-readable record of a batch."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from grader.common.text import clean, report_name
from grader.grading.results import SubmissionResult
from grader.grading.rubric import Rubric
from grader.load.discover import Skipped


def write(results: list[SubmissionResult], rubric: Rubric, path: Path, skipped: Sequence[Skipped] = ()) -> None:
    """Each submission also names its feedback files (`feedback/<feedback>.md` and `.html`);
    `skipped` lists the entries of the class directories that were not graded, and why."""
    document = {
        "assignment": rubric.assignment,
        "rubric": str(rubric.path),
        "max_score": rubric.max_score,
        "submissions": [{**asdict(result), "feedback": report_name(result.student)} for result in results],
        "skipped": [{"path": entry.path, "reason": entry.reason} for entry in skipped],
    }
    path.write_text(json.dumps(clean(document), indent=2) + "\n", encoding="utf-8")
