"""Unpack a Canvas bulk download (`submissions.zip`) into a class directory, safely.

The archive is untrusted: a member may be named `../../x` or `/etc/x`, be a symbolic link,
claim a small size and expand to gigabytes, or be one of a million. Members are written only
under the target, as regular files, with their real (not declared) sizes counted against the
limits below; an archive over a limit is refused whole, with the reason. The target is named by
the archive's hash, so unpacking the same zip again gives the same paths (and cache hits).
"""

from __future__ import annotations

import hashlib
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from grader.common.text import readable, report_name

MAX_MEMBERS = 5_000
MAX_TOTAL = 1 << 30  # bytes of all members together, once unpacked
MAX_MEMBER = 64 << 20


class ArchiveError(Exception):
    """The archive cannot be used; the message names the file and what is wrong."""


def unpack(archive: Path, into: Path) -> Path:
    """The class directory holding the archive's files (made once, then reused)."""
    try:
        digest = hashlib.sha256(archive.read_bytes()).hexdigest()[:12]
    except OSError as exc:
        raise ArchiveError(f"{readable(str(archive))}: cannot read: {exc.strerror}") from None
    target = into / f"{report_name(archive.stem)}-{digest}"
    if target.is_dir():
        return target
    into.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=".unpacking-", dir=into))
    try:
        _extract(archive, partial)
        partial.rename(target)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return target


def _extract(archive: Path, target: Path) -> None:
    where = readable(str(archive))
    try:
        with zipfile.ZipFile(archive) as bundle:
            members = [m for m in bundle.infolist() if not m.is_dir()]
            if len(members) > MAX_MEMBERS:
                raise ArchiveError(f"{where}: {len(members)} files in the archive, more than {MAX_MEMBERS}")
            total = 0
            for member in members:
                mode = member.external_attr >> 16
                if stat.S_IFMT(mode) and not stat.S_ISREG(mode):
                    continue  # a link or a device is never a hand-in
                relative = _safe_name(member.filename)
                if relative is None:
                    raise ArchiveError(f"{where}: member {readable(member.filename)!r} would be written outside the class directory")
                destination = target.joinpath(*relative.parts)
                destination.parent.mkdir(parents=True, exist_ok=True)
                if destination.exists():
                    raise ArchiveError(f"{where}: member {readable(member.filename)!r} appears twice")
                written = 0
                with bundle.open(member) as source, destination.open("xb") as sink:
                    while chunk := source.read(1 << 20):
                        written += len(chunk)
                        total += len(chunk)
                        if written > MAX_MEMBER:
                            raise ArchiveError(f"{where}: {readable(member.filename)!r} unpacks to more than {MAX_MEMBER >> 20} MiB")
                        if total > MAX_TOTAL:
                            raise ArchiveError(f"{where}: the archive unpacks to more than {MAX_TOTAL >> 30} GiB")
                        sink.write(chunk)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError, EOFError) as exc:
        raise ArchiveError(f"{where}: not a usable zip archive: {exc}") from None
    except OSError as exc:
        raise ArchiveError(f"{where}: cannot unpack: {exc.strerror or exc}") from None


def _safe_name(name: str) -> PurePosixPath | None:
    """The member's path inside the target, or None if it would leave it."""
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or not path.parts or any(part in ("", ".", "..") for part in path.parts):
        return None
    return path
