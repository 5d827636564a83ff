"""The base of every check kind and the registry the rubric loader reads (see `grader.grading.checks`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from grader.evidence.model import QuestionEvidence

CHECK_KINDS: dict[str, type[Check]] = {}


def register(cls: type[Check]) -> type[Check]:
    CHECK_KINDS[cls.kind] = cls
    return cls


@dataclass(frozen=True)
class Outcome:
    fraction: float  # share of the check's points earned, 0..1
    detail: str  # what was observed, in words a student can act on


@dataclass(frozen=True, kw_only=True)
class Check:
    kind: ClassVar[str] = ""
    points: float
    name: str = ""
    hidden: bool = False
    on_pass: str = ""
    on_fail: str = ""

    @property
    def title(self) -> str:
        return self.name or self.kind.replace("_", " ")

    @property
    def reads_text(self) -> bool:
        """It judges the text answer, not code: a question with only such checks asks for text."""
        return False

    def evaluate(self, evidence: QuestionEvidence) -> Outcome:
        raise NotImplementedError
