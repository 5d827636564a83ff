"""Decide which question every cell, line and sentence of a submission belongs to.

Students mark questions in many ways (`Q3.`, `## Q3`, `Question 3`, `# Q3` in a script,
nbgrader/otter metadata), often several questions in one markdown cell. Everything after a
header belongs to that question until the next header. Text answers are the prose under a
header with the question's own prompt removed, so copying the question earns nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher

from grader.submission import Submission

_HEADER = re.compile(
    r"^\s*(?:#+\s*)?(?:[*_]{1,2}\s*)?(?:Q|Question|Exercise|Problem)\s*\.?\s*(\d+)\s*"
    r"(?=[.):\-*_]|\s|$)[.):\-*_]*\s*(.*)$",
    re.IGNORECASE,
)
_ANSWER_LABEL = re.compile(r"^\s*(?:[*_]{0,2})(?:answer|ans|solution)\s*[:.\-]?\s*(?:[*_]{0,2})\s*", re.I)


@dataclass(frozen=True)
class Attribution:
    cell_questions: tuple[str | None, ...]  # one per cell of the submission
    answers: dict[str, str]  # question -> its text answer, prompt removed
    regions: tuple[tuple[int, int, str | None], ...]  # scripts: (first line, last line, question)


def header_question(line: str, known: set[str]) -> tuple[str | None, str] | None:
    """(question, rest of the line) when the line is a question header, else None.
    A header of a question the rubric does not know ends the previous question."""
    match = _HEADER.match(line)
    if not match:
        return None
    question = f"q{int(match.group(1))}"
    return (question if question in known else None), match.group(2)


def attribute(submission: Submission, prompts: dict[str, str]) -> Attribution:
    known = set(prompts)
    current: str | None = None
    changes: list[tuple[int, str | None]] = [(1, None)]  # scripts: (line, question from there)
    cell_questions: list[str | None] = []
    prose: dict[str, list[str]] = {question: [] for question in prompts}
    for cell in submission.cells:
        if cell.hint in known:
            current = cell.hint
            changes.append((cell.line, current))
        cell_question, code_seen = current, False
        for offset, line in enumerate(cell.source.splitlines()):
            if cell.kind == "code" and line.strip() and not line.lstrip().startswith("#"):
                code_seen = True
                continue
            header = header_question(line, known)
            if header is not None:
                current, line = header
                changes.append((cell.line + offset, current))
                if not code_seen:
                    cell_question = current
            if cell.kind != "code" and current is not None:
                prose[current].append(line)
        cell_questions.append(cell_question)
    answers = {question: strip_prompt(lines, prompts[question]) for question, lines in prose.items()}
    regions: tuple[tuple[int, int, str | None], ...] = ()
    if submission.kind == "script":
        last = max(len(submission.text.splitlines()), 1)
        bounds = [line for line, _ in changes[1:]] + [last + 1]
        regions = tuple(
            (line, bound - 1, question)
            for (line, question), bound in zip(changes, bounds)
            if bound > line
        )
    return Attribution(tuple(cell_questions), answers, regions)


def _normal(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.lower()).split())


def strip_prompt(lines: list[str], prompt: str) -> str:
    """The answer without the question: drops each sentence that repeats the prompt."""
    wanted = _normal(prompt)
    kept: list[str] = []
    for line in lines:
        line = _ANSWER_LABEL.sub("", line)
        sentences = re.split(r"(?<=[.?!:])\s+", line)
        survivors = [s for s in sentences if not _repeats(_normal(s), wanted)]
        kept.append(" ".join(survivors))
    return "\n".join(kept).strip()


def _repeats(sentence: str, prompt: str) -> bool:
    if not sentence or not prompt:
        return False
    if len(sentence) >= 12 and sentence in prompt:
        return True
    return SequenceMatcher(None, sentence, prompt).ratio() >= 0.8
