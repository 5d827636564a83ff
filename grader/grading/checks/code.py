"""Checks of the code's syntax tree: the calls it makes, its main guard."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import ClassVar

from grader.common.syntax import (
    UNPARSABLE,
    called_names,
    calls_any,
    is_main_guard,
    short_name,
    unparsable,
    without_magics,
)
from grader.common.text import clip
from grader.evidence.model import QuestionEvidence
from grader.grading.checks.base import Check, Outcome, register


@register
@dataclass(frozen=True, kw_only=True)
class Code(Check):
    """Static facts read from the code's syntax tree (not its text, so comments don't count)."""

    kind: ClassVar[str] = "code"
    calls: list[str] = field(default_factory=list)  # any one of these dotted names must be called
    main_guard: bool = False
    observed: str = ""  # "process" or "pool": what the run observed proves the calls were made
    named: bool = False  # an answer in words alone that names a call ("the multiprocessing.Pool class") earns it

    def __post_init__(self) -> None:
        if not self.calls and not self.main_guard:
            raise ValueError("a code check needs 'calls' or 'main_guard: true'")
        if self.observed not in ("", "process", "pool"):
            raise ValueError(f"observed must be 'process' or 'pool' or left out, not {self.observed!r}")

    def _proven(self, evidence: QuestionEvidence) -> bool:
        """The evidence shows what the call makes: points it proves are never taken away. A
        process's name is its own claim, so it proves the call only in a submission that
        imports the call's module at all."""
        modules = {call.split(".")[0] for call in self.calls}
        if modules and not any(re.search(rf"^[ \t]*(?:from|import)[ \t]+{re.escape(m)}\b", evidence.file_code, re.MULTILINE)
                               for m in modules):
            return False
        made = [p for p in evidence.children if p.name is not None]
        if self.observed == "process":
            return any(not p.pool_worker for p in made)
        if self.observed == "pool":
            return any(p.pool_worker for p in made)
        return False

    def evaluate(self, evidence: QuestionEvidence) -> Outcome:
        tree = _parsed(evidence.code)
        if isinstance(tree, str):
            if self._proven(evidence) and not self.main_guard:
                return Outcome(1.0, f"the run shows a {self.observed} was created")
            return self._sketched(evidence.code, f"the code does not parse: {tree}")
        if not evidence.code.strip():
            return self._sketched(evidence.answer, "no code was found for this question", named=self.named)
        problems = []
        if self.calls and not calls_any(tree, self.calls) and not self._proven(evidence):
            problems.append(f"does not call {' or '.join(self.calls)}")
        if self.main_guard and not _guarded(tree, evidence.file_code):
            problems.append("has no `if __name__ == \"__main__\":` guard")
        if problems:
            return Outcome(0.0, "the code " + " and ".join(problems))
        return Outcome(1.0, "the code " + ", ".join(
            ([f"calls {' or '.join(self.calls)}"] if self.calls else []) + (["has a __main__ guard"] if self.main_guard else [])
        ))


    def _sketched(self, text: str, why: str, named: bool = False) -> Outcome:
        """Code that cannot run (broken, or only sketched in the text answer) still shows
        which call the student meant, as an instructor reading it would see. A how-question
        ("How can we create a pool?") answered in words alone is part of an answer: with
        `named`, words that name the call count too."""
        if self.calls and not self.main_guard:
            for name in self.calls:  # `multiprocessing.Pool(` or `mp.Pool(`: the name after any dots
                if re.search(r"(?<!\w)" + re.escape(short_name(name)) + r"\s*\(", text[:_CODE_CHARS]):
                    return Outcome(1.0, f"{why}, but it calls {short_name(name)}(...)")
            for name in self.calls if named else []:  # `the Pool class`, `multiprocessing.Pool`: the name, capitalised as written
                if re.search(r"(?<!\w)" + re.escape(short_name(name)) + r"(?!\w)", text[:_CODE_CHARS]):
                    return Outcome(1.0, f"{why}, but the answer names {short_name(name)} in words")
        return Outcome(0.0, why)


_CODE_CHARS = 2_000_000  # of a question's code read for a sketched call: any real notebook's


@lru_cache(maxsize=8)  # a file's code is read by every check that looks at its guard
def _parsed(code: str) -> ast.Module | str:
    """The code's syntax tree, or why there is none: a syntax error, or code that nests
    deeper than Python's parser goes (100,000 brackets), or characters it cannot encode."""
    try:
        return ast.parse(without_magics(code))
    except UNPARSABLE as exc:
        return clip(unparsable(exc), 200) + (f" (line {exc.lineno})" if isinstance(exc, SyntaxError) else "")


@lru_cache(maxsize=8)
def _guarded(tree: ast.Module, file_code: str) -> bool:
    """The question's code has its own guard, or a guard elsewhere in the file calls it."""
    if any(is_main_guard(node) for node in tree.body):
        return True
    defined = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    whole = _parsed(file_code)
    if isinstance(whole, str):
        return False
    try:
        return any(is_main_guard(node) and defined & called_names(node) for node in whole.body)
    except RecursionError:
        return False
