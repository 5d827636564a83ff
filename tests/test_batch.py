"""A class at a time: cached results, late submissions, --force, and Ctrl-C mid-batch."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader.cli import main
from tests.helpers import EXAMPLES, ROOT, leftovers, write_notebook

SLOW = "import time\ntime.sleep(1.5)\nprint('Results:', [1, 4, 9, 16, 25])"


def copy_examples(directory: Path, names: list[str]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name in names:
        (directory / name).write_bytes((EXAMPLES / name).read_bytes())


def summary(capsys) -> str:
    return capsys.readouterr().out.strip().splitlines()[-1]


def test_rerun_grades_only_new_submissions_and_force_grades_all(tmp_path, capsys):
    class_dir, out = tmp_path / "class", tmp_path / "out"
    copy_examples(class_dir, ["model_solution.ipynb", "made_up_pid.ipynb", "squares_in_parent.ipynb"])
    assert main(["grade", str(class_dir), "--out", str(out), "--jobs", "2"]) == 0
    assert summary(capsys).startswith("3 graded, 0 from the cache")
    first = json.loads((out / "results.json").read_text())

    copy_examples(class_dir, ["threads_instead_of_processes.ipynb", "same_number_four_times.ipynb",
                              "functions_with_main_block.py"])  # three late submissions
    assert main(["grade", str(class_dir), "--out", str(out), "--jobs", "2"]) == 0
    assert summary(capsys).startswith("3 graded, 3 from the cache")  # only the new ones ran
    second = json.loads((out / "results.json").read_text())
    assert len(second["submissions"]) == 6
    old = {e["student"]: e["score"] for e in first["submissions"]}
    assert {e["student"]: e["score"] for e in second["submissions"] if e["student"] in old} == old

    (class_dir / "model_solution.ipynb").write_bytes((EXAMPLES / "empty_notebook.ipynb").read_bytes())
    assert main(["grade", str(class_dir), "--out", str(out)]) == 0
    assert summary(capsys).startswith("1 graded, 5 from the cache")  # changed content, graded again
    assert main(["grade", str(class_dir), "--out", str(out), "--force"]) == 0
    assert summary(capsys).startswith("6 graded, 0 from the cache")


@pytest.mark.slow
def test_ctrl_c_mid_batch_keeps_finished_results(tmp_path):
    class_dir, out = tmp_path / "class", tmp_path / "out"
    class_dir.mkdir()
    for number in range(8):
        write_notebook(class_dir / f"s{number}.ipynb", [("md", "Q5."), ("code", SLOW)])
    command = [sys.executable, "-m", "grader", "grade", str(class_dir), "--out", str(out), "--jobs", "2"]
    process = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    lines = []
    while len(lines) < 2:  # two results in: interrupt the rest
        line = process.stderr.readline()
        assert line, "the grader ended before any result"
        lines.append(line)
    os.kill(process.pid, signal.SIGINT)
    _, err = process.communicate(timeout=60)  # a bound, not a measure: the runs in progress are stopped
    assert process.returncode == 130
    assert "interrupted" in err
    kept = json.loads((out / "results.json").read_text())["submissions"]
    assert 2 <= len(kept) < 8
    assert all(entry["status"] == "graded" and entry["score"] > 0 for entry in kept)
    time.sleep(0.3)
    assert leftovers() == []
    rerun = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0
    assert f"{8 - len(kept)} graded, {len(kept)} from the cache" in rerun.stdout
