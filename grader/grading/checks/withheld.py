"""A hidden check as a student's kit holds it: graded by the instructor's batch, not here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from grader.evidence.model import QuestionEvidence
from grader.grading.checks.base import Check, Outcome, register


@register
@dataclass(frozen=True, kw_only=True)
class Withheld(Check):
    """A hidden check as a student's kit has it (`grader assign`): its name, points and
    messages, and none of its parameters, so there is nothing to game. It is not evaluated
    here: the instructor's batch grades it."""

    kind: ClassVar[str] = "withheld"
    hidden: bool = True
    text: bool = False  # the check it stands for reads the text answer

    @property
    def reads_text(self) -> bool:
        return self.text

    def evaluate(self, evidence: QuestionEvidence) -> Outcome:
        return Outcome(0.0, "")
