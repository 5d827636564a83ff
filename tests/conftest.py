"""Shared helpers: build small notebooks and scripts, grade them with the shipped rubric.

Every run of student code in these tests is bounded by a short per-question timeout.
"""

from __future__ import annotations

import os
import threading
import time
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


def grade_path(path: Path, rubric: Rubric, timeout: float = 5, engine: str = "shell", **limits) -> SubmissionResult:
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
