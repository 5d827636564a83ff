"""The fault corpus: hostile or broken student code, each fault in one question of an
otherwise correct notebook (or script).

Each must be graded within its limit plus a few seconds, leave no process behind, change no
file outside its scratch directory, and keep every point of the questions it did not touch.
Every fault is bounded in its own code too (a fork bomb stops at 2**9 processes, a memory hog
at a few GiB, a flood at a few MB), so a broken limit cannot take down the machine.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import nbformat
import pytest

from grader.cli import main
from grader.grading.review import Review
from grader.run.engine import EngineKind
from tests.helpers import EXAMPLES, FULL, check, grade_path, leftovers, scores, write_notebook

CODE_CELL = {"q3": 4, "q5": 7, "q6": 9}  # index of each question's code cell in the model notebook


def fault_notebook(directory: Path, question: str, code: str) -> Path:
    notebook = nbformat.read(EXAMPLES / "model_solution.ipynb", as_version=4)
    notebook.cells[CODE_CELL[question]].source = code
    path = directory / "student" / "assignment.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    (path.parent / "notes.txt").write_text("the student's other file\n")
    return path


def snapshot(*directories: Path) -> dict[str, str]:
    return {
        str(path): hashlib.sha256(path.read_bytes()).hexdigest()
        for directory in directories if directory.exists()
        for path in sorted(directory.rglob("*")) if path.is_file()
    }


FORK_BOMB = """import multiprocessing, time

def multiply(depth):
    children = [multiprocessing.Process(target=multiply, args=(depth + 1,)) for _ in range(2)]
    if depth < 8:  # bounded: 2**9 processes at most, even with no limit at all
        for child in children:
            child.start()
    time.sleep(4)

if __name__ == "__main__":
    multiply(0)
"""

ENDLESS_CHILD = """import multiprocessing

def print_number(num):
    while True:
        pass

if __name__ == "__main__":
    processes = [multiprocessing.Process(target=print_number, args=(n,)) for n in [1, 2, 3, 4]]
    for p in processes:
        p.start()
    for p in processes:
        p.join()
"""

MEMORY_HOG = """hog = bytearray(3 * 1024 ** 3)  # 3 GiB: over the 1 GiB per process
print(len(hog))
"""

TOTAL_MEMORY = """import multiprocessing, time

def hold(_):
    block = bytearray(200 * 1024 ** 2)
    block[::4096] = b"x" * len(block[::4096])  # touch every page: really resident
    time.sleep(2)
    return 1

if __name__ == "__main__":
    with multiprocessing.Pool(4) as pool:
        print(pool.map(hold, range(4)))
"""

FLOOD = """for i in range(200_000):  # about 14 MB; the limit keeps 1 MiB
    print("spam spam spam spam spam spam spam spam spam spam spam", i)
"""

INPUT = """n = int(input("How many numbers? "))
"""

KILL_KERNEL = """import os
os._exit(1)
"""

CPU_HOG = """import multiprocessing

def worker():
    while True:
        pass

if __name__ == "__main__":
    process = multiprocessing.Process(target=worker)
    process.start()
    process.join()
"""

BIG_FILE = """with open("big.bin", "wb") as handle:
    for _ in range(10):  # 10 MiB, over a 1 MiB limit
        handle.write(bytes(1 << 20))
"""


def write_outside(out: Path, original: Path) -> str:
    return f"""import os, pathlib
targets = [{str(out / 'results.json')!r}, {str(out / 'grades.csv')!r}, {str(original / 'notes.txt')!r},
           {str(original / 'assignment.ipynb')!r}, '/etc/grader-was-here', os.path.expanduser('~/.bashrc')]
for target in targets:
    try:
        pathlib.Path(target).write_text('{{"submissions": [], "score": 100}}')
        print("wrote", target)
    except OSError as exc:
        print("refused", target, exc.strerror)
for target in targets[2:4]:
    try:
        os.remove(target)
    except OSError:
        pass
for name in os.listdir("."):  # its own scratch copy: allowed, and harmless
    if name.endswith(".txt"):
        os.remove(name)
print("Score: 100/100")
print("Results:", [1, 4, 9, 16, 25])
"""


FAULTS = {
    # name: (question, code, limits, points that question keeps, a note the feedback must hold)
    "fork_bomb": ("q3", FORK_BOMB, {}, 17, "process limit of 64 processes alive at once reached in Q3"),
    "endless_loop_in_children": ("q6", ENDLESS_CHILD, {}, 8, "time limit of 3 s exceeded in Q6"),
    "memory_hog": ("q5", MEMORY_HOG, {}, 0, "memory limit of 1 GiB per process exceeded in Q5"),
    "memory_of_all_processes": ("q5", TOTAL_MEMORY, {"memory_total": 512 << 20}, 3,
                                "memory limit of 512 MiB for all processes together exceeded"),
    "output_flood": ("q6", FLOOD, {}, 5, "output limit of 1 MiB reached in Q6; the rest was cut"),
    "input_call": ("q5", INPUT, {}, 5, None),  # answered, so it runs cleanly; nothing else
    "kills_its_kernel": ("q3", KILL_KERNEL, {}, 0, "the kernel (the process running it) died and was restarted"),
    "cpu_hog": ("q3", CPU_HOG, {"cpu_time": 2, "timeout": 8}, 17, "CPU time limit of 2 s per process exceeded in Q3"),
    "big_file": ("q5", BIG_FILE, {"file_size": 1 << 20}, 0, "file size limit of 1 MiB exceeded in Q5"),
}


def _protection(name: str) -> bool:
    from grader.run import doctor

    return any(p.active for p in doctor.diagnose() if p.name == name)


@pytest.mark.parametrize("name", [pytest.param(name, marks=pytest.mark.root) if name == "memory_of_all_processes"
                                  else name for name in sorted(FAULTS)])
def test_fault_is_contained(tmp_path, rubric, name):
    question, code, limits, kept, note = FAULTS[name]
    if name == "memory_of_all_processes" and not _protection("memory of all processes together"):
        pytest.skip("no memory cgroup here (an ordinary user's machine); CI, as root, has one")
    # a fault that stalled the run past its own question would leave the later ones not run
    limits = {"timeout": 3, "submission_timeout": 40, **limits}
    path = fault_notebook(tmp_path, question, code)
    before = snapshot(path.parent)
    result = grade_path(path, rubric, **limits)
    assert result.status == "graded", result.error
    assert scores(result) == {**FULL, question: kept}
    if note:
        notes = [n for q in result.questions for n in q.notes]
        assert any(note in n for n in notes), notes
    time.sleep(0.2)
    assert leftovers() == []
    assert snapshot(path.parent) == before


def test_submission_time_limit_stops_the_rest(tmp_path, rubric):
    path = write_notebook(tmp_path / "slow.ipynb", [
        ("md", "Q3."), ("code", "import time\ntime.sleep(2)"),
        ("md", "Q5."), ("code", "import time\ntime.sleep(2)"),
        ("md", "Q6."), ("code", "print('never')"),
    ])
    result = grade_path(path, rubric, timeout=3, submission_timeout=3)
    [q6] = [q for q in result.questions if q.id == "q6"]
    assert any("submission's time limit of 3 s ran out" in note for note in q6.notes), q6.notes


def test_input_is_answered_the_same_every_time_and_flagged(tmp_path, rubric):
    script = tmp_path / "asks.py"
    script.write_text((EXAMPLES / "functions_with_main_block.py").read_text().replace(
        "def q5():\n", "def q5():\n    n = int(input('How many? '))\n    assert n == 4\n"))
    result = grade_path(script, rubric, timeout=20)
    assert scores(result) == FULL
    [flag] = [f for f in result.review if f.reason is Review.INPUT_CALLED]
    assert flag.question == "q5" and "How many?" in flag.detail


def test_input_asked_for_ever_ends(tmp_path, rubric):
    path = write_notebook(tmp_path / "loop.ipynb", [("md", "Q5."), ("code", "while True:\n    input('more? ')")])
    result = grade_path(path, rubric, timeout=20)
    detail = check(result, "q5", "runs without errors").detail
    assert "EOFError" in detail and "more than 20 times" in detail


def test_script_that_exits_its_own_process(tmp_path, rubric):
    script = tmp_path / "exits.py"
    script.write_text((EXAMPLES / "functions_with_main_block.py").read_text().replace(
        "def q5():\n", "def q5():\n    os._exit(0)\n"))
    result = grade_path(script, rubric, timeout=3)
    got = scores(result)
    assert got["q3"] == 20 and got["q5"] == 3 and got["q6"] == 3  # Q6's code is there, but never ran
    assert leftovers() == []


def test_writing_outside_scratch_and_fake_results_change_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    original = tmp_path / "class" / "mallory"
    original.mkdir(parents=True)
    notebook = nbformat.read(EXAMPLES / "model_solution.ipynb", as_version=4)
    notebook.cells.insert(CODE_CELL["q5"] + 1, nbformat.v4.new_code_cell(write_outside(out, original)))
    nbformat.write(notebook, original / "assignment.ipynb")
    (original / "notes.txt").write_text("keep me\n")
    honest = tmp_path / "class" / "honest.ipynb"
    honest.write_bytes((EXAMPLES / "squares_in_parent.ipynb").read_bytes())
    before = snapshot(tmp_path / "class")
    assert main(["grade", str(tmp_path / "class"), "--out", str(out), "--timeout", "5", "--jobs", "2"]) == 0
    document = json.loads((out / "results.json").read_text())
    by_student = {entry["student"]: entry for entry in document["submissions"]}
    assert by_student["mallory"]["score"] == 100  # its own honest answers still count
    assert by_student["honest"]["score"] == 83  # untouched by the other student's code
    assert snapshot(tmp_path / "class") == before
    assert not Path("/etc/grader-was-here").exists()
    rows = (out / "grades.csv").read_text().splitlines()
    assert rows[0].startswith("student,") and len(rows) == 3
    assert leftovers() == []


def test_secrets_in_the_graders_environment_do_not_reach_student_code(tmp_path, rubric, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s3cr3t-of-the-instructor")
    probe = ("import os\nenv = dict(os.environ)\nenv.update(line.split('=', 1) for line in "
             "open('/proc/self/environ').read().split('\\0') if '=' in line)\n"
             "print('clean' if 'AWS_SECRET_ACCESS_KEY' not in env else 'leaked')")
    for engine in EngineKind:
        path = write_notebook(tmp_path / f"env_{engine}.ipynb", [("md", "Q5."), ("code", probe)])
        result = grade_path(path, rubric, engine=engine)
        [q5] = [q for q in result.questions if q.id == "q5"]
        printed = "".join(p.output for p in q5.processes)
        assert printed == "clean\n", (engine, printed)


def test_input_caught_in_a_loop_adds_no_evidence_past_the_answers(tmp_path, rubric):
    code = "for _ in range(100000):\n    try:\n        input()\n    except EOFError:\n        pass\nprint('done')"
    result = grade_path(write_notebook(tmp_path / "flood.ipynb", [("md", "Q5."), ("code", code)]), rubric, timeout=20)
    [flag] = [f for f in result.review if f.reason is Review.INPUT_CALLED]
    assert "20 time(s)" in flag.detail


FOUR = """import multiprocessing

def say(n):
    print(n)

if __name__ == "__main__":
    ps = [multiprocessing.Process(target=say, args=(n,)) for n in range(1, 5)]
    for p in ps:
        p.start()
    for p in ps:
        p.join()
"""
UNPARSABLE_CODE = {  # what Python itself refuses to compile, each for another reason
    "nested minus": "x = " + "-" * 200_000 + "1",  # MemoryError in the parser
    "nested lists": "x = " + "[" * 100_000 + "]" * 100_000,
    "nul": "x = 1\x00",
}


@pytest.mark.parametrize("name", list(UNPARSABLE_CODE))
def test_code_python_cannot_parse_is_the_students_error_not_the_graders(tmp_path, rubric, name):
    """Loading, attribution and planning all parse the code: one that lets a MemoryError or
    RecursionError out turns the student's broken code into an 'internal grader error'."""
    code = UNPARSABLE_CODE[name]
    script = tmp_path / "deep.py"
    script.write_text(f"# Q3\nimport multiprocessing\n{code}\n# Q6\n{FOUR}\n")
    notebook = write_notebook(tmp_path / "deep.ipynb", [("md", "Q3."), ("code", f"import nowhere_pkg_x\n{code}"),
                                                        ("md", "Q6."), ("code", FOUR)])
    for path in (script, notebook):
        result = grade_path(path, rubric, timeout=10)
        assert result.status == "graded" and not result.fault, (path.name, result.error)
        assert scores(result)["q3"] == 0 and scores(result)["q6"] == 25, path.name
