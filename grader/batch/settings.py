"""The settings of grading one submission: what a worker needs, and nothing else (they may
travel to another machine, `executors.DaskExecutor`). The batch, the cache and the
executors share them without importing each other."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from grader.grading.rubric import Rubric
from grader.run.engine import EngineKind
from grader.run.limits import Limits


@dataclass(frozen=True)
class Settings:
    rubric: Rubric
    limits: Limits
    protect: tuple[Path, ...] = ()  # paths student code must not see (the output, the gradebook)
    engine: EngineKind = EngineKind.SHELL
