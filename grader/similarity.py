"""Pairs of submissions whose code or text is unusually alike, for the instructor to look at.

Fingerprinting is copydetect's (the winnowing of MOSS, with Python's tokens renamed so that
renaming variables hides nothing); this module only decides what counts as shared. In an
assignment this small most students write the same five lines, so what every student shares
is removed before comparing: the rubric's prompts, the instructor's template if given, and any
fingerprint that a quarter of the class has. A pair is listed when what is left of each side
is mostly the other's, with enough of it to mean something.
"""

from __future__ import annotations

import enum
import io
import logging
import re
from collections import Counter
from dataclasses import dataclass

from grader.scoring import SubmissionResult

K = 20  # characters of filtered code (or of normalised text) in one fingerprint
WINDOW = 1  # every k-gram: the documents are short
SHARED = 0.25  # a fingerprint in this share of the class (and in 3 students at least) is common property
THRESHOLD = 0.9  # of one side's remaining fingerprints found in the other (bench/groups.py)
MIN_MATCH = 60  # characters matched, at the least


class Material(str, enum.Enum):
    CODE = "code"
    TEXT = "text"


@dataclass(frozen=True)
class Pair:
    material: Material
    first: str  # student
    second: str
    similarity: float  # the larger of the two sides' shares found in the other, 0 to 1
    first_text: str
    second_text: str
    first_parts: tuple[tuple[int, int], ...]  # character ranges of first_text found in second_text
    second_parts: tuple[tuple[int, int], ...]

    def to_json(self) -> dict:
        return {"material": self.material.value, "first": self.first, "second": self.second,
                "similarity": self.similarity, "first_text": self.first_text, "second_text": self.second_text,
                "first_parts": [list(p) for p in self.first_parts], "second_parts": [list(p) for p in self.second_parts]}

    @classmethod
    def from_json(cls, data: dict) -> "Pair":
        return cls(Material(data["material"]), data["first"], data["second"], data["similarity"],
                   data["first_text"], data["second_text"], tuple(tuple(p) for p in data["first_parts"]),  # type: ignore[misc]
                   tuple(tuple(p) for p in data["second_parts"]))  # type: ignore[misc]

    def pieces(self, side: int) -> list[tuple[str, bool]]:
        """The side's text cut into (piece, matched) for showing the matching parts."""
        text, parts = (self.first_text, self.first_parts) if side == 0 else (self.second_text, self.second_parts)
        pieces, at = [], 0
        for start, end in sorted(parts):
            start = max(start, at)
            if start > at:
                pieces.append((text[at:start], False))
            if end > start:
                pieces.append((text[start:end], True))
            at = max(at, end)
        pieces.append((text[at:], False))
        return [piece for piece in pieces if piece[0]]


def documents(result: SubmissionResult, material: Material) -> str:
    if material is Material.CODE:
        return "\n\n".join(q.code.strip() for q in result.questions if q.code.strip())
    return "\n\n".join(q.answer.strip() for q in result.questions if q.answer.strip())


def _normal_text(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s]", "", text.lower())).strip()


def find_pairs(results: list[SubmissionResult], shared_text: tuple[str, ...] = ()) -> list[Pair]:
    """`shared_text`: what students were given (prompts, a template's cells), never a match."""
    graded = [r for r in results if r.status == "graded"]
    pairs = []
    for material in Material:
        pairs.extend(_pairs(graded, material, shared_text))
    return sorted(pairs, key=lambda pair: (-pair.similarity, pair.material.value, pair.first, pair.second))


def _pairs(results: list[SubmissionResult], material: Material, shared_text: tuple[str, ...]) -> list[Pair]:
    from copydetect import CodeFingerprint, compare_files  # numpy and pygments: imported when used

    logging.getLogger().setLevel(max(logging.getLogger().level, logging.ERROR))  # copydetect warns per plain-text file

    def fingerprint(text: str, boilerplate: list[int]) -> CodeFingerprint:
        if material is Material.CODE:
            return CodeFingerprint("answer.py", K, WINDOW, boilerplate, fp=io.StringIO(text))
        return CodeFingerprint("answer.txt", K, WINDOW, boilerplate, filter=False, fp=io.StringIO(_normal_text(text)))

    texts = {r.student: documents(r, material) for r in results}
    texts = {student: text for student, text in texts.items() if text}
    if len(texts) < 2:
        return []
    given = set()
    for text in shared_text:
        given |= set(fingerprint(text, []).hashes)
    first = {student: fingerprint(text, []) for student, text in texts.items()}
    counts = Counter(h for fp in first.values() for h in set(fp.hashes))
    common = {h for h, n in counts.items() if n >= max(3, SHARED * len(texts))}
    boilerplate = sorted(given | common)
    prints = {student: fingerprint(text, boilerplate) for student, text in texts.items()}
    found = []
    students = sorted(prints)
    for i, a in enumerate(students):
        for b in students[i + 1:]:
            ha, hb = set(prints[a].hashes), set(prints[b].hashes)
            if not ha or not hb or len(ha & hb) < THRESHOLD * min(len(ha), len(hb)) * 0.8:
                continue  # a cheap bound before copydetect's exact comparison
            overlap, (sa, sb), (parts_a, parts_b) = compare_files(prints[a], prints[b])
            share = float(max(sa, sb))  # one side found whole in the other: a copy with more added
            if share < THRESHOLD or overlap < MIN_MATCH:
                continue
            found.append(Pair(material, a, b, round(share, 3),
                              prints[a].raw_code, prints[b].raw_code,
                              _ranges(parts_a), _ranges(parts_b)))
    return found


def _ranges(slices) -> tuple[tuple[int, int], ...]:  # type: ignore[no-untyped-def]
    if len(slices) == 0 or len(slices[0]) == 0:
        return ()
    return tuple((int(start), int(end)) for start, end in zip(slices[0], slices[1]))
