"""Find the hand-ins in what an instructor points at: files, class directories, a Canvas bulk
download (its zip unpacked first), one submission per student; and the content hash the cache
and the gradebook key a hand-in by.

Canvas names each file `name[_LATE]_userid_submissionid_original`, and renames a file handed
in again `original-1`: only the latest hand-in per Canvas user is graded, the older listed as
skipped. Files that are not hand-ins (hidden files, the grader's own output, links) are
skipped with a reason, never followed.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from grader.common.text import readable, terminal
from grader.load import archive
from grader.load.submission import SUFFIXES, SubmissionError, walk

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
