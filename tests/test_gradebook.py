"""The gradebook keeps the instructor's marks through re-grades, and every export shows them;
the Canvas round trip (resubmissions, lateness, the roster's own columns, a zip download)."""

from __future__ import annotations

import csv
import json
import zipfile
from pathlib import Path

import pytest

from grader.cli import main
from grader.common.text import report_name
from grader.gradebook.store import Gradebook, finalize, key
from grader.load.archive import ArchiveError, unpack
from tests.helpers import EXAMPLES

MODEL = (EXAMPLES / "model_solution.ipynb").read_bytes()
MADE_UP = (EXAMPLES / "made_up_pid.ipynb").read_bytes()


def _rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def _grade(*argv: str) -> None:
    assert main(["grade", *argv, "--timeout", "5"]) == 0


def _exports(out: Path, student: str) -> dict[str, str]:
    name = report_name(student)
    return {
        "grades.csv": (out / "grades.csv").read_text(),
        "results.json": (out / "results.json").read_text(),
        "gradescope": (out / "gradescope" / f"{name}.json").read_text(),
        "md": (out / "feedback" / f"{name}.md").read_text(),
        "html": (out / "feedback" / f"{name}.html").read_text(),
        "summary": (out / "summary.html").read_text(),
    }


def test_overrides_survive_regrading_and_reach_every_export(tmp_path):
    class_dir = tmp_path / "class"
    class_dir.mkdir()
    (class_dir / "ann.ipynb").write_bytes(MADE_UP)
    (class_dir / "bob.ipynb").write_bytes(MODEL)
    out = tmp_path / "out"
    _grade(str(class_dir), "--out", str(out))
    book = Gradebook(out / "gradebook.sqlite")
    book.set_override("ann", "q3", points=20, comment="The PID you printed was a typo; full marks.", author="prof",
                      reason="checked the run by hand")
    book.set_override("bob", "q5", check="the pool's workers compute the results", points=0, author="prof")
    _grade(str(class_dir), "--out", str(out), "--force")  # a re-grade from scratch

    grades = {row[0]: row for row in _rows(out / "grades.csv")}
    header = _rows(out / "grades.csv")[0]
    assert grades["ann"][header.index("q3")] == "20" and grades["ann"][header.index("total")] == "100"
    bob_q5 = float(grades["bob"][header.index("q5")])
    assert bob_q5 < 20 and grades["bob"][header.index("overridden")].startswith("Q5: the pool")
    ann = _exports(out, "ann")
    assert "The PID you printed was a typo" in ann["md"] and "The PID you printed was a typo" in ann["html"]
    assert "the grader gave 16" in ann["md"]
    assert not any("checked the run by hand" in ann[k] for k in ("md", "html", "gradescope"))  # instructors only
    assert json.loads(ann["gradescope"])["score"] == 100
    assert "typo" in json.loads(ann["gradescope"])["output"]
    submissions = {s["student"]: s for s in json.loads(ann["results.json"])["submissions"]}
    assert submissions["ann"]["score"] == 100 and submissions["ann"]["auto_score"] == 96
    assert "(grader: 96)" in ann["summary"]
    assert [o["stale"] for q in submissions["ann"]["questions"] for o in q["overrides"]] == [False]

    (class_dir / "ann.ipynb").write_bytes(MODEL)  # the student's file changes: the override is stale
    _grade(str(class_dir), "--out", str(out))
    submissions = {s["student"]: s for s in json.loads((out / "results.json").read_text())["submissions"]}
    assert [o["stale"] for q in submissions["ann"]["questions"] for o in q["overrides"]] == [True]
    assert "stale" in (out / "summary.html").read_text()
    book.clear_override("ann", "q3")
    assert [active for _, active in book.history("ann")] == [False]  # cleared, still in the history


def test_check_and_question_overrides_are_clamped_and_comment_only_keeps_points(tmp_path):
    out = tmp_path / "out"
    _grade(str(EXAMPLES / "made_up_pid.ipynb"), "--out", str(out))
    book = Gradebook(out / "gradebook.sqlite")
    [result] = book.results(["made_up_pid"])
    book.set_override("made_up_pid", "q3", check="printed PIDs are real", points=99)
    book.set_override("made_up_pid", "q1", comment="Nice answer.")
    final = finalize(result, book.overrides()["made_up_pid"])
    q3 = next(q for q in final.questions if q.id == "q3")
    assert next(c for c in q3.checks if c.name == "printed PIDs are real").score == 4  # its maximum
    assert q3.score == 20 and final.score == 100
    q1 = next(q for q in final.questions if q.id == "q1")
    assert q1.auto_score is None and q1.overrides[0].comment == "Nice answer."


def _canvas_class(tmp_path: Path) -> Path:
    downloads = tmp_path / "submissions"
    downloads.mkdir()
    (downloads / "smithjane_1001_5001_assignment.ipynb").write_bytes(MADE_UP)
    (downloads / "smithjane_1001_5009_assignment-1.ipynb").write_bytes(MODEL)  # handed in again
    (downloads / "doejohn_LATE_1002_5002_hw.ipynb").write_bytes(MODEL)
    return downloads


def test_canvas_latest_submission_lateness_roster_columns_and_absent_students(tmp_path):
    downloads = _canvas_class(tmp_path)
    roster = tmp_path / "roster.csv"
    roster.write_text("Student,ID,SIS User ID,SIS Login ID,Section,Multiprocessing Assignment (4242)\n"
                      "Points Possible,,,,,100\nJane Smith,1001,S1,jsmith,A,\nJohn Doe,1002,S2,jdoe,A,\n"
                      "Amy Absent,1003,S3,aabsent,B,\n")
    rubric = tmp_path / "rubric.yaml"
    rubric.write_text((Path(__file__).parents[1] / "rubrics" / "multiprocessing.yaml").read_text()
                      + "\nlate_penalty: 0.1\n")
    out = tmp_path / "out"
    _grade(str(downloads), "--out", str(out), "--canvas-roster", str(roster), "--rubric", str(rubric))
    rows = _rows(out / "canvas.csv")
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Multiprocessing Assignment (4242)"]
    assert rows[1] == ["Points Possible", "", "", "", "", "100"]
    assert rows[2:] == [["Jane Smith", "1001", "S1", "jsmith", "A", "100"],  # the resubmission, not 96
                        ["John Doe", "1002", "S2", "jdoe", "A", "90"],  # late: 10% of 100 off
                        ["Amy Absent", "1003", "S3", "aabsent", "B", ""]]
    document = json.loads((out / "results.json").read_text())
    assert [s["student"] for s in document["submissions"]] == ["doejohn", "smithjane"]  # one row each
    late = {s["student"]: (s["late"], s["penalty"]) for s in document["submissions"]}
    assert late == {"doejohn": (True, 10), "smithjane": (False, 0)}
    [older] = [s for s in document["skipped"] if "smithjane_1001_5001" in s["path"]]
    assert "older submission of smithjane" in older["reason"] and "5009" in older["reason"]
    summary = (out / "summary.html").read_text()
    assert f'href="feedback/{report_name("doejohn")}.html"' in summary and "late (−10)" in summary
    assert "Amy Absent" in summary and "no submission" in summary

    _grade(str(downloads), "--out", str(out), "--canvas-roster", str(roster), "--missing", "zero")
    assert _rows(out / "canvas.csv")[4] == ["Amy Absent", "1003", "S3", "aabsent", "B", "0"]


def test_canvas_zip_is_graded_directly(tmp_path):
    downloads = _canvas_class(tmp_path)
    archive = tmp_path / "submissions.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for file in sorted(downloads.iterdir()):
            bundle.write(file, file.name)
    out = tmp_path / "out"
    _grade(str(archive), "--out", str(out))
    students = [s["student"] for s in json.loads((out / "results.json").read_text())["submissions"]]
    assert students == ["doejohn", "smithjane"]
    _grade(str(archive), "--out", str(out))  # unpacked once: the same paths, so the cache answers
    assert len(list((out / "unpacked").iterdir())) == 1


@pytest.mark.parametrize("member", ["../escape.ipynb", "/abs.ipynb", "a/../../b.ipynb"])
def test_zip_members_cannot_leave_the_class_directory(tmp_path, member):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("ok_1_2_x.ipynb", MODEL)
        bundle.writestr(member, b"{}")
    with pytest.raises(ArchiveError, match="outside the class directory"):
        unpack(archive, tmp_path / "into")
    assert not (tmp_path / "escape.ipynb").exists() and [p.name for p in (tmp_path / "into").iterdir()] == []


def test_zip_bomb_is_refused_by_its_real_size(tmp_path, monkeypatch):
    import grader.load.archive

    monkeypatch.setattr(grader.load.archive, "MAX_MEMBER", 1 << 20)
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("bomb_1_2_x.ipynb", b"0" * (3 << 20))
    with pytest.raises(ArchiveError, match="unpacks to more than 1 MiB"):
        unpack(archive, tmp_path / "into")


def test_not_a_zip_is_one_clear_line(tmp_path, capsys):
    archive = tmp_path / "broken.zip"
    archive.write_bytes(b"PK not really")
    assert main(["grade", str(archive), "--out", str(tmp_path / "out")]) == 2
    assert "broken.zip: not a usable zip archive" in capsys.readouterr().err


def test_an_override_follows_the_canvas_user_not_a_name_another_file_can_take(tmp_path):
    class_dir = tmp_path / "class"
    class_dir.mkdir()
    (class_dir / "bob_1001_5001_hw.ipynb").write_bytes(MADE_UP)
    out = tmp_path / "out"
    _grade(str(class_dir), "--out", str(out))
    book = Gradebook(out / "gradebook.sqlite")
    [result] = book.results(list(book.get("students")))
    assert key(result) == "canvas:1001" and result.student == "bob"
    book.set_override(key(result), "q3", points=20)
    (class_dir / "bob.ipynb").write_bytes(MADE_UP)  # another file, sorted first, takes the name "bob"
    _grade(str(class_dir), "--out", str(out))
    rows = {Path(s["path"]).name: s for s in json.loads((out / "results.json").read_text())["submissions"]}
    assert rows["bob.ipynb"]["student"] == "bob" and rows["bob.ipynb"]["score"] == 96  # no override of its own
    assert rows["bob_1001_5001_hw.ipynb"]["score"] == 100  # the override stayed with Canvas user 1001


def test_review_without_a_gradebook_is_one_clear_line(tmp_path, capsys):
    assert main(["review", str(tmp_path / "nothing")]) == 2
    assert "gradebook.sqlite: no gradebook; grade first" in capsys.readouterr().err


def test_the_assignment_id_picks_the_roster_column_or_says_it_adds_one(tmp_path, capsys):
    roster = tmp_path / "roster.csv"
    roster.write_text("Student,ID,SIS User ID,Section,Homework 1 (11),Multiprocessing Assignment (123)\n"
                      "Jane Smith,1001,S1,A,,\n")
    out = tmp_path / "out"
    model = str(EXAMPLES / "model_solution.ipynb")
    _grade(model, "--out", str(out), "--canvas-roster", str(roster), "--canvas-assignment-id", "11")
    assert _rows(out / "canvas.csv")[0][-1] == "Homework 1 (11)"  # the ID wins over the name
    _grade(model, "--out", str(out), "--canvas-roster", str(roster), "--canvas-assignment-id", "999")
    assert "has no column for assignment 999" in capsys.readouterr().err
    assert _rows(out / "canvas.csv")[0][-1] == "Multiprocessing Assignment (999)"
    assert main(["grade", model, "--out", str(out), "--canvas-assignment-id", "5"]) == 2
    assert "--canvas-assignment-id needs --canvas-roster" in capsys.readouterr().err
