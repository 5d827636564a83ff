"""Attribution: the header styles, prompts and layouts of real students' notebooks."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.attribution.attribute import attribute, strip_prompt
from grader.attribution.markers import bare_number, header_question
from grader.attribution.model import Found, Origin
from grader.grading.pipeline import asked
from grader.load.submission import Cell, Submission, SubmissionKind

NUMBERS = {1: "q1", 2: "q2", 3: "q3", 5: "q5", 6: "q6"}


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
        ("Q.No-03", "q3"),
        ("Q.3 - Write", "q3"),
        ("Question no. 3", "q3"),
        ("QUESTION:-3. Write", "q3"),
        ("Que.3.Ans", "q3"),
        ("#Answer3", "q3"),
        ("Ans 3 :", "q3"),
        ("Answer = 3", "q3"),
        ("ANSWER NO :- 03", "q3"),
        ("A3.", "q3"),
        ("Problem 3", "q3"),
        ("Part 3", "q3"),
        ("<h3>Q3</h3>", "q3"),
        ("<b>Question 3:</b> Write", "q3"),
        ("Q7. A bonus question", None),  # a header, but not a question of the rubric
    ],
)
def test_header_styles(line, question):
    found = header_question(line, NUMBERS)
    assert found is not None and found[0] == question


@pytest.mark.parametrize("line", ["Quite a long answer", "In Q3 we saw", "Multiprocessing is useful", "x = 3",
                                  "Ans: 1. Execution model", "A 1 GB file", "Q3a is not a number"])
def test_not_headers(line):
    assert header_question(line, NUMBERS) is None


def test_bare_numbers():
    assert bare_number("6.") == (6, "")
    assert bare_number("**2)** Threads") == (2, "Threads")
    assert bare_number("1.5 GB is a size") is None


@pytest.fixture(scope="module")
def questions(rubric):
    return asked(rubric)


def notebook(*cells: tuple[str, str]) -> Submission:
    kinds = {"md": "markdown", "code": "code", "raw": "raw"}
    built = tuple(Cell(i, kinds[kind], source) for i, (kind, source) in enumerate(cells))
    return Submission("s", Path("s.ipynb"), SubmissionKind.NOTEBOOK, built, "")


def code_of(result, question: str) -> str:
    return "\n".join(p.source for p in result.pieces if p.question == question)


PROCESS = "import multiprocessing\nif __name__ == '__main__':\n    multiprocessing.Process(target=print).start()"
POOL = "from multiprocessing import Pool\nwith Pool(2) as p:\n    print(p.map(abs, [-1, -2]))"
FOUR = "import multiprocessing as mp\nfor i in range(4):\n    mp.Process(target=print, args=(i,)).start()"


def test_several_questions_in_one_markdown_cell_and_code_cells_follow(questions):
    result = attribute(notebook(
        ("md", "Q1. What is multiprocessing?\n\nRunning processes in parallel.\n\n"
               "Q2. What are the differences?\n\nThreads share memory."),
        ("md", "Q3. Write code"),
        ("code", "import multiprocessing"),
        ("code", "# Q5\nfrom multiprocessing import Pool"),
        ("code", "print('still q5')"),
    ), questions)
    assert result.cell_questions[2:] == ("q3", "q5", "q5")
    assert result.answers["q1"] == "Running processes in parallel."
    assert result.answers["q2"] == "Threads share memory."
    assert result.found["q1"] is Found.HEADER


def test_metadata_names_the_question_without_any_header(questions):
    cells = (Cell(0, "code", "print(1)", hint="q6"), Cell(1, "code", "print(2)"), Cell(2, "code", "print(3)", hint="q3"))
    result = attribute(Submission("s", Path("s.ipynb"), SubmissionKind.NOTEBOOK, cells, ""), questions)
    assert result.cell_questions == ("q6", "q6", "q3")
    assert result.found["q6"] is Found.METADATA


def test_nbgrader_and_otter_metadata_are_read(tmp_path):
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    from grader.load.submission import load

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
    assert strip_prompt(lines, [prompt]) == ""


def test_answer_on_the_header_line_is_kept_and_labels_dropped(questions):
    result = attribute(notebook(("md", "Q1: Processes run in parallel on many cores.\nAnswer: they are faster.")), questions)
    assert result.answers["q1"] == "Processes run in parallel on many cores.\nthey are faster."


def test_prompt_in_a_string_starts_the_question_and_the_answer_is_the_next_string(questions):
    result = attribute(notebook(
        ("code", "'''What is multiprocessing in Python, and why is it useful?'''"),
        ("code", "'''It runs separate processes on several cores at once.'''"),
        ("code", "'''What are the differences between multiprocessing and multi-threading?'''"),
        ("code", "'''Threads share one memory; processes each have their own.'''"),
    ), questions)
    assert result.found["q1"] is Found.PROMPT and result.found["q2"] is Found.PROMPT
    assert result.answers["q1"] == "It runs separate processes on several cores at once."
    assert "share one memory" in result.answers["q2"]
    assert not result.pieces  # strings are answers, not code to run


def test_a_restated_prompt_wins_over_a_number_that_disagrees(questions):
    result = attribute(notebook(
        ("md", "Q.4 How can we create a pool of worker processes in python using the multiprocessing module?"),
        ("code", POOL),
    ), questions)
    assert code_of(result, "q5") == POOL and result.found["q5"] is Found.PROMPT
    assert result.found["q4"] is Found.MISSING


def test_renumbered_headers_are_shifted_to_fit_the_shapes(questions):
    # Q4 was skipped, so the pool is under "Q4" and the four processes under "Q5"
    result = attribute(notebook(
        ("md", "Q1\nMultiprocessing runs many processes at once on several cores."),
        ("md", "Q2\nThreads share memory, processes do not."),
        ("md", "Q3"), ("code", PROCESS),
        ("md", "Q4"), ("code", POOL),
        ("md", "Q5"), ("code", FOUR),
    ), questions)
    assert code_of(result, "q5") == POOL and code_of(result, "q6") == FOUR
    assert result.found["q5"] is Found.SHAPE and result.found["q6"] is Found.SHAPE


def test_no_headers_at_all_answers_are_taken_in_order(questions):
    result = attribute(notebook(
        ("md", "# Multiprocessing assignment"),
        ("md", "Multiprocessing runs several processes in parallel, so CPU-bound work finishes sooner."),
        ("md", "A thread lives inside a process and shares its memory; processes are separate."),
        ("code", PROCESS),
        ("md", "A pool keeps worker processes ready and hands them tasks."),
        ("code", POOL),
        ("code", FOUR),
    ), questions)
    assert [result.found[q] for q in ("q1", "q2", "q3", "q4", "q5", "q6")] == [Found.ORDER] * 6
    assert "CPU-bound" in result.answers["q1"] and "shares its memory" in result.answers["q2"]
    assert code_of(result, "q3") == PROCESS and code_of(result, "q5") == POOL and code_of(result, "q6") == FOUR
    assert "Multiprocessing assignment" not in result.answers["q1"]


def test_the_questions_listed_at_the_top_do_not_mark_anything(questions):
    listing = "\n".join(f"Q{q.number}. {q.prompt}" for q in questions)
    result = attribute(notebook(
        ("md", listing),
        ("md", "1. Multiprocessing runs processes in parallel on many cores to speed things up.\n"
               "2. Threads share memory inside one process; processes have their own.\n"
               "3. See the code below."),
        ("code", PROCESS),
    ), questions)
    assert "speed things up" in result.answers["q1"]
    assert "share memory" in result.answers["q2"]
    assert code_of(result, "q3") == PROCESS


def test_numbered_steps_inside_an_answer_are_not_headers(questions):
    result = attribute(notebook(
        ("md", "Q5. How do we create a pool?"),
        ("md", "1. Import the module"), ("code", "import multiprocessing"),
        ("md", "2. Create the pool"), ("code", "pool = multiprocessing.Pool(2)"),
        ("md", "6. Print the results"), ("code", "print(pool.map(abs, [-1]))"),
    ), questions)
    assert result.cell_questions[-1] == "q5"
    assert result.found["q6"] is Found.MISSING


def test_prose_typed_into_a_code_cell_is_an_answer_not_broken_code(questions):
    result = attribute(notebook(
        ("code", "Q1. What is multiprocessing in python? Why is it useful?\n"
                 "Ans. It runs several processes at the same time on different cores, which is faster."),
        ("code", "Q3. Write a python code to create a process\n" + PROCESS),
    ), questions)
    assert "different cores" in result.answers["q1"]
    assert [p.question for p in result.pieces] == ["q3"]
    assert "import multiprocessing" in code_of(result, "q3") and "Write a python" not in code_of(result, "q3")
    assert any("mixes sentences" in note for note in result.notes["q3"])


def test_code_only_in_a_raw_cell_a_fence_or_a_string_is_run_with_a_note(questions):
    result = attribute(notebook(
        ("md", "Q3."), ("raw", PROCESS),
        ("md", "Q5.\n```python\n" + POOL + "\n```"),
        ("md", "Q6."), ("code", '"""\n' + FOUR + '\n"""'),
    ), questions)
    origins = {p.question: p.origin for p in result.pieces}
    assert origins == {"q3": Origin.RAW, "q5": Origin.MARKDOWN, "q6": Origin.STRING}
    assert code_of(result, "q5") == POOL
    assert all(any("was run as the answer" in note for note in result.notes[q]) for q in ("q3", "q5", "q6"))


def test_four_processes_written_under_the_pool_question_go_to_q6(questions):
    result = attribute(notebook(
        ("md", "Q5. How can we create a pool of worker processes?"), ("code", POOL), ("code", FOUR),
    ), questions)
    assert code_of(result, "q5") == POOL and code_of(result, "q6") == FOUR
    assert result.found["q6"] is Found.SHAPE


def test_a_wrong_answer_stays_with_its_own_question(questions):
    result = attribute(notebook(
        ("md", "Q5."), ("md", "Use multiprocessing.Pool."),
        ("md", "Q6."), ("code", POOL),  # a pool where four processes were asked for: Q6's, however wrong
    ), questions)
    assert code_of(result, "q6") == POOL and code_of(result, "q5") == ""


def test_numbers_past_the_last_question_are_list_items(questions):
    result = attribute(notebook(
        ("md", "Q6. Four processes"), ("code", FOUR), ("md", "7."), ("md", "7. Extra notes"), ("md", "8) more"),
    ), questions)
    assert result.cell_questions[-1] == "q6"


def test_code_fused_to_its_answer_label_still_runs(questions):
    result = attribute(notebook(
        ("code", "Q3. Write a python code to create a process?\nAns3.import multiprocessing\n"
                 "if __name__ == '__main__':\n    multiprocessing.Process(target=print).start()"),
    ), questions)
    assert result.found["q3"] is Found.HEADER
    assert code_of(result, "q3").splitlines()[1] == "import multiprocessing"


def test_a_header_alone_on_a_line_of_code_is_not_run(questions):
    result = attribute(notebook(("code", "Q3\n" + PROCESS)), questions)
    assert result.found["q3"] is Found.HEADER
    assert code_of(result, "q3").splitlines()[0] == "" and "multiprocessing.Process" in code_of(result, "q3")


def test_a_question_the_rubric_does_not_ask_keeps_its_content(questions):
    result = attribute(notebook(("md", "Q6."), ("code", FOUR), ("md", "Q7. A bonus"), ("code", POOL)), questions)
    assert code_of(result, "q6") == FOUR and result.cell_questions[-1] is None


def test_pasting_the_other_questions_prompts_earns_nothing_either(questions):
    filler = "This sentence is only here to push the pasted questions out of the window of the matcher."
    pasted = " ".join(q.prompt.lower() for q in questions if q.id != "q1")
    result = attribute(notebook(("md", "Q1."), ("md", f"{filler} {pasted}"), ("md", "Q2."), ("md", "Q3.")), questions)
    assert result.answers["q1"] == filler


def test_code_under_a_text_question_is_not_pulled_back_into_the_question_before(questions):
    result = attribute(notebook(
        ("md", "1. What is multiprocessing in python? Why is it useful?"), ("md", "It runs processes in parallel on cores."),
        ("md", "3. Write a python code to create a process"), ("code", POOL),
        ("md", "4. What is a multiprocessing pool in python? Why is it used?"), ("code", PROCESS),
        ("md", "5. How can we create a pool of worker processes?"), ("code", POOL),
        ("md", "6. Write a python program to create 4 processes"), ("code", FOUR),
    ), questions)
    assert code_of(result, "q3") == POOL and code_of(result, "q4") == PROCESS
