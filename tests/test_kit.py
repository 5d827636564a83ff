"""The student kit (`grader assign`), `grader.check()` in a notebook and a script, and the
feedback a student can act on (child tracebacks, spawn, shell escapes, cell names)."""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

from grader.cli import main
from grader.kit.assign import RUBRIC_NAME
from grader.run.engine import EngineKind
from tests.helpers import EXAMPLES, ROOT, build_wheel, check, grade_path, scores, write_notebook

# An instructor's rubric with hidden checks whose details must never reach a student.
SECRET_WORDS = ["zebracorn", "quokkafish"]
SECRET_VALUE = [7, 49, 271828182845]  # longer than any PID, so no PID can look like it
RUBRIC = f"""
assignment: Kit Assignment
questions:
  - id: q1
    prompt: What is multiprocessing in python? Why is it useful?
    checks:
      - kind: concepts
        name: explains it
        points: 6
        groups: [[process], [parallel, simultaneous, same time], [core, cpu]]
        full_marks_at: 2
      - kind: concepts
        name: names the secret idea
        points: 4
        hidden: true
        groups: [[{SECRET_WORDS[0]}], [{SECRET_WORDS[1]}]]
        pass: You named it.
        fail: Think about what makes processes independent.
  - id: q5
    prompt: How can we create a pool of worker processes in python using the multiprocessing module?
    checks:
      - kind: code
        name: uses a pool
        points: 5
        calls: [multiprocessing.Pool]
      - kind: value
        name: the pool computes
        points: 10
        computed_by: pool
      - kind: value
        name: the secret values
        points: 5
        hidden: true
        expected: {SECRET_VALUE}
        computed_by: pool
"""


@pytest.fixture
def kit(tmp_path):
    rubric = tmp_path / "instructor.yaml"
    rubric.write_text(RUBRIC)
    out = tmp_path / "kit"
    assert main(["assign", str(rubric), "--out", str(out)]) == 0
    return rubric, out


def _secrets_in(text: str) -> list[str]:
    found = [word for word in SECRET_WORDS if word in text]
    return found + (["expected value"] if re.search(rf"(?<!\d){SECRET_VALUE[-1]}(?!\d)", text) else [])


def test_the_kit_keeps_hidden_checks_names_and_points_and_nothing_else(kit):
    _, out = kit
    assert sorted(p.name for p in out.iterdir()) == sorted([RUBRIC_NAME, "README.md", "template.ipynb"])
    for file in out.iterdir():
        assert _secrets_in(file.read_text()) == [], file.name
    document = yaml.safe_load((out / RUBRIC_NAME).read_text())
    withheld = [c for q in document["questions"] for c in q["checks"] if c["kind"] == "withheld"]
    assert [(c["name"], c["points"]) for c in withheld] == [("names the secret idea", 4), ("the secret values", 5)]
    assert withheld[0]["text"] is True and "text" not in withheld[1]  # Q1 still asks for text
    template = nbformat.read(out / "template.ipynb", as_version=4)
    assert [c.metadata.get("tags") for c in template.cells[1:3]] == [["q1"], ["q1"]]


def test_the_same_rubric_writes_the_same_kit_byte_for_byte(kit, tmp_path):
    # nbformat's cell ids are random; a kit's are not (a random id once held a hidden value).
    rubric, out = kit
    again = tmp_path / "again"
    assert main(["assign", str(rubric), "--out", str(again)]) == 0
    for file in out.iterdir():
        assert (again / file.name).read_bytes() == file.read_bytes(), file.name
    assert nbformat.validate(nbformat.read(out / "template.ipynb", as_version=4)) is None


def test_answers_in_the_template_are_found_by_their_tags_wherever_they_are(rubric, tmp_path):
    from grader.attribution.model import Found

    out = tmp_path / "kit"
    assert main(["assign", "--out", str(out)]) == 0  # the shipped rubric
    template = nbformat.read(out / "template.ipynb", as_version=4)
    model = nbformat.read(EXAMPLES / "model_solution.ipynb", as_version=4)
    code = [c.source for c in model.cells if c.cell_type == "code"]
    for cell in template.cells:
        if cell.cell_type == "markdown" and cell.source.startswith("## "):
            cell.source = "Next answer:"  # the student deleted every header: the tags still tell
        elif cell.cell_type == "code" and cell.metadata.get("tags", [""])[0] in ("q3", "q5", "q6"):
            cell.source = code[("q3", "q5", "q6").index(cell.metadata["tags"][0])]
        elif cell.cell_type == "markdown" and cell.source == "Your answer here.":
            cell.source = "Processes run in parallel on several CPU cores, each with its own memory and interpreter."
    nbformat.write(template, tmp_path / "hw.ipynb")
    result = grade_path(tmp_path / "hw.ipynb", rubric)
    assert {q.id: q.found for q in result.questions} == {f"q{n}": Found.METADATA for n in range(1, 7)}
    assert all(q.score == q.max_score for q in result.questions if q.id in ("q3", "q5", "q6"))


def test_the_students_check_gives_the_instructors_points_on_every_public_check(kit, tmp_path, capsys):
    rubric, out = kit
    notebook = EXAMPLES / "squares_in_parent.ipynb"  # not full marks everywhere: the points must agree, not just be full
    batch = tmp_path / "batch"
    assert main(["grade", str(notebook), "--out", str(batch), "--rubric", str(rubric), "--timeout", "5"]) == 0
    [instructor] = json.loads((batch / "results.json").read_text())["submissions"]
    capsys.readouterr()
    code = main(["check", str(notebook), "--rubric", str(out / RUBRIC_NAME), "--timeout", "5"])
    shown = capsys.readouterr().out
    public = {(q["id"], c["name"]): c["score"] for q in instructor["questions"] for c in q["checks"] if not c["hidden"]}
    assert code == (0 if all(c["passed"] for q in instructor["questions"] for c in q["checks"] if not c["hidden"]) else 1)
    for (question, name), points in public.items():
        assert f"{name} ({points:g}/" in shown, (question, name)
    assert "[LATER] names the secret idea (4 points" in shown and "[LATER] the secret values (5 points" in shown
    assert "9 more points are in hidden checks" in shown
    assert _secrets_in(shown) == []


def wheel_venv(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A new virtual environment with the grader installed from a wheel alone, `grader` on its
    PATH; its dependencies are this environment's, through a path file (offline)."""
    wheel = build_wheel(tmp_path)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    site = next((venv / "lib").glob("python*/site-packages"))
    here = next(p for p in sys.path if p.endswith("site-packages") and Path(p, "nbclient").is_dir())
    (site / "dependencies.pth").write_text(here + "\n")
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--quiet",
                    "--target", str(site), str(wheel)], check=True, timeout=300)
    python = venv / "bin" / "python"
    (venv / "bin" / "grader").write_text(f"#!{python}\nimport sys\nfrom grader.cli import main\nsys.exit(main())\n")
    (venv / "bin" / "grader").chmod(0o755)
    environment = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    environment["PATH"] = f"{venv / 'bin'}{os.pathsep}/usr/bin:/bin"
    return venv, environment


@pytest.mark.slow
def test_from_a_wheel_in_a_fresh_venv_the_kit_checks_from_the_shell_and_inside_a_kernel(kit, tmp_path):
    """The wheel, not the checkout: a new virtual environment with the grader installed from the
    wheel alone (its dependencies are this environment's, through a path file: offline)."""
    _, out = kit
    venv, environment = wheel_venv(tmp_path)
    python, site = venv / "bin" / "python", next((venv / "lib").glob("python*/site-packages"))
    home = tmp_path / "student"
    home.mkdir()
    (home / RUBRIC_NAME).write_bytes((out / RUBRIC_NAME).read_bytes())
    notebook = nbformat.read(EXAMPLES / "model_solution.ipynb", as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell("import grader\ngrader.check()"))
    nbformat.write(notebook, home / "hw.ipynb")

    shell = subprocess.run(["grader", "check", "hw.ipynb", "--rubric", RUBRIC_NAME], cwd=home, env=environment, check=False,
                           capture_output=True, text=True, timeout=120)
    assert "9 more points are in hidden checks" in shell.stdout, shell.stdout[-2000:] + shell.stderr[-2000:]
    where = subprocess.run([str(python), "-c", "import grader; print(grader.__file__)"], cwd=home, env=environment, check=False,
                           capture_output=True, text=True, timeout=60).stdout
    assert where.startswith(str(site)), where  # the wheel's grader, not the checkout's

    kernel = subprocess.run([str(python), "-c", (
        "import nbformat, nbclient\n"
        "nb = nbformat.read('hw.ipynb', as_version=4)\n"
        "nbclient.NotebookClient(nb, timeout=120, resources={'metadata': {'path': '.'}}).execute()\n"
        "print(nb.cells[-1].outputs[0]['data']['text/html'])\n")],
        cwd=home, env=environment, capture_output=True, text=True, timeout=300, check=False)
    assert kernel.returncode == 0, kernel.stderr[-3000:]
    page = kernel.stdout
    assert "srcdoc=" in page and "the pool computes" in page and "your instructor grades it" in page
    assert _secrets_in(page) == []
    from_shell = dict(re.findall(r"\] (explains it|uses a pool|the pool computes) \((\d+(?:\.\d+)?)/", shell.stdout))
    in_kernel = {name: points for points, name in re.findall(
        r"(\d+(?:\.\d+)?)/\d+</span>\s*<strong>(explains it|uses a pool|the pool computes)</strong>", html.unescape(page))}
    assert from_shell == in_kernel == {"explains it": "6", "uses a pool": "5", "the pool computes": "10"}


def test_grader_check_in_a_plain_script_prints_the_feedback(tmp_path):
    script = tmp_path / "hw.py"
    script.write_text((EXAMPLES / "model_solution_percent.py").read_text() + "\nimport grader\ngrader.check()\n")
    ran = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert "Score: 100 / 100" in ran.stdout, ran.stdout[-2000:] + ran.stderr[-2000:]


@pytest.mark.parametrize("engine", list(EngineKind))
def test_a_call_to_grader_in_the_notebook_and_a_shell_escape_cost_nothing(rubric, tmp_path, engine):
    model = nbformat.read(EXAMPLES / "model_solution.ipynb", as_version=4)
    for cell in model.cells:
        if cell.cell_type == "code":
            cell.source = "!echo checking\nfiles = !ls\n%time x = 1\n" + cell.source
    model.cells.append(nbformat.v4.new_code_cell("!grader check hw.ipynb\nimport grader\ngrader.check()"))
    nbformat.write(model, tmp_path / "hw.ipynb")
    result = grade_path(tmp_path / "hw.ipynb", rubric, engine=engine)
    assert result.score == 100, [(q.id, c.name, c.detail) for q in result.questions for c in q.checks if not c.passed]


@pytest.mark.parametrize("code,said", [
    # an exception in a child: its last line, and the student's line it came from
    (("def worker():\n    numbers = [1, 2]\n    print(numbers[5])\n\n"
     "p = multiprocessing.Process(target=worker)\np.start()\np.join()"),
     ["IndexError: list index out of range", "print(numbers[5])"]),
    # a spawned child cannot find a function defined in the notebook: why, and what to do
    (("def hello():\n    print('hi')\n\n"
     "ctx = multiprocessing.get_context('spawn')\np = ctx.Process(target=hello)\np.start()\np.join()"),
     ["Can't get attribute 'hello'", "put the function in a .py file"]),
], ids=["child traceback", "spawn"])
def test_a_failing_child_says_what_happened_as_jupyter_would(rubric, tmp_path, code, said):
    path = write_notebook(tmp_path / "hw.ipynb", [("md", "## Q3. Write a python code to create a process"),
                                                  ("code", f"import multiprocessing\n\n{code}")])
    detail = check(grade_path(path, rubric), "q3", "runs without errors").detail
    assert all(words in detail for words in said), detail


def test_messages_name_a_cell_as_the_student_sees_it(rubric, tmp_path):
    path = write_notebook(tmp_path / "hw.ipynb", [
        ("md", "# Title"), ("md", "## Q3. Write a python code to create a process"),
        ("code", "import multiprocessing\nraise ValueError('oops')"),
    ])
    detail = check(grade_path(path, rubric), "q3", "runs without errors").detail
    assert "code cell 1 (`import multiprocessing`)" in detail, detail
    assert scores(grade_path(path, rubric))["q3"] < 20


def test_run_autograder_uses_a_grader_installed_from_the_wheel(tmp_path):
    from tests.helpers import run_autograder

    _venv, environment = wheel_venv(tmp_path)
    notebook = (EXAMPLES / "model_solution.ipynb").read_text()
    ran, results = run_autograder(tmp_path / "plain", None, submission_text=notebook, args=("--timeout", "5"),
                                  path=environment["PATH"])  # no source .venv: the grader on the PATH
    assert ran.returncode == 0, ran.stderr[-2000:]
    document = json.loads(results.read_text())
    assert document["score"] == 100 and len(document["tests"]) == 14, document.get("output")


def test_two_statements_on_one_line_of_a_script_run_once(rubric, tmp_path):
    script = tmp_path / "hw.py"
    script.write_text("# Q3. Write a python code to create a process\nimport multiprocessing\n\n"
                      "def worker():\n    print('child')\n\nif __name__ == '__main__':\n"
                      "    p = multiprocessing.Process(target=worker)\n    p.start(); p.join()\n")
    assert check(grade_path(script, rubric), "q3", "runs without errors").passed


def test_a_self_check_of_a_question_that_does_not_exist_is_one_line(tmp_path, capsys):
    import grader

    assert grader.check("q9", path=EXAMPLES / "model_solution.ipynb") is None
    assert capsys.readouterr().err.strip() == ("grader.check: no question 'q9' in multiprocessing.yaml "
                                              "(its questions: q1, q2, q3, q4, q5, q6)")
