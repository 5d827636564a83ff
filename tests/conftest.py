"""Shared helpers: build small notebooks and scripts, grade them with the shipped rubric.

Every run of student code in these tests is bounded by a short per-question timeout.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from grader.cli import DEFAULT_RUBRIC
from grader.rubric import Rubric, load_rubric
from grader.sandbox import Limits
from grader.scoring import SubmissionResult, grade

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "submissions_example"


@pytest.fixture(scope="session")
def rubric() -> Rubric:
    return load_rubric(DEFAULT_RUBRIC)


def write_notebook(path: Path, cells: list[tuple[str, str]]) -> Path:
    """cells: ("md" | "code", source) pairs."""
    notebook = new_notebook()
    notebook.cells = [new_markdown_cell(src) if kind == "md" else new_code_cell(src) for kind, src in cells]
    nbformat.write(notebook, path)
    return path


def scores(result: SubmissionResult) -> dict[str, float]:
    return {question.id: question.score for question in result.questions}


def check(result: SubmissionResult, question: str, name_part: str):
    [question_result] = [q for q in result.questions if q.id == question]
    [found] = [c for c in question_result.checks if name_part in c.name]
    return found


def grade_path(path: Path, rubric: Rubric, timeout: float = 5, **limits) -> SubmissionResult:
    return grade(path.stem, path, rubric, Limits(timeout=timeout, **limits))
