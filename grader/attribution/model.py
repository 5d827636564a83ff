"""What attribution knows and decides: what the rubric asks, how each answer was found,
and which question every piece of the submission's code and text answers."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass


class Found(str, enum.Enum):
    """How a question's answer was located: the review flags name the weak ones."""

    METADATA = "metadata"
    HEADER = "header"
    PROMPT = "prompt"
    SHAPE = "shape"  # a header number shifted to fit the answer's shape (renumbered work)
    ORDER = "order"
    MISSING = "missing"


@dataclass(frozen=True)
class Asked:
    """What attribution needs to know of a rubric question."""

    id: str
    prompt: str
    asks_code: bool
    calls: tuple[str, ...] = ()  # what its code is expected to call (from the rubric's code checks)

    @property
    def number(self) -> int | None:
        match = re.fullmatch(r"[a-z]*(\d+)", self.id, re.IGNORECASE)
        return int(match.group(1)) if match else None


class Origin(str, enum.Enum):
    """Where a piece of code was found: only a code cell's code runs in Jupyter."""

    CODE_CELL = "code cell"
    MARKDOWN = "markdown cell"
    RAW = "raw cell"
    STRING = "string"

    @property
    def runs_as_written(self) -> bool:
        return self is Origin.CODE_CELL


@dataclass(frozen=True)
class Piece:
    """Code to run for a question, in the order of the notebook."""

    cell: int
    question: str | None
    source: str
    origin: Origin
    label: str  # as the student sees it: "code cell 3", "markdown cell 2"


@dataclass(frozen=True)
class Attribution:
    cell_questions: tuple[str | None, ...]  # one per cell of the submission
    pieces: tuple[Piece, ...]  # the code to run, in order
    answers: dict[str, str]  # question -> its text answer, prompt removed
    code: dict[str, str]  # question -> the code credited to it
    found: dict[str, Found]
    notes: dict[str, tuple[str, ...]]  # question -> what attribution did that a reviewer should know
    regions: tuple[tuple[int, int, str | None], ...]  # scripts: (first line, last line, question)
    script: str = ""  # scripts: the text to run (sentences typed among the code blanked out)
