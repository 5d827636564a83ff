"""The records the probe and the runner send to the grader's collector: one vocabulary that
both sides import (the probe as a top-level module inside the student's processes, the grader
as `grader.probe._grader_wire`), so a kind or a status is spelled in one place.

Every record is a JSON object whose `k` is its `Kind`; the other fields by kind:

    hello        q                    a process starts (the collector answers when it has read /proc;
                                      how it started, the collector reads there too)
    sandbox      status               the launcher's report of the protections it applied
    start        n                    the runner begins unit n
    unit         n, status, error     unit n ended (`UnitStatus`, the first four)
    write        stream, text, q, thread
    task         values, inputs, q    a pool worker sent results back (repr of each)
    child        child, name, q       multiprocessing started a process
    reaped       child, code          ...and its parent saw it end
    mp, exit     name, mp_parent / code
    cut, input   q / prompt, q
    pool_worker, server               what multiprocessing made this process
"""

from __future__ import annotations

from enum import Enum

KIND = "k"  # the field every record has
INPUT_ANSWER = "4"  # what the probe types at an input() prompt: a number reads as text, int or float

# What multiprocessing puts on the command line of a Python it starts, and how that process
# came to be: the probe reads its own argv, the collector the kernel's /proc/PID/cmdline.
STARTED_BY_MULTIPROCESSING = {
    "--multiprocessing-fork": "spawn",
    "multiprocessing.forkserver": "forkserver",
    "multiprocessing.resource_tracker": "helper",
}


class Kind(str, Enum):
    HELLO = "hello"
    SANDBOX = "sandbox"
    START = "start"
    UNIT = "unit"
    WRITE = "write"
    TASK = "task"
    CHILD = "child"
    REAPED = "reaped"
    MP = "mp"
    EXIT = "exit"
    CUT = "cut"
    INPUT = "input"
    POOL_WORKER = "pool_worker"
    SERVER = "server"


class Mode(str, Enum):
    """What the runner runs: a script's statements, or a notebook's cells."""

    STATEMENTS = "statements"
    CELLS = "cells"

    def __str__(self) -> str:
        return str(self.value)


class UnitStatus(str, Enum):
    """How a unit (a cell, a statement) ended. The runner reports the first four; the
    grader's engines add the last two, for units no process could report."""

    OK = "ok"
    ERROR = "error"
    TIMEOUT = "timeout"
    SKIPPED = "skipped"  # its question's time was already used up
    DIED = "died"  # its process (a kernel, a notebook's runner) died in it
    NOT_RUN = "not run"

    def __str__(self) -> str:
        return str(self.value)


REPORTED = frozenset({UnitStatus.OK, UnitStatus.ERROR, UnitStatus.TIMEOUT, UnitStatus.SKIPPED})
