"""What the two engines share: the protocol `execute` runs them through, and the driver.

An engine runs units in one process (a runner, or a Jupyter kernel) until they are all done
or that process is gone, and says how it ended; `drive` starts it again for the units left,
with one `Budget` (each question's seconds and the submission's deadline) that every pass
charges, and writes the outcome of every unit no process reached. Each engine keeps only what
is its own: how to start its process and how to watch one unit.
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
        self._left: dict[str, float] = {}  # by question id ("" for code outside every question)

    def seconds_for(self, question: str | None) -> float:
        """What `question` has left of its time limit."""
        return self._left.get(question or "", self.limits.timeout)

    def charge(self, question: str | None, seconds: float, timed_out: bool = False) -> None:
        """A unit of `question` took `seconds`; one that timed out leaves it none, whatever the clock says."""
        self._left[question or ""] = 0.0 if timed_out else self.seconds_for(question) - seconds

    def per_question(self) -> dict[str, float]:
        """Each charged question's seconds left, for a runner that keeps its own watch too."""
        return dict(self._left)

    def until_deadline(self) -> float:
        """Seconds until the submission's deadline (negative once it passed)."""
        return self.deadline - time.monotonic()

    def deadline_passed(self) -> str:
        """Why the units after the deadline were not run."""
        return f"the submission's time limit of {self.limits.submission_timeout:g} s ran out"


class End(Enum):
    """How one process of an engine stopped running units."""

    DONE = "done"  # every unit it was given has an outcome
    RESTART = "restart"  # it stopped a unit that overran, or was lost: go on in a fresh one
    DIED = "died"  # it ended during the next unit: that unit died, the rest go on in a fresh one
    STOPPED = "stopped"  # nothing more can run: the rest are not run, for `reason`


@dataclass(frozen=True)
class Pass:
    """What one process of an engine did: the outcomes of the units it finished, in order
    (none for a unit it did not finish), and how it ended."""

    outcomes: list[UnitOutcome]
    end: End = End.DONE
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
        if not rest:
            break
        if done.end is End.RESTART and done.outcomes:
            continue
        if done.end is End.DIED:
            outcomes.append(UnitOutcome(rest[0].question, rest[0].label, UnitStatus.DIED, done.reason or None))
        else:  # stopped, or a pass that finished nothing would only start again
            reason = done.reason if done.end is End.STOPPED else "its process ended before it"
            outcomes.extend(UnitOutcome(u.question, u.label, UnitStatus.NOT_RUN, reason) for u in rest)
    return outcomes
