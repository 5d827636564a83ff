"""Every example submission gets exactly the scores its mistake deserves, and keeps the rest.

The whole folder is graded once, through the command line, two submissions at a time.
"""

from __future__ import annotations

import json

import pytest

from grader.cli import main
from tests.conftest import EXAMPLES

FULL = {"q1": 10, "q2": 10, "q3": 20, "q4": 10, "q5": 25, "q6": 25}

EXPECTED = {
    "model_solution": FULL,
    "model_solution_percent": FULL,
    "functions_with_main_block": FULL,
    "dana": FULL,  # paraphrased answers, output in another order and format
    "made_up_pid": {**FULL, "q3": 16},  # loses the hidden real-PID check only
    "squares_in_parent": {**FULL, "q5": 8},  # keeps "uses Pool" and "runs cleanly"
    "lambda_in_pool_map": {**FULL, "q5": 3},  # PicklingError: only "uses Pool" is left
    "hanging_worker": {**FULL, "q5": 3},  # stopped at the time limit
    "syntax_error": {**FULL, "q5": 3},  # the broken cell still shows the Pool(...) meant
    "threads_instead_of_processes": {**FULL, "q6": 5},  # runs cleanly, nothing else
    "same_number_four_times": {**FULL, "q6": 13},  # four processes, one number
    "parent_prints_numbers": {**FULL, "q6": 13},  # four processes, the parent prints
    "copied_questions": {**FULL, "q1": 0, "q2": 0, "q4": 0},
    "empty_notebook": {q: 0 for q in FULL},
}


@pytest.fixture(scope="module", params=["shell", "kernel"])
def graded(request, tmp_path_factory):
    """The whole folder graded with each engine: both must give every example the same scores."""
    out = tmp_path_factory.mktemp(f"examples-{request.param}")
    code = main(["grade", str(EXAMPLES), "--out", str(out), "--jobs", "2", "--timeout", "4",
                 "--engine", request.param])
    assert code == 0
    document = json.loads((out / "results.json").read_text())
    return {entry["student"]: entry for entry in document["submissions"]}


def test_at_least_twelve_examples(graded):
    assert len(graded) >= 12


@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_example_scores(graded, student):
    entry = graded[student]
    assert entry["status"] == "graded", entry["error"]
    got = {question["id"]: question["score"] for question in entry["questions"]}
    assert got == EXPECTED[student]
    assert entry["score"] == sum(EXPECTED[student].values())


def test_invalid_file_is_an_error_and_the_batch_goes_on(graded):
    entry = graded["invalid_file"]
    assert entry["status"] == "error"
    assert "invalid_file.ipynb" in entry["error"] and "not valid JSON" in entry["error"]
    assert entry["score"] == 0 and entry["questions"] == []
