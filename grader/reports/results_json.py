"""`results.json`: every result in full, the machine-readable record of a batch."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from grader.rubric import Rubric
from grader.scoring import SubmissionResult


def write(results: list[SubmissionResult], rubric: Rubric, path: Path) -> None:
    document = {
        "assignment": rubric.assignment,
        "rubric": str(rubric.path),
        "max_score": rubric.max_score,
        "submissions": [asdict(result) for result in results],
    }
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
