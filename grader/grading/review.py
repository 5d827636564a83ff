"""Review flags: where a mark rests on a guess, and an instructor should look before trusting it.

Attribution guesses when no header says which question an answer belongs to (a restated
prompt, the order of the cells, a renumbered header); the grader runs code a student left
in a markdown or raw cell; a program that asks for input() gets the grader's answer; and a
question with an answer but no points may be a wrong guess rather than a wrong answer. Each
of these becomes one flag with its reason, carried into every report.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from grader.attribution.model import Attribution, Found
from grader.probe._grader_wire import INPUT_ANSWER


class Review(str, enum.Enum):
    FOUND_BY_PROMPT = "found by its restated prompt, with no number that agrees"
    FOUND_BY_ORDER = "found only by the order of the answers"
    FOUND_BY_SHAPE = "found by the shape of the answers: a header number shifted, or code taken from a neighbour"
    CODE_FROM_TEXT = "code was run from a markdown or raw cell or a string"
    INPUT_CALLED = "the code called input(): the grader answered"
    CONTENT_BUT_ZERO = "has an answer, but earned 0 points"
    FEW_FOUND = "fewer than half of the questions were found"
    EVIDENCE_REJECTED = "the run sent records that contradict what the kernel saw: forged or broken evidence"

    @property
    def short(self) -> str:
        return self.name.lower().replace("_", " ")


@dataclass(frozen=True)
class ReviewFlag:
    question: str | None  # None: the whole submission
    reason: Review
    detail: str

    @property
    def label(self) -> str:
        """A few words for a table cell: `q5: found by order`."""
        return f"{self.question}: {self.reason.short}" if self.question else self.reason.short


_FOUND = {Found.PROMPT: Review.FOUND_BY_PROMPT, Found.ORDER: Review.FOUND_BY_ORDER, Found.SHAPE: Review.FOUND_BY_SHAPE}


def review_flags(attribution: Attribution, inputs: tuple[tuple[str | None, str], ...],
                 scores: dict[str, float], rejected: tuple[str, ...] = ()) -> tuple[ReviewFlag, ...]:
    """`inputs`: (question, prompt) of each input() call; `scores`: each question's points;
    `rejected`: why the collector dropped records of the run."""
    flags: list[ReviewFlag] = []
    if rejected:
        flags.append(ReviewFlag(None, Review.EVIDENCE_REJECTED, "records dropped: " + "; ".join(rejected[:5])))
    for question, how in attribution.found.items():
        if how in _FOUND:
            flags.append(ReviewFlag(question, _FOUND[how], f"{question.upper()} was {_FOUND[how].value}"))
    for piece in attribution.pieces:
        if not piece.origin.runs_as_written and piece.question:
            flags.append(ReviewFlag(piece.question, Review.CODE_FROM_TEXT,
                                    f"{piece.question.upper()}: the code in {piece.label} ({piece.origin.value}) was run"))
    asked = dict.fromkeys(question for question, _ in inputs)
    for asking in asked:
        prompts = [prompt for q, prompt in inputs if q == asking]
        shown = f" ({prompts[0]!r})" if prompts and prompts[0] else ""
        flags.append(ReviewFlag(asking, Review.INPUT_CALLED,
                                f"{(asking or 'the code').upper()} called input(){shown} {len(prompts)} time(s);"
                                f" the grader answered {INPUT_ANSWER} each time"))
    for question, score in scores.items():
        has_content = attribution.answers.get(question, "").strip() or attribution.code.get(question, "").strip()
        if score == 0 and has_content:
            flags.append(ReviewFlag(question, Review.CONTENT_BUT_ZERO,
                                    f"{question.upper()} has an answer but earned 0 points: is it under the right question?"))
    found = [q for q, how in attribution.found.items() if how is not Found.MISSING]
    if len(found) * 2 < len(attribution.found):
        flags.append(ReviewFlag(None, Review.FEW_FOUND,
                                f"only {len(found)} of {len(attribution.found)} questions were found"))
    return tuple(flags)
