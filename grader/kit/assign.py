"""`grader assign`: what an instructor hands out, so students can check their work themselves.

The kit has the student rubric, a README and, if asked, a notebook template. In the student
rubric each hidden check keeps its name, points and messages, and loses everything else (a
keyword list, an expected value, a parameter): it becomes a `withheld` check, which the
student's own check reports as graded later. Every public check is copied whole, so a
student's `grader check` gives the same points on it as the instructor's batch. The template
has a header per question and cell tags naming it, which attribution reads before anything else.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import nbformat
import yaml
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from grader.grading.checks import Check, Withheld
from grader.grading.rubric import Rubric
from grader.run.limits import Limits

RUBRIC_NAME = "grader_rubric.yaml"  # beside the student's notebook, `grader.check()` finds it
_YAML_KEYS = {"on_pass": "pass", "on_fail": "fail"}


def student_rubric(rubric: Rubric) -> dict:
    """The rubric as a student may read it (a YAML document)."""
    questions = []
    for question in rubric.questions:
        questions.append({"id": question.id, "prompt": question.prompt, "points": question.points,
                          "checks": [_check(check) for check in question.checks]})
    document: dict = {"assignment": rubric.assignment}
    defaults = dataclasses.asdict(Limits())
    limits = {name: value for name, value in dataclasses.asdict(rubric.limits).items() if value != defaults[name]}
    if limits:
        document["limits"] = limits
    document["questions"] = questions
    return document


def _check(check: Check) -> dict:
    if check.hidden:
        kept: dict[str, object] = {"kind": Withheld.kind, "name": check.title, "points": check.points}
        kept.update({"text": True} if check.reads_text else {})
        kept.update({"pass": check.on_pass} if check.on_pass else {})
        kept.update({"fail": check.on_fail} if check.on_fail else {})
        return kept
    fields = {f.name: getattr(check, f.name) for f in dataclasses.fields(check) if f.init}
    defaults = {f.name: f.default for f in dataclasses.fields(check) if f.default is not dataclasses.MISSING}
    entry: dict[str, object] = {"kind": check.kind}
    for name, value in fields.items():
        if name in defaults and value == defaults[name] and name != "points":
            continue  # the kit stays as short as the instructor's rubric
        entry[_YAML_KEYS.get(name, name)] = list(value) if isinstance(value, tuple) else value
    return entry


def build(rubric: Rubric, out: Path, template: bool = True) -> list[Path]:
    """Write the kit into `out`; the files written."""
    out.mkdir(parents=True, exist_ok=True)
    written = [out / RUBRIC_NAME, out / "README.md"]
    header = (f"# Student rubric for {rubric.assignment}, made by `grader assign`.\n"
              "# Hidden checks show their name and points only: your instructor grades them.\n")
    written[0].write_text(header + yaml.safe_dump(student_rubric(rubric), sort_keys=False, allow_unicode=True),
                          encoding="utf-8")
    written[1].write_text(_readme(rubric, template), encoding="utf-8")
    if template:
        written.append(out / "template.ipynb")
        nbformat.write(_template(rubric), written[-1])
    return written


def _template(rubric: Rubric) -> nbformat.NotebookNode:
    notebook = new_notebook()
    # Cell ids are set, not nbformat's random ones: the same rubric writes the same kit, byte for byte.
    cells = [new_markdown_cell(f"# {rubric.assignment}", id="title")]
    for number, question in enumerate(rubric.questions, start=1):
        tags = {"tags": [question.id]}
        cells.append(new_markdown_cell(f"## {question.id.upper()}. {question.prompt}", metadata=tags,
                                       id=f"question-{number}"))
        answer = new_code_cell("# your code here", metadata=tags, id=f"answer-{number}") \
            if question.asks_code else new_markdown_cell("Your answer here.", metadata=tags, id=f"answer-{number}")
        cells.append(answer)
    cells.append(new_code_cell("import grader\ngrader.check()  # your feedback, from the notebook as saved",
                               metadata={"tags": ["self-check"]}, id="self-check"))
    notebook.cells = cells
    return notebook


def _readme(rubric: Rubric, template: bool) -> str:
    points = f"{rubric.max_score:g}"
    hidden = sum(check.points for q in rubric.questions for check in q.checks if check.hidden)
    lines = [
        f"# {rubric.assignment}: check your work before you hand it in",
        "",
        "Your instructor grades this assignment by running it and watching the processes it really",
        "creates. You can run the same checks on your own notebook or script first.",
        "",
        "## Install",
        "",
        "    python3 -m pip install grader-*.whl      # the wheel your instructor hands out with this kit",
        "",
        "(In a virtual environment: `python3 -m venv .venv && .venv/bin/pip install grader-*.whl`,",
        "then `.venv/bin/grader` below.)",
        "",
        "## Check",
        "",
        f"Put your notebook beside `{RUBRIC_NAME}`, then either, in a terminal:",
        "",
        f"    grader check my_assignment.ipynb --rubric {RUBRIC_NAME}",
        "",
        "or in a cell of your notebook. It checks the notebook as saved on disk, not what is in the",
        "notebook's memory: save it first.",
        "",
        "    import grader",
        "    grader.check()          # every question",
        "    grader.check(\"q5\")      # one question",
        "",
        "It prints, per question, your points, what passed and what failed and why. A script (.py)",
        "works too: put a comment header before each answer (`# Q1.`, `# Q2.`, ...), and write the",
        "text answers as comments or strings under their header.",
        "",
        "\"Marks that rest on a guess\" means the grader was not sure which answer belongs to which",
        "question: a clear header per answer (`## Q3.` in a markdown cell) removes the guess.",
        "`grader check` exits with 0 when every check it can run passed.",
        "",
        f"The assignment has {points} points.",
    ]
    if hidden:
        lines += [(f"{hidden:g} of them are in hidden checks: you see their names and points, and "
                  "your instructor grades them after you hand in.")]
    if template:
        lines += ["", "`template.ipynb` has a header for each question: write each answer under its",
                  "own header (and keep the headers), so that every answer is found."]
    return "\n".join(lines) + "\n"
