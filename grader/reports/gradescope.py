"""Gradescope's autograder `results.json`: one test per rubric check.

Hidden checks are published only after grades are (`after_published`), and their output
leaves out what was observed, as in the student's own feedback. `run_autograder` in
`gradescope/` calls `grader gradescope`, which writes this file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from grader.common.text import clean
from grader.grading.results import Status, SubmissionResult


def build(result: SubmissionResult) -> dict:
    if result.status is Status.ERROR:
        return {
            "score": 0,
            "execution_time": round(result.seconds),
            "output": f"Your submission could not be graded: {result.error}",
            "stdout_visibility": "hidden",
            "tests": [],
        }
    tests = []
    for question in result.questions:
        for check in question.checks:
            output = check.feedback
            if check.shown_detail:
                output = f"{output}\nObserved: {check.shown_detail}".strip()
            tests.append({
                "name": f"{question.id.upper()}: {check.name}",
                "score": check.score,
                "max_score": check.max_score,
                "status": "passed" if check.passed else "failed",
                "output": output,
                "visibility": "after_published" if check.hidden else "visible",
            })
    notes = [f"{q.id.upper()}: {note}" for q in result.questions for note in q.notes]
    for question in result.questions:  # the instructor's marks: the top-level score already has them
        for override in question.overrides:
            points = f"set to {override.points:g} points" if override.points is not None else "reviewed"
            notes.append(f"{override.target}: the instructor {points}"
                         + (f": {override.comment}" if override.comment else ""))
    if result.penalty:
        notes.append(f"Late: {result.penalty:g} points taken off by the late policy.")
    return {
        "score": result.score,
        "execution_time": round(result.seconds),
        "output": "\n".join(notes) or "Graded by observing the processes your code created.",
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def failure(reason: str) -> dict:
    """The results of a run that could not grade at all (no rubric, a crash): 0 points and
    the reason, so the student sees why instead of Gradescope's "no results" error."""
    return {
        "score": 0,
        "output": f"The autograder failed before it could grade your submission: {reason} "
                  "Please tell your instructor.",
        "stdout_visibility": "hidden",
        "tests": [],
    }


def write(result: SubmissionResult, path: Path) -> None:
    write_document(build(result), path)


def write_document(document: dict, path: Path) -> None:
    """Written whole or not at all (a temporary file renamed), so no torn file is left."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(clean(document), indent=2) + "\n", encoding="utf-8")
    os.replace(partial, path)
