"""Checks that a question's code ran to its end: no exception, no time-out, children exiting 0."""

from __future__ import annotations

import re
import signal
from dataclasses import dataclass
from typing import ClassVar

from grader.common.text import clip
from grader.evidence.model import Process, QuestionEvidence
from grader.grading.checks.base import Check, Outcome, register
from grader.grading.checks.processes import named
from grader.probe._grader_wire import UnitStatus
from grader.run.units import UnitOutcome


@register
@dataclass(frozen=True, kw_only=True)
class RanCleanly(Check):
    """No uncaught exception in the question's code, no time-out, and every child exited 0."""

    kind: ClassVar[str] = "ran_cleanly"

    def evaluate(self, evidence: QuestionEvidence) -> Outcome:
        if not evidence.units:
            return Outcome(0.0, "no code was found for this question")
        for unit in evidence.units:
            if unit.status is not UnitStatus.OK:
                return Outcome(0.0, f"the code at {unit.label} {_what_happened(unit)}")
        for child in evidence.children:
            if child.pool_worker and child.exit_code in (None, 0, -signal.SIGTERM, -signal.SIGKILL):
                continue  # a pool ends its workers itself (SIGTERM), or the grader a pool left open (SIGKILL)
            if child.name is not None and child.exit_code != 0:
                if child.exit_code is None:
                    how = "was killed or never finished"
                elif child.exit_code < 0:
                    how = f"was killed by signal {_signal_name(-child.exit_code)}"
                else:
                    how = f"exited with code {child.exit_code}"
                return Outcome(0.0, f"child process {named(child)} {how}{child_failure(child)}")
        return Outcome(1.0, "ran without errors; every child process exited with code 0")


def _what_happened(unit: UnitOutcome) -> str:
    return {
        UnitStatus.ERROR: f"raised {clip(unit.error or '')}",
        UnitStatus.TIMEOUT: "ran past the time limit and was stopped",
        UnitStatus.DIED: "killed the process running it (its kernel), which was restarted",
        UnitStatus.SKIPPED: "was not run: the question's time was used up",
        UnitStatus.NOT_RUN: f"was not run: {clip(unit.error or 'the run ended before it')}",
    }[unit.status]


_FRAME = re.compile(r'^  File "(?P<file>[^"]*)", line (?P<line>\d+), in (?P<function>.*)$')
_LIBRARY = ("/multiprocessing/", "/concurrent/", "/site-packages/", "/lib/python", "_grader_")


def child_failure(child: Process) -> str:
    """What a child printed as it failed, as Jupyter would show it: the exception, and the
    last line of the student's own code it went through; with a spawned child that could
    not find a notebook's function, why."""
    text = child.stderr[-20_000:]
    start = text.rfind("Traceback (most recent call last):")
    if start < 0:
        return ""
    rows = text[start:].splitlines()
    exception = next((row for row in reversed(rows) if row and not row.startswith(" ")), "")
    own = None
    for index, row in enumerate(rows):
        frame = _FRAME.match(row)
        if frame and not any(part in frame.group("file") for part in _LIBRARY):
            code = rows[index + 1].strip() if index + 1 < len(rows) and rows[index + 1].startswith("    ") else ""
            own = f"line {frame.group('line')} in {frame.group('function')}" + (f": `{code}`" if code else "")
    said = f": {clip(exception, 300)}" + (f" (at {clip(own, 200)})" if own else "")
    if "Can't get attribute" in exception and "__main__" in exception:
        said += (". A process started with spawn or forkserver imports the main module again, and a function"
                 " defined in a notebook cell is not in it: put the function in a .py file and import it,"
                 " or use the default start method (fork)")
    return said


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)
