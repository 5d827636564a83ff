"""Execute a submission under observation and return the evidence the probe collected.

A notebook runs cell by cell (by IPython in the runner, or in a Jupyter kernel); a script
runs statement by statement (see `_grader_runner`). Either way the unit of execution is small
enough that a question that hangs or crashes is stopped on its own. Every process of the run
carries the probe, which reports over the collector's socket, never through the notebook's
output; everything happens in a scratch copy, inside the sandbox, which sees none of the
instructor's files: not the other submissions, the output, the rubric or the grader.
"""

from __future__ import annotations

import ast
import os
import shutil
import site
import sys
from dataclasses import replace
from pathlib import Path

import grader
from grader.attribution import Attribution
from grader.evidence import Evidence, build_evidence
from grader.probe._grader_sandbox import copy_tree
from grader.sandbox import PROBE_DIR, Limits, RunSandbox, format_size, passed_environment
from grader.submission import Submission, SubmissionError, walk
from grader.syntax import is_main_guard
from grader.text import readable
from grader.units import Unit


def notebook_units(submission: Submission, attribution: Attribution) -> list[Unit]:
    """The code of the notebook, piece by piece, each named as the student sees it; code
    that attribution found in a markdown or raw cell runs too."""
    return [Unit(piece.question, piece.label, source=piece.source)
            for piece in attribution.pieces if piece.source.strip()]


def script_units(submission: Submission, attribution: Attribution) -> list[Unit]:
    """Top-level statements, with `if __name__ == "__main__":` bodies opened up so each call
    in them runs (and times out) on its own. A script that does not parse is cut at its cells,
    so one broken question does not stop the others."""
    regions = attribution.regions

    def region_of(line: int) -> str | None:
        return next((q for start, end, q in regions if start <= line <= end), None)

    try:
        tree = ast.parse(attribution.script)
    except SyntaxError:
        return _units_by_cell(submission, attribution, region_of)
    functions = {
        node.name: region_of(node.lineno)
        for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    }
    units = []
    for node in tree.body:
        if isinstance(node, ast.If) and is_main_guard(node) and not node.orelse:
            for inner in node.body:
                units.append(_statement_unit(inner, region_of, functions, indented=True))
        elif not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)):
            units.append(_statement_unit(node, region_of, functions, indented=False))
    return _one_per_line(units)


def _one_per_line(units: list[Unit]) -> list[Unit]:
    """Statements that share a line (`p.start(); p.join()`) are one unit: a unit runs whole
    lines, and two units of one line would run it twice."""
    merged: list[Unit] = []
    for unit in units:
        last = merged[-1] if merged else None
        if last is not None and last.indented == unit.indented and unit.start <= last.end:
            merged[-1] = replace(last, end=max(last.end, unit.end), definition=last.definition and unit.definition)
        else:
            merged.append(unit)
    return merged


def _statement_unit(node: ast.stmt, region_of, functions: dict, indented: bool) -> Unit:
    start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    question = region_of(start)
    # a bare call of a function defined under another question's header runs for that question
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Name):
        question = functions.get(node.value.func.id) or question
    definition = isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom))
    return Unit(question, f"line {start}", start=start, end=node.end_lineno or start, indented=indented,
                definition=definition)


def _units_by_cell(submission: Submission, attribution: Attribution, region_of) -> list[Unit]:
    units = []
    runnable = {piece.cell: piece.source for piece in attribution.pieces if piece.origin.runs_as_written}
    for cell in submission.cells:
        code = runnable.get(cell.index)
        if cell.kind != "code" or code is None:
            continue  # prose typed into the script is a text answer, not broken code
        try:
            tree = ast.parse(code)
        except SyntaxError as exc:
            line = cell.line + (exc.lineno or 1) - 1
            units.append(Unit(region_of(line), f"line {line}", start=cell.line, end=cell.end_line,
                              syntax_error=f"SyntaxError: {exc.msg} (line {line})"))
            continue
        for node in tree.body:
            start = cell.line + node.lineno - 1
            units.append(Unit(region_of(start), f"line {start}", start=start,
                              end=cell.line + (node.end_lineno or node.lineno) - 1))
    return _one_per_line(units)


def probe_environment(sandbox: RunSandbox) -> dict[str, str]:
    """The environment of a run's root process: the probe on the path, reporting to the
    collector, temp and home inside the run, and of the grader's own environment only what
    `passed_environment` lets through."""
    env = passed_environment()
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", os.defpath)])
    env.update(
        PYTHONPATH=str(PROBE_DIR),
        PYTHONUNBUFFERED="1",
        PYTHONDONTWRITEBYTECODE="1",
        **sandbox.environment(),
    )
    return env


ENGINES = ("shell", "kernel")


def execute(submission: Submission, attribution: Attribution, limits: Limits, questions: frozenset[str],
            protect: tuple[Path, ...] = (), engine: str = "shell") -> Evidence:
    """Run the submission in a scratch copy, under the sandbox, and collect the evidence.
    `protect`: paths the run must not see (the output directory, the rubric). `engine`: how
    a notebook runs: "shell" (IPython in a plain process, fast) or "kernel" (a real Jupyter
    kernel through nbclient, for anything that needs one); scripts always run as scripts."""
    from grader import runner_engine

    original = (submission.folder or submission.path).resolve().parent
    with RunSandbox(limits, questions, covered_paths((original, *protect)), kept_paths()) as sandbox:
        path = _scratch_copy(submission, sandbox.scratch, attribution.script, limits)
        env = probe_environment(sandbox)
        if submission.kind == "notebook":
            units = notebook_units(submission, attribution)
            if engine == "kernel":
                from grader import kernel_engine  # imports nbclient: only when asked for

                outcomes = kernel_engine.run(path, units, limits, env, sandbox)
            else:
                outcomes = runner_engine.run(path, "cells", units, limits, env, sandbox)
        else:
            units = script_units(submission, attribution)
            outcomes = runner_engine.run(path, "statements", units, limits, env, sandbox,
                                         regions={str(path): attribution.regions})
        collector = sandbox.finish()
        rejected = tuple(collector.rejected)
        if collector.rejections > len(rejected):
            rejected += (f"{collector.rejections - len(rejected)} more records dropped",)
        return build_evidence(collector.events, tuple(outcomes), tuple(sandbox.limits_hit()), rejected)


def _scratch_copy(submission: Submission, scratch: Path, script: str, limits: Limits) -> Path:
    """The run works on a copy: the original can be neither changed nor deleted. A script's
    copy is the text attribution made runnable (sentences typed among the code blanked).
    A folder too big for the run's workspace is refused before anything is copied."""
    if submission.folder is not None:
        entries = list(walk(submission.folder))
        size = sum(entry.stat(follow_symlinks=False).st_size for entry in entries)
        if len(entries) >= limits.files or size >= limits.disk:
            raise SubmissionError(f"{readable(str(submission.folder))}: the folder holds {len(entries)} files of "
                                  f"{format_size(size)}, more than a run may have ({limits.files} files, "
                                  f"{format_size(limits.disk)})")
        copy_tree(str(submission.folder), str(scratch))
        path = scratch / submission.path.relative_to(submission.folder)
    else:
        path = scratch / submission.path.name
        shutil.copy2(submission.path, path)
    if submission.kind == "script" and script != submission.text:
        path.unlink()
        path.write_text(script, encoding="utf-8")
    return path


# the system itself: all a run sees of the machine (read-only), with what `kept_paths` puts back
_SYSTEM = {Path(p) for p in ("/bin", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/sbin",
                             "/sys", "/usr")}


def covered_paths(private: tuple[Path, ...]) -> list[Path]:
    """What a run must not see: every top-level directory but the system's (homes, /root,
    /tmp, /var, /run with its sockets, /opt, /srv, /work, /autograder, ...), and each
    `private` path and the folder around it wherever they are (the submissions, other
    sections, the output, earlier results, the rubric), and the grader's own install: an
    allow-list, as bubblewrap's users write one, not a list of secrets to hide."""
    package = Path(grader.__file__).resolve().parent
    paths = [Path("/", entry) for entry in sorted(os.listdir("/"))] + [package, Path.home(), Path("/sys/fs/cgroup")]
    if (package.parent / "pyproject.toml").exists():
        paths.append(package.parent)  # a checkout: the examples, the model solution
    for path in private:
        path = path.resolve()
        paths += [path, path.parent]
    covered: list[Path] = []
    for path in paths:
        if path.is_symlink() or not path.is_dir():
            continue
        path = path.resolve()
        if path != Path("/") and path not in _SYSTEM and path not in covered:
            covered.append(path)
    return covered


def kept_paths() -> list[Path]:
    """What a run needs inside what is covered: the interpreter, its packages (wherever a path
    file put them), the probe."""
    paths = [Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable).parent, PROBE_DIR,
             *(Path(p) for p in site.getsitepackages()), Path(site.getusersitepackages()),
             *(Path(p) for p in sys.path if p.endswith(("site-packages", "dist-packages")))]
    kept: list[Path] = []
    for path in paths:
        for form in (path.absolute(), path.resolve()):
            if form.is_dir() and form not in kept:
                kept.append(form)
    return kept
