"""Attribution: every header style, metadata, several questions in one cell, prompt removal."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.attribution import attribute, header_question, strip_prompt
from grader.submission import Cell, Submission

KNOWN = {"q1", "q2", "q3", "q5", "q6"}


@pytest.mark.parametrize(
    "line,question",
    [
        ("Q3. Write a python code", "q3"),
        ("Q3) Write a python code", "q3"),
        ("## Q3", "q3"),
        ("# Q3", "q3"),
        ("Question 3", "q3"),
        ("**Q3.** Write", "q3"),
        ("q3: write", "q3"),
        ("### Question 5: pools", "q5"),
        ("Q7. A bonus question", None),  # a header, but not a question of the rubric
    ],
)
def test_header_styles(line, question):
    found = header_question(line, KNOWN)
    assert found is not None and found[0] == question


@pytest.mark.parametrize("line", ["Quite a long answer", "In Q3 we saw", "Multiprocessing is useful", "x = 3"])
def test_not_headers(line):
    assert header_question(line, KNOWN) is None


def notebook(cells: list[Cell]) -> Submission:
    return Submission("s", Path("s.ipynb"), "notebook", tuple(cells), "")


def test_several_questions_in_one_markdown_cell_and_code_cells_follow():
    cells = [
        Cell(0, "markdown", "Q1. What is multiprocessing?\n\nRunning processes in parallel.\n\n"
                            "Q2. What are the differences?\n\nThreads share memory."),
        Cell(1, "markdown", "Q3. Write code"),
        Cell(2, "code", "import multiprocessing"),
        Cell(3, "code", "# Q5\nfrom multiprocessing import Pool"),
        Cell(4, "code", "print('still q5')"),
    ]
    prompts = {"q1": "What is multiprocessing?", "q2": "What are the differences?", "q3": "Write code", "q5": "Pool"}
    result = attribute(notebook(cells), prompts)
    assert result.cell_questions[2:] == ("q3", "q5", "q5")
    assert result.answers["q1"] == "Running processes in parallel."
    assert result.answers["q2"] == "Threads share memory."


def test_metadata_names_the_question_without_any_header():
    cells = [
        Cell(0, "code", "print(1)", hint="q6"),
        Cell(1, "code", "print(2)"),
        Cell(2, "code", "print(3)", hint="q3"),
    ]
    result = attribute(notebook(cells), {"q3": "", "q6": ""})
    assert result.cell_questions == ("q6", "q6", "q3")


def test_nbgrader_and_otter_metadata_are_read(tmp_path):
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    from grader.submission import load

    nb = new_notebook()
    nb.cells = [new_code_cell("print(1)"), new_code_cell("print(2)"), new_code_cell("print(3)")]
    nb.cells[0].metadata["nbgrader"] = {"grade_id": "q5-pool", "grade": True, "solution": True}
    nb.cells[1].metadata["otter"] = {"name": "Question 6"}
    nb.cells[2].metadata["tags"] = ["q3"]
    nbformat.write(nb, tmp_path / "n.ipynb")
    submission = load("n", tmp_path / "n.ipynb")
    assert [cell.hint for cell in submission.cells] == ["q5", "q6", "q3"]


def test_copying_the_prompt_earns_nothing():
    prompt = "Write a python program to create 4 processes, each process should print a different number using the multiprocessing module in python."
    lines = [
        "Write a python program to create 4 processes, each process should print a different number using the",
        "multiprocessing module in python.",
    ]
    assert strip_prompt(lines, prompt) == ""


def test_answer_on_the_header_line_is_kept_and_labels_dropped():
    cells = [Cell(0, "markdown", "Q1: Processes run in parallel on many cores.\nAnswer: they are faster.")]
    result = attribute(notebook(cells), {"q1": "What is multiprocessing in python? Why is it useful?"})
    assert result.answers["q1"] == "Processes run in parallel on many cores.\nthey are faster."
