"""Checks of a text answer: the concepts it names, read as prose."""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar

from grader.evidence.model import QuestionEvidence
from grader.grading.checks.base import Check, Outcome, register


@register
@dataclass(frozen=True, kw_only=True)
class Concepts(Check):
    """Partial credit for each group of synonyms the answer mentions. A plain word matches
    at the start of a word ("process" matches "processes"); `re:` starts a regex.

    The answer must read as prose: the words counted against `min_words` and `full_words`
    are at most three per word that is not a key word, two per different word, and, past
    the first ten, ten per common function word ("the", "is", "of", ...). A terse sentence
    keeps all its words; a list of key words, repeated or padded, does not (`prose: false`
    counts every word)."""

    kind: ClassVar[str] = "concepts"
    groups: list[list[str]]
    full_marks_at: int = 0  # groups needed for full marks; 0 means all of them
    min_words: int = 5
    full_words: int = 0  # an answer shorter than this (a sentence or two) earns at most half
    prose: bool = True  # the answer's words count only as far as it reads as sentences

    @property
    def reads_text(self) -> bool:
        return True

    def __post_init__(self) -> None:
        if not self.groups or not all(self.groups):
            raise ValueError("groups must be a non-empty list of non-empty lists")
        if self.full_marks_at > len(self.groups):
            raise ValueError(f"full_marks_at is {self.full_marks_at} but there are {len(self.groups)} groups")
        for group in self.groups:
            for pattern in group:
                if pattern.startswith("re:"):
                    try:
                        re.compile(pattern[3:])
                    except re.error as exc:
                        raise ValueError(f"bad regex {pattern!r}: {exc}") from None

    def evaluate(self, evidence: QuestionEvidence) -> Outcome:
        answer = evidence.answer[:_ANSWER_CHARS]
        words = [(m.start(), m.end()) for m in _WORD.finditer(answer)]
        counted, listed = (_prose_words(answer, words, self.groups) if self.prose else (len(words), ""))
        if counted < self.min_words:
            if listed:
                return Outcome(0.0, f"{listed}: explain the idea in sentences, in your own words")
            found = "no answer" if not words else f"only {len(words)} word(s)"
            return Outcome(0.0, f"{found} under this question's header (at least {self.min_words} expected)")
        matched = [group for group in self.groups if any(_mentions(answer, p) for p in group)]
        missing = [group[0] for group in self.groups if group not in matched]
        needed = self.full_marks_at or len(self.groups)
        fraction = min(1.0, len(matched) / needed)
        detail = f"mentions {len(matched)} of {len(self.groups)} key ideas ({needed} for full marks)"
        if missing and fraction < 1:
            detail += f"; not covered: {', '.join(missing)}"
        if counted < self.full_words and fraction > 0.5:
            fraction = 0.5
            if listed:
                detail += f"; {listed}: explain it in sentences, in your own words"
            else:
                detail += f"; the answer is short ({len(words)} words): explain it more fully, in your own words"
        return Outcome(fraction, detail)


_ANSWER_CHARS = 100_000  # of a text answer, read by the check: far beyond any real answer
_WORD = re.compile(r"\w+")
_FUNCTION_WORDS = frozenset(["a", "an", "the", "is", "are", "was", "were", "be", "been", "being", "am", "of", "to", "in", "on", "at", "by", "for", "with", "from", "as", "and", "or", "but", "nor", "not", "no", "so", "than", "then", "that", "which", "who", "whom", "whose", "this", "these", "those", "it", "its", "they", "them", "their", "there", "here", "can", "could", "will", "would", "may", "might", "must", "should", "shall", "do", "does", "did", "has", "have", "had", "if", "when", "while", "where", "because", "since", "also", "each", "every", "any", "all", "some", "more", "most", "other", "such", "into", "onto", "over", "under", "between", "through", "about", "only", "very", "just", "one", "two", "own", "same", "both", "either", "neither", "like", "unlike", "whereas", "however", "therefore", "thus", "hence", "i", "we", "you", "he", "she", "our", "your", "my", "his", "her", "us", "me", "what", "how", "why", "per", "via", "without", "within", "across"])


def _prose_words(answer: str, words: list[tuple[int, int]], groups: list[list[str]]) -> tuple[int, str]:
    """How many of the answer's words count: all of them in sentences; in a list of key
    words (bare, repeated or padded with other words) only as many as its prose carries.
    Also what the answer looks like, when that is fewer than all."""
    starts = [start for start, _ in words]
    keyword = bytearray(len(words))
    for group in groups:
        for pattern in group:
            for match in _pattern(pattern).finditer(answer):
                index = max(bisect_right(starts, match.start()) - 1, 0)
                while index < len(words) and words[index][0] < max(match.end(), match.start() + 1):
                    if words[index][1] > match.start():
                        keyword[index] = 1
                    index += 1
    total = len(words)
    keywords = sum(keyword)
    lowered = [answer[start:end].lower() for start, end in words]
    function = sum(1 for word, key in zip(lowered, keyword) if not key and word in _FUNCTION_WORDS)
    distinct = len(set(lowered))
    counted = min(total, 3 * (total - keywords), 2 * distinct, 10 + 10 * function)
    if counted >= total:
        return total, ""
    if counted == 3 * (total - keywords):
        return counted, f"the answer reads as a list of key words ({keywords} of its {total} words are the key words themselves)"
    if counted == 2 * distinct:
        return counted, f"the answer repeats itself ({distinct} different words in {total})"
    return counted, f"the answer reads as a list of words, not sentences (only {function} of its {total} words join them)"


@lru_cache(maxsize=256)
def _pattern(pattern: str) -> re.Pattern[str]:
    if pattern.startswith("re:"):
        return re.compile(pattern[3:], re.IGNORECASE)
    return re.compile(r"(?<!\w)" + re.escape(pattern), re.IGNORECASE)


def _mentions(text: str, pattern: str) -> bool:
    return _pattern(pattern).search(text) is not None
