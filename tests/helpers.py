"""The tests' shared helpers: build small notebooks and scripts, grade them with the shipped
rubric, build a wheel, run Gradescope's entry point, find what a run left behind.

Every run of student code in these tests is bounded by a short per-question timeout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from grader.grading.pipeline import grade
from grader.grading.results import SubmissionResult
from grader.grading.rubric import Rubric
from grader.run.engine import EngineKind
from grader.run.limits import Limits

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "submissions_example"

FULL = {"q1": 10, "q2": 10, "q3": 20, "q4": 10, "q5": 25, "q6": 25}  # the shipped rubric's points


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


def grade_path(path: Path, rubric: Rubric, timeout: float = 5, engine: EngineKind = EngineKind.SHELL, **limits) -> SubmissionResult:
    return grade(path.stem, path, rubric, Limits(timeout=timeout, **limits), engine=engine)





def named(marker: str) -> list[int]:
    """Live (non-zombie) processes whose name is `marker`, seen from the host."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as handle:
                stat = handle.read()
        except OSError:
            continue
        name, state = stat[stat.find("(") + 1 : stat.rfind(")")], stat[stat.rfind(")") + 2]
        if name == marker and state != "Z":
            found.append(int(entry))
    return found


class Watch(threading.Thread):
    """Polls for processes named `marker` while a grading runs: proof that they existed."""

    def __init__(self, marker: str) -> None:
        super().__init__(daemon=True)
        self.marker, self.seen, self.running = marker, set(), True

    def run(self) -> None:
        while self.running:
            self.seen.update(named(self.marker))
            time.sleep(0.05)

    def stop(self) -> None:
        self.running = False
        self.join()


def leftovers() -> list[int]:
    """Processes of any grading run still alive: started with the probe's environment, or
    (forked runs never exec) working in a run's directory."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                environ = handle.read()
            with open(f"/proc/{entry}/stat") as handle:
                zombie = handle.read().rsplit(")", 1)[1].split()[0] == "Z"
            cwd = os.readlink(f"/proc/{entry}/cwd")
        except OSError:
            continue
        if (b"GRADER_PROBE_SOCKET=" in environ or "/grader-run-" in cwd) and not zombie:
            found.append(int(entry))
    return found

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
    "q5_steps_in_words": {**FULL, "q5": 3},  # numbered steps in words that name multiprocessing.Pool, no code
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

def build_wheel(tmp_path: Path) -> Path:
    """A wheel of a copy of the source (the work tree gets no build/ or egg-info), offline."""
    source = tmp_path / "source"
    source.mkdir()
    for name in ("grader", "rubrics"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    dist = tmp_path / "dist"
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                            "--quiet", "-w", str(dist), str(source)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    [wheel] = dist.glob("grader-*.whl")
    return wheel


def run_autograder(tmp_path: Path, grader_script: str | None, submission_text: str = "{not json",
                   args: tuple[str, ...] = (), path: str = "/usr/bin:/bin") -> tuple[subprocess.CompletedProcess, Path]:
    """`path`: the PATH run_autograder sees (by default, one without a grader)."""
    source, submission, results = tmp_path / "source", tmp_path / "submission", tmp_path / "results"
    (source / ".venv" / "bin").mkdir(parents=True)
    submission.mkdir()
    (submission / "hw.ipynb").write_text(submission_text)
    if grader_script is not None:
        grader = source / ".venv" / "bin" / "grader"
        grader.write_text(grader_script)
        grader.chmod(0o755)
    results.mkdir()
    (results / "results.json").write_text('{"score": 100, "stale": true}')  # an earlier run's
    environment = {**os.environ, "GRADER_SOURCE_DIR": str(source), "GRADER_SUBMISSION_DIR": str(submission),
                   "GRADER_RESULTS_DIR": str(results), "PATH": path}
    ran = subprocess.run(["bash", str(ROOT / "gradescope" / "run_autograder"), *args], capture_output=True,
                         text=True, env=environment, timeout=300)
    return ran, results / "results.json"


REAL_GRADER = f"#!/bin/sh\ncd {ROOT} && exec {sys.executable} -m grader \"$@\"\n"
