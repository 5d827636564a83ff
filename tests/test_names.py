"""Family 5 and 8 of issue 8: a student's file name is hostile input, and the grader must ship
and always answer.

The attacks are real files in a temporary class directory, graded through the real command
(a subprocess, so the bytes the terminal would get are the bytes checked): a Latin-1 byte in
a name, 252 characters, `a b` beside `a_b`, `=HYPERLINK(...)`, escape sequences and newlines,
names starting with `_`, entries that are not submissions. Then packaging: the rubric inside
a wheel, `run_autograder` writing a results.json whatever happens, nbformat v3 notebooks.
Every run of student code is bounded by a short --timeout.
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

from grader.common import text
from grader.common.text import csv_cell, readable, report_name, terminal
from grader.grading.pipeline import grade
from grader.grading.rubric import DEFAULT_RUBRIC, load_rubric
from grader.load.discover import find_submissions
from grader.load.submission import load
from grader.run.limits import Limits
from tests.helpers import REAL_GRADER, ROOT, build_wheel, grade_path, run_autograder, write_notebook

# What a student's notebook holds: a question and a tiny bit of code. The names are the attack.
CELLS = [("md", "## Q3. Write a python code to create a process."), ("code", "print('hello')")]
LONG = b"x" * 246  # with ".ipynb", 252 bytes: the longest name most disks allow, less a few
HOSTILE = {  # raw file name (bytes) -> the student name the reports must show
    b"Jos\xe9.ipynb": "Jos\\xe9",  # Latin-1: not UTF-8
    b"a b.ipynb": "a b",
    b"a_b.ipynb": "a_b",
    LONG + b".ipynb": LONG.decode(),
    b"_underscore.ipynb": "_underscore",  # names starting with "_" are students too
    b'=HYPERLINK(""http:evil"";""click"").ipynb': '=HYPERLINK(""http:evil"";""click"")',
    b"+1+cmd.ipynb": "+1+cmd",
    b"-2+3.ipynb": "-2+3",
    b"@SUM(A1).ipynb": "@SUM(A1)",
    b"\tTab.ipynb": "\\x09Tab",
    b"\x1b[2J\x1b]52;c;ZXZpbA==\x07clip\nmodel 100 100 100.ipynb": "\\x1b[2J\\x1b]52;c;ZXZpbA==\\x07clip\\x0amodel 100 100 100",
    b"\xc2\x9b31mC1\x7fdel\xe2\x80\xaeRLO.ipynb": "\\x9b31mC1\\x7fdel\\u202eRLO",
}
FORMULA = ("=", "+", "-", "@", "\t", "\r")
SAFE_NAME = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
# What a terminal must never get: C0 but the newline, DEL, C1 (ESC, CSI, OSC...), and the
# bidi and line-separator characters that move or reorder what is shown.
CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def make_class(directory: Path, names) -> None:  # type: ignore[no-untyped-def]
    directory.mkdir(parents=True, exist_ok=True)
    model = write_notebook(directory / "model.tmp", CELLS).read_bytes()
    (directory / "model.tmp").unlink()
    for name in names:
        with open(os.path.join(os.fsencode(directory), name), "wb") as handle:
            handle.write(model)


def run_cli(*args: str, timeout: float = 400) -> subprocess.CompletedProcess:
    """The real command, its output as bytes: what a terminal would receive."""
    return subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True,
                          cwd=ROOT, timeout=timeout)


def assert_terminal_safe(output: bytes) -> str:
    shown = output.decode("utf-8")  # strict: no stray byte of a student's name
    assert not CONTROL.search(shown), repr(CONTROL.search(shown))
    return shown


def strict_json(path: Path):  # type: ignore[no-untyped-def]
    raw = path.read_text(encoding="utf-8")
    assert not re.search(r"\\ud[89a-f][0-9a-f]{2}", raw, re.IGNORECASE), "a lone surrogate reached JSON"
    return json.loads(raw)


def test_hostile_file_names_are_graded_and_every_report_holds(tmp_path):
    class_dir, out = tmp_path / "class", tmp_path / "out"
    make_class(class_dir, HOSTILE)
    roster = tmp_path / "roster.csv"
    roster.write_text("Student,ID,SIS User ID,Section\n=cmd|' /C calc'!A0,7,-1+1,@sec\nJos\\xe9,8,,\n",
                      encoding="utf-8")
    args = ["grade", str(class_dir), "--out", str(out), "--timeout", "5", "--jobs", "2",
            "--canvas-roster", str(roster)]
    first = run_cli(*args)
    assert first.returncode == 0, first.stderr.decode(errors="replace")[-3000:]
    stdout = assert_terminal_safe(first.stdout)
    assert_terminal_safe(first.stderr)  # progress lines, the roster's unmatched list
    table = stdout.split("\n\n")[0].splitlines()
    assert len(table) == 1 + len(HOSTILE)  # a newline in a name adds no row to the table

    document = strict_json(out / "results.json")
    entries = {entry["student"]: entry for entry in document["submissions"]}
    assert set(entries) == set(HOSTILE.values())  # every one graded, `_underscore` too
    assert all(entry["status"] == "graded" for entry in entries.values()), \
        {s: e["error"] for s, e in entries.items() if e["status"] != "graded"}
    for student in entries:  # each on its own row of the table, shown as the reports show it
        assert sum(line.startswith(student + " ") for line in table) == 1, student
    assert all("Jos\\xe9.ipynb" in e["path"] for s, e in entries.items() if s == "Jos\\xe9")

    stems = {student: entry["feedback"] for student, entry in entries.items()}
    assert len(set(stems.values())) == len(HOSTILE)  # `a b` and `a_b` do not share a file
    files = sorted(path.name for path in (out / "feedback").iterdir())
    assert files == sorted(f"{stem}.{ext}" for stem in stems.values() for ext in ("md", "html"))
    assert all(SAFE_NAME.match(name) for name in files), files
    for student, stem in stems.items():  # each file is its own student's
        assert f"feedback for {student}" in (out / "feedback" / f"{stem}.md").read_text(encoding="utf-8")
    assert "Jos\\xe9" in (out / "summary.html").read_text(encoding="utf-8")

    with (out / "grades.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert len(rows) == 1 + len(HOSTILE)
    for row in rows:
        assert not any(cell.startswith(FORMULA) for cell in row), row
    assert {row[0].lstrip("'") for row in rows[1:]} == set(HOSTILE.values())
    total, top = rows[0].index("total"), rows[0].index("max")
    for row in rows[1:]:
        float(row[total]), float(row[top])  # total and max stay numbers
    with (out / "canvas.csv").open(newline="", encoding="utf-8") as handle:
        canvas_rows = list(csv.reader(handle))
    assert canvas_rows[1][-1] == "100"  # points possible: a number, not text
    for row in canvas_rows:
        assert not any(cell.startswith(FORMULA) for cell in row), row
    assert canvas_rows[2][:4] == ["'=cmd|' /C calc'!A0", "7", "'-1+1", "'@sec"]

    again = run_cli(*args)  # the same class again: from the cache, the same files, no crash
    assert again.returncode == 0, again.stderr.decode(errors="replace")[-3000:]
    assert_terminal_safe(again.stdout)
    assert f"0 graded, {len(HOSTILE)} from the cache" in again.stdout.decode()
    assert sorted(path.name for path in (out / "feedback").iterdir()) == files


def test_entries_that_are_not_submissions_are_listed_with_the_reason(tmp_path):
    class_dir, out = tmp_path / "class", tmp_path / "out"
    make_class(class_dir, [b"ann.ipynb", b"_draft.ipynb", b"__init__.py"])
    (class_dir / ".ipynb_checkpoints").mkdir()
    (class_dir / ".ipynb_checkpoints" / "ann-checkpoint.ipynb").write_bytes((class_dir / "ann.ipynb").read_bytes())
    (class_dir / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (class_dir / "__MACOSX").mkdir()
    (class_dir / "__pycache__").mkdir()
    (class_dir / "notes.txt").write_text("not a hand-in")
    os.symlink("/etc/passwd", class_dir / "linked.py")
    os.mkfifo(class_dir / "fifo.ipynb")  # opening it would block the batch forever
    os.symlink(os.fsencode(class_dir / "ann.ipynb"), os.path.join(os.fsencode(class_dir), b"\x1b[31mred.ipynb"))

    result = run_cli("grade", str(class_dir), "--out", str(out), "--timeout", "5", "--jobs", "2", timeout=300)
    assert result.returncode == 0, result.stderr.decode(errors="replace")[-3000:]
    stdout = assert_terminal_safe(result.stdout)
    listed = stdout.split("Skipped 8 entries (not graded):", 1)[1]
    for name, reason in [(".ipynb_checkpoints", "hidden"), (".DS_Store", "hidden"),
                         ("__MACOSX", "macOS archive metadata"), ("__pycache__", "Python bytecode cache"),
                         ("notes.txt", "not a notebook (.ipynb) or a script (.py)"),
                         ("linked.py", "symbolic link"), ("fifo.ipynb", "not a regular file"),
                         ("\\x1b[31mred.ipynb", "symbolic link")]:
        assert re.search(rf"{re.escape(name)}: [^\n]*{re.escape(reason)}", listed), (name, listed)

    document = strict_json(out / "results.json")
    assert {entry["student"] for entry in document["submissions"]} == {"ann", "_draft", "__init__"}
    assert len(document["skipped"]) == 8 and all(entry["reason"] for entry in document["skipped"])
    summary = (out / "summary.html").read_text(encoding="utf-8")
    assert "Skipped (not graded)" in summary and "fifo.ipynb" in summary and "__MACOSX" in summary


def test_same_student_twice_stays_two_students():
    from grader.load.discover import _unique_students

    found = [("ann", Path("ann")), ("ann", Path("ann.ipynb")), ("ann", Path("x/ann.ipynb")), ("ann", Path("y/ann.py"))]
    names = [name for name, _ in _unique_students(found)]
    assert len(set(names)) == 4 and names[:2] == ["ann", "ann.ipynb"]


def test_discovery_and_loading_keep_the_raw_path(tmp_path):
    make_class(tmp_path, [b"Jos\xe9.ipynb"])
    [(student, path)] = find_submissions([tmp_path]).submissions
    assert student == "Jos\\xe9" and os.fsencode(path).endswith(b"Jos\xe9.ipynb")
    assert load(student, path).cells  # read through the real (raw) path
    broken = Path(os.fsdecode(os.path.join(os.fsencode(tmp_path), b"bad\xff.ipynb")))
    broken.write_text("{not json")
    result = grade("bad\\xff", broken, load_rubric(DEFAULT_RUBRIC), Limits(timeout=5))
    assert result.status == "error" and "bad\\xff.ipynb" in result.error and "not valid JSON" in result.error
    json.dumps(result.error).encode("utf-8")  # valid text all the way


def test_latin1_and_long_names_run_in_the_kernel_engine(tmp_path):
    class_dir, out = tmp_path / "class", tmp_path / "out"
    make_class(class_dir, [b"Jos\xe9.ipynb", LONG + b".ipynb"])
    result = run_cli("grade", str(class_dir), "--out", str(out), "--timeout", "10", "--jobs", "2",
                     "--engine", "kernel", timeout=300)
    assert result.returncode == 0, result.stderr.decode(errors="replace")[-3000:]
    assert_terminal_safe(result.stdout)
    entries = strict_json(out / "results.json")["submissions"]
    assert {e["student"]: e["status"] for e in entries} == {"Jos\\xe9": "graded", LONG.decode(): "graded"}


def test_terminal_never_gets_a_control_character():
    every = "".join(map(chr, range(0xA0))) + "\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\udce9\ud800"
    for shown in (terminal(every), terminal(every, lines=True).replace("\n", "")):
        assert not CONTROL.search(shown) and "\n" not in shown
        shown.encode("utf-8")  # no lone surrogate
    assert terminal("a\nb") == "a\\x0ab" and terminal("a\nb", lines=True) == "a\nb"
    assert terminal("\x1b[2J") == "\\x1b[2J" and terminal("Jos\udce9") == "Jos\\xe9"
    assert terminal("Zoë 李") == "Zoë 李"  # letters of every script are kept


def test_report_names_are_safe_unique_bounded_and_stable():
    names = ["a b", "a_b", "a-b", "a.b", "Ann", "ann", "", ".", "..", "../../etc/passwd", "x" * 1000,
             "\x1b[2J", "Jos\\xe9", "José", "李", "con", "-rf", "\udce9"]
    stems = [report_name(name) for name in names]
    assert len(set(stems)) == len(names)
    for stem in stems:
        assert SAFE_NAME.match(stem + ".html") and not stem.startswith((".", "-"))
    assert report_name("a b") == report_name("a b")  # the same on every run
    assert report_name("José").startswith("Jose-") and report_name("Ann").startswith("Ann-")


def test_csv_cells_never_start_a_formula():
    for hostile in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "=HYPERLINK(\"http://x\")"]:
        assert csv_cell(hostile) == "'" + hostile
    assert csv_cell("ann") == "ann" and csv_cell("") == "" and csv_cell(None) == ""
    assert csv_cell(-5.0) == "-5" and csv_cell(12.5) == "12.5" and csv_cell(0) == "0"  # numbers stay numbers
    assert csv_cell("Jos\udce9") == "Jos\\xe9"
    assert readable("ok") == "ok"
    assert text.clean({"a\udce9": ["b\udce9", ("c",)]}) == {"a\\xe9": ["b\\xe9", ["c"]]}


V3_NOTEBOOK = {
    "nbformat": 3, "nbformat_minor": 0, "metadata": {"name": "homework"},
    "worksheets": [{"metadata": {}, "cells": [
        {"cell_type": "heading", "level": 2, "metadata": {}, "source": ["Q3. Write a python code to create a process."]},
        {"cell_type": "code", "language": "python", "collapsed": False, "metadata": {}, "outputs": [],
         "prompt_number": 1, "input": ["import os\n", "print('Main process ID:', os.getpid())"]},
        {"cell_type": "markdown", "metadata": {}, "source": ["Some *notes*."]},
    ]}],
}


def test_nbformat_v3_notebooks_are_read(tmp_path, rubric):
    path = tmp_path / "old.ipynb"
    path.write_text(json.dumps(V3_NOTEBOOK), encoding="utf-8")
    submission = load("old", path)
    assert [cell.kind for cell in submission.cells] == ["markdown", "code", "markdown"]
    assert submission.cells[0].source == "## Q3. Write a python code to create a process."
    assert "os.getpid()" in submission.cells[1].source
    result = grade_path(path, rubric, timeout=5)
    assert result.status == "graded", result.error
    q3 = next(q for q in result.questions if q.id == "q3")
    assert "os.getpid()" in q3.code
    bad = tmp_path / "bad.ipynb"
    bad.write_text(json.dumps({"nbformat": 3, "worksheets": "no"}), encoding="utf-8")
    assert grade_path(bad, rubric, timeout=5).status == "error"


# --- packaging ---------------------------------------------------------------------------



def test_wheel_ships_the_rubric_the_probe_and_every_module(tmp_path):
    wheel = build_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        assert archive.read("grader/rubrics/multiprocessing.yaml") == (ROOT / "rubrics" / "multiprocessing.yaml").read_bytes()
    source = {path.relative_to(ROOT).as_posix() for path in (ROOT / "grader").rglob("*")
              if path.is_file() and "__pycache__" not in path.parts and path.suffix in (".py", ".j2", ".css", ".html", ".js")}
    assert source <= names, sorted(source - names)  # a new subpackage must be listed in pyproject.toml
    assert {"grader/probe/sitecustomize.py", "grader/reports/templates/feedback.html.j2"} <= names

    # Installed from the wheel (not editable), away from the repository: the default rubric is found.
    target = tmp_path / "installed"
    installed = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--quiet",
                                "--target", str(target), str(wheel)], capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stderr[-2000:]
    submission = tmp_path / "submission"
    submission.mkdir()
    (submission / "hw.ipynb").write_text("{not a notebook")
    results = tmp_path / "results" / "results.json"
    environment = {**os.environ, "PYTHONPATH": str(target)}
    ran = subprocess.run([sys.executable, "-c", "import grader, grader.cli, sys; print(grader.__file__); "
                          "print(grader.grading.rubric.DEFAULT_RUBRIC); sys.exit(grader.cli.main(sys.argv[1:]))",
                          "gradescope", str(submission), "--results", str(results)],
                         capture_output=True, text=True, cwd=tmp_path, env=environment, timeout=120)
    assert ran.returncode == 0, ran.stderr[-2000:]
    module, rubric_path = ran.stdout.splitlines()[:2]
    assert module.startswith(str(target)) and rubric_path == str(target / "grader" / "rubrics" / "multiprocessing.yaml")
    document = json.loads(results.read_text())
    assert document["score"] == 0 and "could not be graded" in document["output"] and "not valid JSON" in document["output"]






def test_run_autograder_writes_results_when_the_grader_is_missing_or_crashes(tmp_path):
    for case, script in [("missing", None), ("crash", "#!/bin/sh\necho boom >&2\nkill -9 $$\n"),
                         ("silent", "#!/bin/sh\nexit 0\n")]:
        ran, results = run_autograder(tmp_path / case, script)
        assert ran.returncode == 0, ran.stderr
        document = json.loads(results.read_text())
        assert document["score"] == 0 and document["tests"] == [] and "stale" not in document
        assert "autograder failed" in document["output"]


def test_run_autograder_writes_results_for_a_broken_rubric_and_a_broken_submission(tmp_path):
    bad_rubric = tmp_path / "bad.yaml"
    bad_rubric.write_text("questions: [")
    ran, results = run_autograder(tmp_path / "rubric", REAL_GRADER, args=("--rubric", str(bad_rubric)))
    assert ran.returncode == 0, ran.stderr
    document = json.loads(results.read_text())
    assert document["score"] == 0 and "rubric cannot be used" in document["output"]

    ran, results = run_autograder(tmp_path / "notebook", REAL_GRADER)
    document = json.loads(results.read_text())
    assert document["score"] == 0 and "could not be graded" in document["output"] and "not valid JSON" in document["output"]


def test_run_autograder_grades_a_real_submission(tmp_path):
    notebook = write_notebook(tmp_path / "hw.ipynb", CELLS).read_text()
    ran, results = run_autograder(tmp_path / "real", REAL_GRADER, submission_text=notebook, args=("--timeout", "5"))
    assert ran.returncode == 0, ran.stderr
    document = json.loads(results.read_text())
    assert "stale" not in document and document["tests"] and isinstance(document["score"], (int, float))
    assert any(test["name"].startswith("Q3:") for test in document["tests"])


def test_a_deep_student_directory_neither_crashes_discovery_nor_the_cache(tmp_path):
    from grader.batch.cache import Cache
    from grader.batch.settings import Settings

    student = tmp_path / "class" / "deep"
    write_notebook(tmp_path / "hw.ipynb", CELLS)
    levels = [os.fsencode(student) + b"/d" * depth for depth in range(1, 1501)]  # past the recursion limit
    student.mkdir(parents=True)
    for level in levels:  # os.makedirs and shutil.rmtree recurse: one level at a time
        os.mkdir(level)
    deep = levels[-1]
    (student / "hw.ipynb").write_bytes((tmp_path / "hw.ipynb").read_bytes())
    with open(deep + b"/note.txt", "wb") as handle:
        handle.write(b"deep")
    os.mkfifo(student / "pipe.py")  # neither the hand-in nor read by the cache
    [(name, path)] = find_submissions([tmp_path / "class"]).submissions
    assert name == "deep" and load(name, path).path == student / "hw.ipynb"
    rubric = load_rubric(DEFAULT_RUBRIC)
    cache = Cache(tmp_path / "cache")
    key = cache.key(path, Settings(rubric, Limits()))
    assert key and key == cache.key(path, Settings(rubric, Limits()))
    with open(deep + b"/note.txt", "wb") as handle:
        handle.write(b"changed")
    assert cache.key(path, Settings(rubric, Limits())) != key  # a change deep down is a new key
    os.unlink(deep + b"/note.txt")
    for level in reversed(levels):
        os.rmdir(level)
