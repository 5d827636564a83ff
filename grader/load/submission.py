"""Load a student's hand-in (a notebook or a script) into one shape: a list of cells.

Students hand in notebooks, plain scripts, jupytext percent scripts and `nbconvert --to
script` output. Everything downstream (attribution, execution) sees the same `Cell`s, with
line numbers for scripts so that code can later be traced back to its question.
A file that cannot be read raises `SubmissionError` with a one-line reason, so the batch
records it and moves on.
"""

from __future__ import annotations

import ast
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nbformat

from grader.common.syntax import UNPARSABLE, source_lines
from grader.common.text import Word, readable

SUFFIXES = (".ipynb", ".py")


class SubmissionError(Exception):
    """A submission that cannot be loaded; the message is the one-line reason."""


class CellKind(Word):
    CODE = "code"
    MARKDOWN = "markdown"  # in a script: comment paragraphs and module-level strings
    RAW = "raw"


class SubmissionKind(Word):
    NOTEBOOK = "notebook"
    SCRIPT = "script"


@dataclass(frozen=True)
class Cell:
    index: int
    kind: CellKind  # a str is read as one (nbformat's cell_type)
    source: str
    line: int = 0  # first line in a script (1-based); 0 in a notebook
    end_line: int = 0
    hint: str | None = None  # question named by nbgrader/otter metadata or tags

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", CellKind(self.kind))


@dataclass(frozen=True)
class Submission:
    student: str
    path: Path
    kind: SubmissionKind
    cells: tuple[Cell, ...]
    text: str  # the file's text (a script's code; a notebook's JSON)
    folder: Path | None = None  # the student's own directory, copied whole for the run


def walk(directory: Path, hidden: bool = True) -> Iterator[os.DirEntry]:
    """Every entry under `directory`, without recursion (a student's 1,500 nested directories
    are fine, where `Path.rglob` raises RecursionError) and without following symbolic links.
    `hidden=False`: dot names are left out, and so is everything under them."""
    stack = [os.fspath(directory)]
    while stack:
        try:
            with os.scandir(stack.pop()) as listing:
                entries = sorted(listing, key=lambda entry: os.fsencode(entry.name), reverse=True)
        except OSError:
            continue  # unreadable: nothing under it is graded
        for entry in entries:
            if not hidden and entry.name.startswith("."):
                continue
            yield entry
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
            except OSError:
                pass


def _hand_in(directory: Path) -> Path:
    """The one notebook or script in a student's directory (a notebook wins over scripts);
    a symbolic link, a FIFO or a device is never one."""
    files = sorted(Path(entry.path) for entry in walk(directory, hidden=False)
                   if os.path.splitext(entry.name)[1] in SUFFIXES and regular_file(entry))
    notebooks = [p for p in files if p.suffix == ".ipynb"]
    chosen = notebooks or files
    if not chosen:
        raise SubmissionError(f"{readable(str(directory))}: no .ipynb or .py file in this directory")
    if len(chosen) > 1:
        names = ", ".join(readable(str(p.relative_to(directory))) for p in chosen)
        raise SubmissionError(f"{readable(str(directory))}: several hand-ins, expected one: {names}")
    return chosen[0]


def regular_file(entry: os.DirEntry) -> bool:
    try:
        return entry.is_file(follow_symlinks=False)
    except OSError:
        return False


def load(student: str, path: Path) -> Submission:
    """`path` is a notebook, a script, or a student's directory holding one of them."""
    folder = path if path.is_dir() else None
    if folder is not None:
        path = _hand_in(folder)
    if path.suffix not in SUFFIXES:
        raise SubmissionError(f"{readable(str(path))}: not a notebook (.ipynb) or a script (.py)")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SubmissionError(f"{readable(str(path))}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise SubmissionError(f"{readable(str(path))}: cannot read: {exc.strerror}") from None
    if path.suffix == ".ipynb":
        return Submission(student, path, SubmissionKind.NOTEBOOK, _notebook_cells(path, text), text, folder)
    return Submission(student, path, SubmissionKind.SCRIPT, script_cells(text), text, folder)


def _notebook_cells(path: Path, text: str) -> tuple[Cell, ...]:
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SubmissionError(f"{readable(str(path))}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    except RecursionError:
        raise SubmissionError(f"{readable(str(path))}: not a Jupyter notebook (JSON nested too deeply)") from None
    # nbformat 4 keeps a list of cells; nbformat 3 (IPython 1-2) its cells in worksheets,
    # converted to 4 by nbformat.reads below
    v3 = isinstance(raw, dict) and raw.get("nbformat") == 3 and isinstance(raw.get("worksheets"), list)
    if not isinstance(raw, dict) or not (isinstance(raw.get("cells"), list) or v3):
        raise SubmissionError(f"{readable(str(path))}: not a Jupyter notebook (no list of cells)")
    try:
        notebook = nbformat.reads(text, as_version=4)
        nbformat.validate(notebook)
    except Exception as exc:  # nbformat raises several unrelated types
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SubmissionError(f"{readable(str(path))}: not a valid notebook: {reason}") from None
    cells = []
    for index, cell in enumerate(notebook.cells):
        cells.append(Cell(index, CellKind(cell.cell_type), cell.source, hint=_metadata_hint(cell.metadata)))
    return tuple(cells)


_QUESTION_ID = re.compile(r"\bq(?:uestion)?[ _-]?(\d+)\b", re.IGNORECASE)


def _metadata_hint(metadata: dict) -> str | None:
    """The question nbgrader (grade_id), otter (name) or a tag assigns to a cell."""
    candidates = [
        str(metadata.get("nbgrader", {}).get("grade_id", "")),
        str(metadata.get("otter", {}).get("name", "")),
        *[str(tag) for tag in metadata.get("tags", [])],
    ]
    for candidate in candidates:
        match = _QUESTION_ID.search(candidate)
        if match:
            return f"q{int(match.group(1))}"
    return None


_MARKER = re.compile(r"^#\s*(%%|In\[[ \d]*\]:)(.*)$")
_PREAMBLE = re.compile(r"^#!|^#.*coding[:=]")


def script_cells(text: str) -> tuple[Cell, ...]:
    """Cut a script into cells: prose (column-0 comment paragraphs, jupytext markdown cells,
    module-level strings) and code. The same rule reads plain, percent-format and nbconvert
    scripts, since in all three a question's prose is comments and its code is code."""
    lines = source_lines(text)
    kinds: list[str] = []
    prose: list[str] = []
    for number, line in enumerate(lines, start=1):
        marker = _MARKER.match(line)
        if marker:
            title = re.sub(r"^\s*\[\w+\]", "", marker.group(2)).strip()
            kinds.append("markdown" if title else "blank")
            prose.append(title)
        elif number <= 2 and _PREAMBLE.match(line):
            kinds.append("blank")
            prose.append("")
        elif line.startswith("#"):
            kinds.append("markdown")
            prose.append(re.sub(r"^#+ ?", "", line))
        elif not line.strip():
            kinds.append("blank")
            prose.append("")
        else:
            kinds.append("code")
            prose.append(line)
    for start, end, string in _module_strings(text):
        string_lines = string.splitlines() or [""]
        for offset, number in enumerate(range(start, end + 1)):
            kinds[number - 1] = "markdown"
            prose[number - 1] = string_lines[offset] if offset < len(string_lines) else ""

    cells: list[Cell] = []
    current_kind: str | None = None
    current_start = 0
    current_lines: list[str] = []
    for number, (kind, content) in enumerate(zip(kinds, prose), start=1):
        if kind == "blank":
            if current_kind == "markdown" and not lines[number - 1].strip():
                # an empty line ends a comment paragraph: nbconvert's markdown cells, a
                # student's answers one paragraph each
                _close(cells, current_kind, current_start, current_lines)
                current_kind, current_lines = None, []
            elif current_kind is not None:
                current_lines.append(content)
            continue
        if kind != current_kind:
            _close(cells, current_kind, current_start, current_lines)
            current_kind, current_start, current_lines = kind, number, []
        current_lines.append(content)
    _close(cells, current_kind, current_start, current_lines)
    return tuple(cells)


def _close(cells: list[Cell], kind: str | None, start: int, lines: list[str]) -> None:
    while lines and not lines[-1].strip():
        lines.pop()
    if kind is None or not lines:
        return
    cells.append(Cell(len(cells), CellKind(kind), "\n".join(lines), line=start, end_line=start + len(lines) - 1))


def _module_strings(text: str) -> list[tuple[int, int, str]]:
    """Module-level string statements: students often write their answers in a docstring."""
    try:
        tree = ast.parse(text)
    except UNPARSABLE:
        return []
    return [
        (node.lineno, node.end_lineno or node.lineno, node.value.value)
        for node in tree.body
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    ]
