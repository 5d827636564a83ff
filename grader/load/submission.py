"""Load a student's hand-in (a notebook or a script) into one shape: a list of cells.

Students hand in notebooks, plain scripts, jupytext percent scripts and `nbconvert --to
script` output. Everything downstream (attribution, execution) sees the same `Cell`s, with
line numbers for scripts so that code can later be traced back to its question.
A file that cannot be read raises `SubmissionError` with a one-line reason, so the batch
records it and moves on.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nbformat

from grader.common.syntax import source_lines
from grader.common.text import readable, terminal
from grader.load import archive

SUFFIXES = (".ipynb", ".py")


class SubmissionError(Exception):
    """A submission that cannot be loaded; the message is the one-line reason."""


@dataclass(frozen=True)
class Cell:
    index: int
    kind: str  # "code", "markdown" or "raw"
    source: str
    line: int = 0  # first line in a script (1-based); 0 in a notebook
    end_line: int = 0
    hint: str | None = None  # question named by nbgrader/otter metadata or tags


@dataclass(frozen=True)
class Submission:
    student: str
    path: Path
    kind: str  # "notebook" or "script"
    cells: tuple[Cell, ...]
    text: str  # the file's text (a script's code; a notebook's JSON)
    folder: Path | None = None  # the student's own directory, copied whole for the run


_CANVAS_NAME = re.compile(r"^(?P<name>[A-Za-z0-9-]+?)(?P<late>_LATE)?_(?P<user>\d+)_(?P<submission>\d+)_(?P<original>.+)$")
_ATTEMPT = re.compile(r"-(\d+)$")  # Canvas renames a file handed in again: hello.ipynb, hello-1.ipynb


@dataclass(frozen=True)
class CanvasName:
    """What a Canvas bulk-download file name says: `<name>[_LATE]_<userid>_<submissionid>_<original>`."""

    name: str  # the student's name, as Canvas writes it (lastfirst)
    user: str  # the Canvas user ID, the roster's ID column
    submission: int
    late: bool
    attempt: int  # 0 for the first upload of a file, N for Canvas's `-N` copy of it


def canvas_identity(name: str) -> CanvasName | None:
    match = _CANVAS_NAME.match(name)
    if not match:
        return None
    attempt = _ATTEMPT.search(os.path.splitext(match.group("original"))[0])
    return CanvasName(match.group("name"), match.group("user"), int(match.group("submission")),
                      bool(match.group("late")), int(attempt.group(1)) if attempt else 0)


def _student_name(entry: Path, is_dir: bool | None = None) -> str:
    """The student a file or directory is, as printable text: undecodable bytes and control
    characters of the name shown as `\\xNN` (the path itself stays as it is), so that no
    report, CSV or terminal gets them."""
    name = terminal(entry.name if (entry.is_dir() if is_dir is None else is_dir) else entry.stem)
    identity = canvas_identity(terminal(entry.name))
    return identity.name if identity else name


# Directories that archive tools and Python leave beside the hand-ins, never a student.
_NOT_STUDENTS = {
    "__MACOSX": "macOS archive metadata",
    "__pycache__": "Python bytecode cache",
}


@dataclass(frozen=True)
class Skipped:
    path: str  # readable text
    reason: str


@dataclass(frozen=True)
class Discovery:
    submissions: list[tuple[str, Path]]  # (student, file or directory)
    skipped: list[Skipped]  # entries of a class directory that are not submissions, and why


def discover(paths: list[Path]) -> list[tuple[str, Path]]:
    """(student, file) pairs; `find_submissions` also says what was skipped."""
    return find_submissions(paths).submissions


def find_submissions(paths: list[Path], unpack_into: Path | None = None) -> Discovery:
    """A file is one submission. A directory is a class: each notebook or script in it is a
    student's (named by the file), and so is each subdirectory (named by the directory).
    Every other entry of a class directory is skipped and listed with the reason: hidden
    (a dot name: .ipynb_checkpoints, .DS_Store, .git), an archive's or Python's own
    directory, a symbolic link, not a regular file, another kind of file, unreadable.
    A zip archive (a Canvas bulk download) is a class, unpacked under `unpack_into`."""
    found: list[tuple[str, Path]] = []
    skipped: list[Skipped] = []
    for path in paths:
        if path.is_file() and path.suffix.lower() == ".zip":
            if unpack_into is None:
                raise SubmissionError(f"{readable(str(path))}: a zip archive; `grader grade` unpacks a class's archive")
            try:
                path = archive.unpack(path, unpack_into)
            except archive.ArchiveError as exc:
                raise SubmissionError(str(exc)) from None
        if path.is_file():
            found.append((_student_name(path, False), path))
        elif path.is_dir():
            try:
                with os.scandir(path) as listing:
                    entries = sorted(listing, key=lambda entry: os.fsencode(entry.name))
            except OSError as exc:
                raise SubmissionError(f"{readable(str(path))}: cannot list the directory: {exc.strerror}") from None
            for entry in entries:
                submission, reason = _classify(entry)
                if submission is None:
                    skipped.append(Skipped(readable(entry.path), reason or "not a submission"))
                else:
                    found.append(submission)
        else:
            raise SubmissionError(f"{readable(str(path))}: no such file or directory")
    return Discovery(_unique_students(_latest_only(found, skipped)), skipped)


def _latest_only(found: list[tuple[str, Path]], skipped: list[Skipped]) -> list[tuple[str, Path]]:
    """One hand-in per Canvas student: the latest (highest submission ID, then Canvas's `-N`
    copy of a file handed in again); the older ones are listed as skipped."""
    latest: dict[str, tuple[tuple[int, int, bool], Path]] = {}
    for _, path in found:
        identity = canvas_identity(terminal(path.name))
        if identity is not None:
            order = (identity.submission, identity.attempt, path.suffix == ".ipynb")
            if identity.user not in latest or order > latest[identity.user][0]:
                latest[identity.user] = (order, path)
    kept = []
    for student, path in found:
        identity = canvas_identity(terminal(path.name))
        if identity is None or latest[identity.user][1] == path:
            kept.append((student, path))
        else:
            newest = latest[identity.user][1]
            newer = canvas_identity(terminal(newest.name))
            what = "another file of the same submission" if newer and newer.submission == identity.submission \
                and newer.attempt == identity.attempt else "an older submission"
            skipped.append(Skipped(readable(str(path)), f"{what} of {student} (Canvas user {identity.user}); "
                                                       f"graded: {readable(newest.name)}"))
    return kept


def _classify(entry: os.DirEntry) -> tuple[tuple[str, Path] | None, str | None]:
    """(student, path), or the reason an entry of a class directory is not a submission."""
    name = readable(entry.name)
    if name.startswith("."):
        return None, "hidden (its name starts with a dot)"
    if name in _NOT_STUDENTS:
        return None, _NOT_STUDENTS[name]
    try:
        if entry.is_symlink():
            return None, "a symbolic link (not followed; give its target on the command line)"
        if entry.is_dir(follow_symlinks=False):
            return (_student_name(Path(entry.path), True), Path(entry.path)), None
        if not entry.is_file(follow_symlinks=False):
            return None, "not a regular file or directory"
    except OSError as exc:
        return None, f"unreadable: {exc.strerror}"
    if os.path.splitext(entry.name)[1] not in SUFFIXES:
        return None, "not a notebook (.ipynb) or a script (.py)"
    return (_student_name(Path(entry.path), False), Path(entry.path)), None


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


def content_digest(path: Path) -> str | None:
    """A hash of a submission's bytes: its file, or every file and link of its directory (as
    the run's copy has them, without recursion); None if unreadable. The cache keys results
    by it, and the gradebook tells by it that an override's submission has changed."""
    digest = hashlib.sha256()
    try:
        if path.is_dir():
            entries = [e for e in walk(path) if not e.is_dir(follow_symlinks=False)]
            files = sorted((Path(e.path).relative_to(path), Path(e.path), e.is_symlink()) for e in entries)
            listed = [(file, os.fsencode(relative), link) for relative, file, link in files]
        else:
            listed = [(path, os.fsencode(path.name), False)]
        for file, name, link in listed:
            digest.update(b"\0" + name + b"\0")  # any bytes: a name need not be UTF-8
            if link:
                digest.update(b"link\0" + os.fsencode(os.readlink(file)))
            elif file.is_file():
                digest.update(file.read_bytes())
    except OSError:
        return None
    return digest.hexdigest()


def _hand_in(directory: Path) -> Path:
    """The one notebook or script in a student's directory (a notebook wins over scripts);
    a symbolic link, a FIFO or a device is never one."""
    files = sorted(Path(entry.path) for entry in walk(directory, hidden=False)
                   if os.path.splitext(entry.name)[1] in SUFFIXES and _regular_file(entry))
    notebooks = [p for p in files if p.suffix == ".ipynb"]
    chosen = notebooks or files
    if not chosen:
        raise SubmissionError(f"{readable(str(directory))}: no .ipynb or .py file in this directory")
    if len(chosen) > 1:
        names = ", ".join(readable(str(p.relative_to(directory))) for p in chosen)
        raise SubmissionError(f"{readable(str(directory))}: several hand-ins, expected one: {names}")
    return chosen[0]


def _regular_file(entry: os.DirEntry) -> bool:
    try:
        return entry.is_file(follow_symlinks=False)
    except OSError:
        return False


def _unique_students(found: list[tuple[str, Path]]) -> list[tuple[str, Path]]:
    """Two entries named alike (`ann/` and `ann.ipynb`, two Canvas files of one student)
    stay two students: the second is `ann.ipynb`, a third `ann.ipynb (3)`, and so on."""
    taken: set[str] = set()
    unique = []
    for student, path in found:
        name = student
        if name in taken:
            name = f"{student}{readable(path.suffix)}"
        number = 2
        while name in taken:
            number += 1
            name = f"{student}{readable(path.suffix)} ({number})"
        taken.add(name)
        unique.append((name, path))
    return unique


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
        return Submission(student, path, "notebook", _notebook_cells(path, text), text, folder)
    return Submission(student, path, "script", script_cells(text), text, folder)


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
        cells.append(Cell(index, cell.cell_type, cell.source, hint=_metadata_hint(cell.metadata)))
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
    cells.append(Cell(len(cells), kind, "\n".join(lines), line=start, end_line=start + len(lines) - 1))


def _module_strings(text: str) -> list[tuple[int, int, str]]:
    """Module-level string statements: students often write their answers in a docstring."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return []
    return [
        (node.lineno, node.end_lineno or node.lineno, node.value.value)
        for node in tree.body
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    ]
