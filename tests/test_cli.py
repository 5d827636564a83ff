"""The command line: files it writes, what it prints, exit codes, hidden checks withheld."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

from grader.cli import main
from grader.common.text import report_name
from tests.helpers import EXAMPLES, ROOT

PICK = ["model_solution.ipynb", "made_up_pid.ipynb", "invalid_file.ipynb"]


def test_grade_writes_results_csv_and_feedback(tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["grade", *[str(EXAMPLES / name) for name in PICK], "--out", str(out), "--timeout", "5"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "model_solution" in printed and "100/100" in printed and "error" in printed

    document = json.loads((out / "results.json").read_text())
    entries = {entry["student"]: entry for entry in document["submissions"]}
    assert set(entries) == {"model_solution", "made_up_pid", "invalid_file"}
    model = entries["model_solution"]
    assert {"student", "path", "status", "score", "max_score", "error", "questions"} <= set(model)
    assert model["status"] == "graded" and model["score"] == 100 and model["max_score"] == 100
    question = model["questions"][2]
    assert {"id", "score", "max_score", "checks"} <= set(question)
    assert {"name", "passed", "score", "max_score", "feedback"} <= set(question["checks"][0])
    assert entries["invalid_file"]["status"] == "error"

    with (out / "grades.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["student", "q1", "q2", "q3", "q4", "q5", "q6", "total", "max", "status", "review", "late", "penalty", "overridden"]
    by_student = {row["student"]: row for row in rows}
    assert by_student["made_up_pid"]["q3"] == "16" and by_student["made_up_pid"]["total"] == "96"
    assert by_student["invalid_file"]["status"] == "error" and by_student["invalid_file"]["q1"] == ""

    feedback = (out / "feedback" / f"{report_name('made_up_pid')}.md").read_text()
    assert "## Q3: 16 / 20" in feedback
    assert "printed PIDs are real (0/4) (hidden check)" in feedback
    observed = [line for line in feedback.splitlines() if line.lstrip().startswith("- Observed")]
    assert not any("12345" in line for line in observed)  # the hidden check's observation is withheld
    assert 'print("Worker process ID:", 12345)' in feedback  # the code credited to Q3 is shown
    assert "Observed: observed 1 child process" in feedback
    assert "not valid JSON" in (out / "feedback" / f"{report_name('invalid_file')}.md").read_text()


def test_check_exit_codes(tmp_path, capsys):
    assert main(["check", str(EXAMPLES / "model_solution.ipynb")]) == 0
    assert "Score: 100 / 100" in capsys.readouterr().out
    assert main(["check", str(EXAMPLES / "squares_in_parent.ipynb"), "--timeout", "5"]) == 1
    report = capsys.readouterr().out
    assert "## Q5: 8 / 25" in report and "[FAIL] the pool's workers compute the results" in report


def test_unusable_arguments_exit_2(tmp_path, capsys):
    assert main(["grade", str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 2
    assert "missing: no such file or directory" in capsys.readouterr().err
    assert main(["check", str(tmp_path / "missing.ipynb")]) == 2
    (tmp_path / "empty").mkdir()
    assert main(["grade", str(tmp_path / "empty"), "--out", str(tmp_path / "o")]) == 2


def test_installed_command_runs(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "grader", "check", str(EXAMPLES / "model_solution_percent.py")],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "Score: 100 / 100" in result.stdout
