"""Cut a submission's code into units, each run and timed on its own: a notebook's cells (and
code that attribution found elsewhere), a script's top-level statements.

A unit is small enough that a question that hangs or crashes is stopped on its own, and
each carries the question it answers, so that whatever its processes do is that question's.
"""

from __future__ import annotations

import ast
import importlib.util
from dataclasses import replace
from functools import lru_cache
from importlib.machinery import PathFinder

from grader.attribution.model import Attribution
from grader.common.syntax import UNPARSABLE, is_main_guard, source_lines, unparsable, without_magics
from grader.load.submission import CellKind, Submission
from grader.run.sandbox import PROBE_DIR
from grader.run.units import Unit


def notebook_units(attribution: Attribution) -> list[Unit]:
    """The code of the notebook, piece by piece, each named as the student sees it; code
    that attribution found in a markdown or raw cell runs too."""
    units = []
    for piece in attribution.pieces:
        if piece.source.strip():
            units.extend(_cut_at_missing_imports(Unit(piece.question, piece.label, source=piece.source)))
    return units


def _cut_at_missing_imports(cell: Unit) -> list[Unit]:
    """A cell that imports a module this machine lacks (`import requests`, installed where the
    student worked) is cut at its top-level imports: that import still fails, in its own unit,
    and the cell's other imports and code still run, so a later cell that uses `multiprocessing`
    from the same cell does not fail too. A cell whose imports are all here runs whole."""
    try:
        tree = ast.parse(without_magics(cell.source))
    except UNPARSABLE:
        return [cell]
    if not any(isinstance(node, (ast.Import, ast.ImportFrom)) and not _importable(node) for node in tree.body):
        return [cell]
    groups: list[tuple[int, int, bool]] = []  # (first line, last line, an import), in order
    for node in tree.body:
        start = _first_line(node)
        end, is_import = node.end_lineno or node.lineno, isinstance(node, (ast.Import, ast.ImportFrom))
        if groups and (start <= groups[-1][1] or not (is_import or groups[-1][2])):
            groups[-1] = (groups[-1][0], max(end, groups[-1][1]), is_import and groups[-1][2])
        else:
            groups.append((start, end, is_import))
    if len(groups) == 1:
        return [cell]
    lines = source_lines(cell.source)
    starts = [1] + [start for start, _, _ in groups[1:]] + [len(lines) + 1]
    return [replace(cell, label=f"{cell.label}, line {groups[i][0]}",
                    source="\n".join(lines[starts[i] - 1:starts[i + 1] - 1]))
            for i in range(len(groups))]


def _importable(node: ast.Import | ast.ImportFrom) -> bool:
    if isinstance(node, ast.ImportFrom):
        return node.level > 0 or _found(node.module or "")
    return all(_found(alias.name) for alias in node.names)


@lru_cache(maxsize=1024)  # bounded: a hostile cell may import a million names
def _found(module: str) -> bool:
    """Whether the top-level package can be imported where the student's code runs: this
    interpreter and its packages, and the probe's directory. Looked up, not imported."""
    top = module.partition(".")[0]
    try:
        return importlib.util.find_spec(top) is not None or PathFinder.find_spec(top, [str(PROBE_DIR)]) is not None
    except (ImportError, ValueError):
        return False


def script_units(submission: Submission, attribution: Attribution) -> list[Unit]:
    """Top-level statements, with `if __name__ == "__main__":` bodies opened up so each call
    in them runs (and times out) on its own. A script that does not parse is cut at its cells,
    so one broken question does not stop the others."""
    regions = attribution.regions

    def region_of(line: int) -> str | None:
        return next((q for start, end, q in regions if start <= line <= end), None)

    try:
        tree = ast.parse(attribution.script)
    except UNPARSABLE:
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


def _first_line(node: ast.stmt) -> int:
    """Where a statement starts as the student wrote it: a decorated one at its first decorator."""
    return min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])


def _statement_unit(node: ast.stmt, region_of, functions: dict, indented: bool) -> Unit:
    start = _first_line(node)
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
        if cell.kind is not CellKind.CODE or code is None:
            continue  # prose typed into the script is a text answer, not broken code
        try:
            tree = ast.parse(code)
        except UNPARSABLE as exc:  # Python refuses it too, before running any of it
            line = cell.line + ((exc.lineno or 1) if isinstance(exc, SyntaxError) else 1) - 1
            units.append(Unit(region_of(line), f"line {line}", start=cell.line, end=cell.end_line,
                              syntax_error=f"SyntaxError: {unparsable(exc)} (line {line})"))
            continue
        for node in tree.body:
            start = cell.line + node.lineno - 1
            units.append(Unit(region_of(start), f"line {start}", start=start,
                              end=cell.line + (node.end_lineno or node.lineno) - 1))
    return _one_per_line(units)
