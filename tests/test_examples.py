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
from tests.conftest import EXAMPLES

FULL = {"q1": 10, "q2": 10, "q3": 20, "q4": 10, "q5": 25, "q6": 25}

EXPECTED = {
    # --- shaped like the model solution
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
    # --- shaped like real students' work
    "hash_answer_headers": FULL,  # "#Answer1" headers; Q5 doubles numbers
    "qno_headers_ans_cells": FULL,  # "Q.No-01", "Ans :-" cells; get_context, apply_async
    "bare_number_headers": FULL,  # "1." alone in a cell; imap_unordered of cubes
    "questions_as_strings": FULL,  # '''Q1. ...''' then the answer as a string; Process subclass, starmap
    "prompts_without_numbers": FULL,  # the questions as headings, paraphrased, no numbers
    "answers_in_order": FULL,  # no headers at all
    "renumbered": {**FULL, "q4": 0},  # Q4 skipped: the pool under "Q4" is Q5's, the processes Q6's
    "prose_in_code_cells": FULL,  # answers typed into code cells
    "code_in_raw_cells": FULL,  # Q5 and Q6 only in raw cells: run, and flagged
    "one_markdown_cell": FULL,  # the whole notebook in one markdown cell, code fenced
    "colab_html_headers": FULL,  # Colab, never run, <h2>/**Question n** headers; ProcessPoolExecutor
    "questions_listed_first": FULL,  # the assignment pasted at the top, numbered answers below
    "numbered_steps_in_q5": FULL,  # steps "1." "2." "3." "6." inside Q5 are not headers
    "pools_that_print": {**FULL, "q6": 9.8},  # Q5 workers print their results (full); Q6 by a pool
    "pool_for_q3": {**FULL, "q3": 17},  # a pool where one process was asked for
    "q5_sketched_in_prose": {**FULL, "q5": 3},  # only `with multiprocessing.Pool(...)` in a sentence
    "logging_in_q6": FULL,  # the four numbers through logging, on stderr
    "input_in_q5": FULL,  # input() answered by the grader, and flagged
    "q6_random_numbers": {**FULL, "q6": 13},  # nothing makes the four random numbers differ
    "q6_six_processes": FULL,  # six processes, each its own number: more than asked, not less
    "short_answers": {**FULL, "q1": 5, "q2": 5, "q4": 5},  # one sentence each: half marks
    "q6_code_without_header": FULL,  # Q6's processes written under Q5, no Q6 header
    "comment_answers": FULL,  # script: "# Ans 1:" comments, functions called from __main__
    "nbconvert_export": FULL,  # `jupyter nbconvert --to script` output
    "prose_script": FULL,  # a .py with the answers as plain sentences between the code
}

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


@pytest.fixture(scope="module", params=["shell", "kernel"])
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
    from grader.review import Review

    assert {Review(reason).name.lower() for reason in reasons} == named


def test_invalid_file_is_an_error_and_the_batch_goes_on(graded):
    entry = graded["invalid_file"]
    assert entry["status"] == "error"
    assert "invalid_file.ipynb" in entry["error"] and "not valid JSON" in entry["error"]
    assert entry["score"] == 0 and entry["questions"] == []


def test_the_same_marks_on_every_run(graded, tmp_path):
    """Pools schedule tasks differently on every run; the marks must not move."""
    again = _grade(tmp_path / "again", "shell")
    for student, entry in graded.items():
        marks = [(q["id"], q["score"]) for q in entry["questions"]]
        assert marks == [(q["id"], q["score"]) for q in again[student]["questions"]], student
