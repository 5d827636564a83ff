"""Exports instructors import: Gradescope's results.json, a Canvas gradebook, and HTML pages."""

from __future__ import annotations

import csv
import json
import re

import pytest

from grader.cli import main
from grader.common.text import report_name
from grader.reports import gradescope, html
from tests.helpers import EXAMPLES, grade_path


@pytest.fixture(scope="module")
def made_up_pid(rubric):
    return grade_path(EXAMPLES / "made_up_pid.ipynb", rubric)


def test_gradescope_results_format(made_up_pid):
    document = gradescope.build(made_up_pid)
    assert {"score", "execution_time", "output", "stdout_visibility", "tests"} <= set(document)
    assert document["score"] == 96
    tests = {t["name"]: t for t in document["tests"]}
    hidden = tests["Q3: printed PIDs are real"]
    assert hidden == {**hidden, "score": 0, "max_score": 4, "status": "failed", "visibility": "after_published"}
    assert "12345" not in hidden["output"]  # what was observed stays hidden
    visible = tests["Q3: a child process really ran"]
    assert visible["visibility"] == "visible" and visible["status"] == "passed" and "Observed:" in visible["output"]
    assert sum(t["max_score"] for t in document["tests"]) == 100


def test_gradescope_command_grades_the_submission_directory(tmp_path):
    submission = tmp_path / "submission"
    submission.mkdir()
    (submission / "whatever_name.ipynb").write_bytes((EXAMPLES / "squares_in_parent.ipynb").read_bytes())
    results = tmp_path / "results" / "results.json"
    assert main(["gradescope", str(submission), "--results", str(results)]) == 0
    document = json.loads(results.read_text())
    assert document["score"] == 83 and len(document["tests"]) == 14
    (submission / "whatever_name.ipynb").write_text("not a notebook")
    assert main(["gradescope", str(submission), "--results", str(results)]) == 0
    broken = json.loads(results.read_text())
    assert broken["score"] == 0 and broken["tests"] == [] and "not valid JSON" in broken["output"]


def test_canvas_gradebook_joins_the_roster_and_lists_strangers(tmp_path, capsys):
    downloads = tmp_path / "submissions"
    downloads.mkdir()
    model = (EXAMPLES / "model_solution.ipynb").read_bytes()
    (downloads / "smithjane_1001_5001_assignment.ipynb").write_bytes(model)
    (downloads / "doejohn_LATE_1002_5002_hw.ipynb").write_bytes((EXAMPLES / "made_up_pid.ipynb").read_bytes())
    (downloads / "strangerdanger_9999_5003_x.ipynb").write_bytes(model)
    roster = tmp_path / "roster.csv"
    roster.write_text("Student,ID,SIS User ID,Section\nPoints Possible,,,\nJane Smith,1001,S1,A\n"
                      "John Doe,1002,S2,A\nAmy Absent,1003,S3,B\n")
    out = tmp_path / "out"
    assert main(["grade", str(downloads), "--out", str(out), "--canvas-roster", str(roster),
                 "--canvas-assignment-id", "777"]) == 0
    assert "strangerdanger" in capsys.readouterr().err
    with (out / "canvas.csv").open() as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["Student", "ID", "SIS User ID", "Section", "Multiprocessing Assignment (777)"]
    assert rows[1] == ["Points Possible", "", "", "", "100"]
    assert rows[2:] == [["Jane Smith", "1001", "S1", "A", "100"], ["John Doe", "1002", "S2", "A", "96"],
                        ["Amy Absent", "1003", "S3", "B", ""]]
    assert "strangerdanger" in (out / "canvas-unmatched.txt").read_text()
    results = json.loads((out / "results.json").read_text())["submissions"]
    assert {r["student"] for r in results} == {"smithjane", "doejohn", "strangerdanger"}  # none dropped


def test_bad_roster_exits_2(tmp_path, capsys):
    roster = tmp_path / "roster.csv"
    roster.write_text("Name,Email\nJane,j@x\n")
    assert main(["grade", str(EXAMPLES / "model_solution.ipynb"), "--out", str(tmp_path / "o"),
                 "--canvas-roster", str(roster)]) == 2
    assert "roster.csv: the roster has no column Student, ID" in capsys.readouterr().err


def test_html_pages_are_self_contained_and_draw_the_process_tree(tmp_path, rubric, made_up_pid):
    dana = grade_path(EXAMPLES / "dana" / "assignment.ipynb", rubric)
    page = html.feedback(dana, rubric.assignment)
    assert not re.search(r"""(src|href)=["']?https?:""", page) and "<script" not in page
    q6 = next(q for q in dana.questions if q.id == "q6")
    assert len(q6.processes) >= 5  # the main process and the four it started
    for process in q6.processes:
        assert f"PID {process.pid}" in page
    assert "my number is 30" in page and "returned" in page  # a child's output; a pool's results
    hidden_page = html.feedback(made_up_pid, rubric.assignment)
    detail = next(c.detail for q in made_up_pid.questions for c in q.checks if c.hidden)
    assert "printed PIDs are real" in hidden_page and detail not in hidden_page  # observation withheld
    summary = html.summary([dana, made_up_pid], rubric)
    assert "Most common failures" in summary and "made_up_pid" in summary and "<svg" in summary


def test_review_flags_and_what_was_read_reach_every_report(tmp_path):
    class_dir, out = tmp_path / "class", tmp_path / "out"
    class_dir.mkdir()
    for name in ("renumbered.ipynb", "model_solution.ipynb"):
        (class_dir / name).write_bytes((EXAMPLES / name).read_bytes())
    assert main(["grade", str(class_dir), "--out", str(out), "--timeout", "5"]) == 0
    with (out / "grades.csv").open() as handle:
        rows = {row["student"]: row for row in csv.DictReader(handle)}
    assert "q5: found by shape" in rows["renumbered"]["review"] and rows["model_solution"]["review"] == ""
    entry = next(e for e in json.loads((out / "results.json").read_text())["submissions"] if e["student"] == "renumbered")
    assert {flag["question"] for flag in entry["review"]} == {"q5", "q6"}
    q5 = next(q for q in entry["questions"] if q["id"] == "q5")
    assert q5["found"] == "shape" and "pool.map" in q5["code"]
    summary = (out / "summary.html").read_text()
    assert "To review" in summary and "renumbered" in summary.split("To review", 1)[1]
    page = (out / "feedback" / f"{report_name('renumbered')}.html").read_text()
    assert "Marks that rest on a guess" in page and "found by shape" in page
    markdown = (out / "feedback" / f"{report_name('model_solution')}.md").read_text()
    assert "What was read as your answer:" in markdown and "The code credited to this question:" in markdown
