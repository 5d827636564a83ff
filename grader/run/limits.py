"""Every limit of a run, as the rubric and the command line set them, and how a resource
limit that was reached is named in a student's feedback (`Limit.describe`). Time limits are
told where they are kept: `grading.notes` and `run.engine`."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import get_type_hints

from grader.common.text import Word

MIB = 1 << 20
GIB = 1 << 30


@dataclass(frozen=True)
class Limits:
    """Every limit of a run; a rubric's `limits:` and the command line override these."""

    timeout: float = 30.0  # wall seconds per question
    submission_timeout: float = 300.0  # wall seconds per submission
    memory: int = 1 * GIB  # per process (data segment: heap and private mappings)
    memory_total: int = 4 * GIB  # all processes of the run together (cgroup)
    processes: int = 64  # alive at once
    output: int = 1 * MIB  # kept per question and process; the rest is cut with a note
    cpu_time: int = 300  # CPU seconds per process
    file_size: int = 64 * MIB  # largest file a process may write
    disk: int = 256 * MIB  # all files the run writes together (its tmpfs)
    files: int = 20_000  # files and directories the run may create
    output_total: int = 16 * MIB  # kept of all processes' output together


LIMIT_NAMES = {f.name for f in fields(Limits)}
SIZE_LIMITS = {"memory", "memory_total", "output", "file_size", "disk", "output_total"}
_TYPES = get_type_hints(Limits)  # each field's int or float


def parse_size(text: str | int) -> int:
    """'1 GiB', '512M', '4g', 1048576 -> bytes."""
    if isinstance(text, int):
        return text
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*", str(text), re.IGNORECASE)
    if not match:
        raise ValueError(f"not a size: {text!r} (try 512M or 1GiB)")
    scale = {"": 1, "k": 1 << 10, "m": MIB, "g": GIB, "t": 1 << 40}[match.group(2).lower()]
    return int(float(match.group(1)) * scale)


def format_size(size: int) -> str:
    for unit, scale in (("GiB", GIB), ("MiB", MIB), ("KiB", 1 << 10)):
        if size >= scale and size % scale == 0:
            return f"{size // scale} {unit}"
    return f"{size} bytes"


class Limit(Word):
    """A limit a run reached, by the `Limits` field it is."""

    MEMORY = "memory"
    MEMORY_TOTAL = "memory_total"
    PROCESSES = "processes"
    OUTPUT = "output"
    CPU_TIME = "cpu_time"
    FILE_SIZE = "file_size"

    def describe(self, limits: Limits) -> str:
        """The feedback's words for it, with the value it was set to."""
        return {
            Limit.MEMORY: f"memory limit of {format_size(limits.memory)} per process exceeded",
            Limit.MEMORY_TOTAL: f"memory limit of {format_size(limits.memory_total)} for all processes together exceeded",
            Limit.PROCESSES: f"process limit of {limits.processes} processes alive at once reached",
            Limit.OUTPUT: f"output limit of {format_size(limits.output)} reached",
            Limit.CPU_TIME: f"CPU time limit of {limits.cpu_time:g} s per process exceeded",
            Limit.FILE_SIZE: f"file size limit of {format_size(limits.file_size)} exceeded",
        }[self]


def limit_value(name: str, value: object) -> float | int:
    """A rubric's or the command line's value for limit `name`, of the type `Limits` has:
    a size ('512M', '1 GiB'), a whole number, or seconds. ValueError says what was expected."""
    kind = _TYPES[name]
    what = ("a size such as 512M or 1GiB" if name in SIZE_LIMITS else
            "a positive whole number" if kind is int else "a positive number")
    try:
        if isinstance(value, bool):
            raise TypeError
        if name in SIZE_LIMITS:
            parsed: float | int = parse_size(value)  # type: ignore[arg-type]
        elif kind is int:
            number = float(value)  # type: ignore[arg-type]
            if not number.is_integer():
                raise ValueError
            parsed = int(number)
        else:
            parsed = float(value)  # type: ignore[arg-type]
        if parsed <= 0:
            raise ValueError
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"expected {what}, got {value!r}") from None
    return parsed

