"""What the two engines share: the protocol `execute` drives them through, and the driver.

An engine runs units in one process (a runner, or a Jupyter kernel) until they are all done
or that process is gone; the driver (`drive`) starts it again for the units left, keeping each
question's time budget and the submission's deadline across the restarts, and says what became
of the units no process reached. Each engine keeps only what is its own: how to start its
process and how to watch one unit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from grader.common.text import Word
from grader.probe._grader_wire import UnitStatus
from grader.run.limits import Limits
from grader.run.units import Unit, UnitOutcome


class EngineKind(Word):
    """How a notebook runs: "shell" (IPython in a plain process, fast) or "kernel" (a real
    Jupyter kernel through nbclient, for anything that needs one). Scripts always run as scripts."""

    SHELL = "shell"
    KERNEL = "kernel"


class Budget:
    """Seconds left per question, across restarts, and the deadline of the whole submission."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.deadline = time.monotonic() + limits.submission_timeout
        self._left: dict[str, float] = {}

    def left(self, question: str | None) -> float:
        return self._left.get(question or "", self.limits.timeout)

    def spend(self, question: str | None, seconds: float, timed_out: bool = False) -> None:
        """A timed-out question has no time left, whatever its clock says."""
        self._left[question or ""] = 0.0 if timed_out else self.left(question) - seconds

    def seconds_left(self) -> dict[str, float]:
        """What each question has used so far, for a process that keeps its own watch."""
        return dict(self._left)

    def remaining(self) -> float:
        """Seconds until the submission's deadline."""
        return self.deadline - time.monotonic()

    def ran_out(self) -> str:
        return f"the submission's time limit of {self.limits.submission_timeout:g} s ran out"


class End(Enum):
    """Why one process stopped running units, when units are left."""

    RESTART = "restart"  # it stopped a unit that overran, or was lost: go on in a fresh one
    DIED = "died"  # it ended during the next unit: that unit died, the rest go on in a fresh one
    STOPPED = "stopped"  # nothing more can run: the rest are not run, for `reason`


@dataclass(frozen=True)
class Pass:
    """What one process of an engine did: the outcomes of the units it finished, in order,
    and how it ended (which matters only if that was not all)."""

    outcomes: list[UnitOutcome]
    end: End = End.RESTART
    reason: str = ""


class Engine(Protocol):
    def one_pass(self, units: list[Unit], done: list[Unit], budget: Budget) -> Pass:
        """Run `units` (those after `done`) in one new process, until the end or until it is gone."""
        ...


def drive(engine: Engine, units: list[Unit], limits: Limits) -> list[UnitOutcome]:
    """One outcome per unit, in order, however many processes it took."""
    budget = Budget(limits)
    outcomes: list[UnitOutcome] = []
    while len(outcomes) < len(units):
        done = engine.one_pass(units[len(outcomes):], units[:len(outcomes)], budget)
        outcomes.extend(done.outcomes)
        rest = units[len(outcomes):]
        if not rest or done.end is End.RESTART:
            continue
        if done.end is End.DIED:
            outcomes.append(UnitOutcome(rest[0].question, rest[0].label, UnitStatus.DIED, done.reason or None))
        else:
            outcomes.extend(UnitOutcome(u.question, u.label, UnitStatus.NOT_RUN, done.reason) for u in rest)
    return outcomes
