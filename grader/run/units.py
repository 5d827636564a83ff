"""What the engines run, a unit of a submission's code planned by `run.plan`, and how it ended.

Its own module so that the engines and the planner share it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass

from grader.probe._grader_wire import UnitStatus


@dataclass(frozen=True)
class Unit:
    """A piece of code run on its own: a notebook cell, or a script's top-level statement."""

    question: str | None
    label: str
    source: str = ""  # notebook cell source
    start: int = 0  # script: first and last line
    end: int = 0
    indented: bool = False  # script: a statement inside `if __name__ == "__main__":`
    syntax_error: str | None = None
    definition: bool = False  # script: only defines (def, class, import): safe to run again


@dataclass(frozen=True)
class UnitOutcome:
    """One executed unit: a notebook cell or a script's top-level statement."""

    question: str | None
    label: str  # as the student sees it: "code cell 3 (`def worker():`)", "line 12"
    status: UnitStatus
    error: str | None = None
