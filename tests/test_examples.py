"""Every example submission gets exactly the marks a careful instructor would give it.

The first group are the typical mistakes on a model-shaped notebook; the second are the
shapes real students hand in (odd headers, no headers, answers in strings, comments, raw
cells and code cells, renumbered work, pools where processes were asked for). The whole
folder is graded through the command line, two submissions at a time, with both engines,
and once more with the shell engine to show the marks are the same on every run.
"""

from __future__ import annotations

import json

import pytest

from grader.cli import main
from grader.run.engine import EngineKind
from tests.helpers import EXAMPLES, EXPECTED

pytestmark = pytest.mark.slow  # the whole class of examples, graded in both engines

REVIEW = {  # the flags an instructor should see, per example
    "answers_in_order": {"found_by_order"},
    "renumbered": {"found_by_shape"},
    "code_in_raw_cells": {"code_from_text"},
    "one_markdown_cell": {"code_from_text"},
    "prompts_without_numbers": {"found_by_prompt"},
    "input_in_q5": {"input_called"},
    "q6_code_without_header": {"found_by_shape"},
    "squares_in_parent": set(),
    "model_solution": set(),
    "functions_with_main_block": set(),  # a title line above "Q1. ..." is not a restated Q1
    "copied_questions": {"content_but_zero"},
    "empty_notebook": {"few_found"},
}


def _grade(out, engine: str) -> dict:
    code = main(["grade", str(EXAMPLES), "--out", str(out), "--jobs", "2", "--timeout", "4", "--engine", engine])
    assert code == 0
    document = json.loads((out / "results.json").read_text())
    return {entry["student"]: entry for entry in document["submissions"]}


@pytest.fixture(scope="module", params=list(EngineKind))
def graded(request, tmp_path_factory):
    """The whole folder graded with each engine: both must give every example the same scores."""
    return _grade(tmp_path_factory.mktemp(f"examples-{request.param}"), request.param)


def test_at_least_thirty_examples(graded):
    assert len(graded) >= 30


@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_example_scores(graded, student):
    entry = graded[student]
    assert entry["status"] == "graded", entry["error"]
    got = {question["id"]: question["score"] for question in entry["questions"]}
    assert got == EXPECTED[student]
    assert entry["score"] == pytest.approx(sum(EXPECTED[student].values()))


@pytest.mark.parametrize("student", sorted(REVIEW))
def test_example_review_flags(graded, student):
    reasons = {flag["reason"] for flag in graded[student]["review"]}
    named = {name for name in REVIEW[student]}
    from grader.grading.review import Review

    assert {Review(reason).name.lower() for reason in reasons} == named


def test_invalid_file_is_an_error_and_the_batch_goes_on(graded):
    entry = graded["invalid_file"]
    assert entry["status"] == "error"
    assert "invalid_file.ipynb" in entry["error"] and "not valid JSON" in entry["error"]
    assert entry["score"] == 0 and entry["questions"] == []


def test_the_same_marks_on_every_run(graded, tmp_path):
    """Pools schedule tasks differently on every run; the marks must not move."""
    again = _grade(tmp_path / "again", EngineKind.SHELL)
    for student, entry in graded.items():
        marks = [(q["id"], q["score"]) for q in entry["questions"]]
        assert marks == [(q["id"], q["score"]) for q in again[student]["questions"]], student
