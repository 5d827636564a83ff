"""Pairs of submissions whose code or text is unusually alike, for the instructor to look at.

Fingerprinting is copydetect's (the winnowing of MOSS, with Python's tokens renamed so that
renaming variables hides nothing); this module only decides what counts as shared. In an
assignment this small most students write the same five lines, so what every student shares
is removed before comparing: the rubric's prompts, the instructor's template if given, and any
fingerprint that a quarter of the class has. A pair is listed when what is left of one side is
almost all found in the other (a copy with more added counts), with enough of it to mean something.
"""

from __future__ import annotations

import enum
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from grader.grading.results import Status, SubmissionResult

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
    def from_json(cls, data: dict) -> Pair:
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


def prepare() -> None:
    """Import copydetect (with numpy and, through its package, matplotlib: half a second), so
    that a batch can do it while its submissions run."""
    import copydetect.utils  # noqa: F401


def documents(result: SubmissionResult, material: Material) -> str:
    if material is Material.CODE:
        return "\n\n".join(q.code.strip() for q in result.questions if q.code.strip())
    return "\n\n".join(q.answer.strip() for q in result.questions if q.answer.strip())


def _normal_text(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s]", "", text.lower())).strip()


def find_pairs(results: list[SubmissionResult], shared_text: tuple[str, ...] = ()) -> list[Pair]:
    """`shared_text`: what students were given (prompts, a template's cells), never a match."""
    graded = [r for r in results if r.status is Status.GRADED]
    pairs = []
    for material in Material:
        pairs.extend(_pairs(graded, material, shared_text))
    return sorted(pairs, key=lambda pair: (-pair.similarity, pair.material.value, pair.first, pair.second))


@dataclass
class _Document:
    """One student's text, fingerprinted once: copydetect's filtered form, its offsets back to
    the raw text, and its fingerprints (hash -> positions in the filtered form)."""

    raw: str
    filtered: str
    offsets: Any  # a numpy array of (filtered index, characters removed before it)
    fingerprints: dict


def _document(text: str, material: Material) -> _Document:
    import numpy as np
    from copydetect.utils import filter_code, get_document_fingerprints

    if material is Material.CODE:
        filtered, offsets = filter_code(text, "answer.py")
    else:
        text = filtered = _normal_text(text)
        offsets = np.array([])
    _, fingerprints = get_document_fingerprints(filtered, K, WINDOW)
    return _Document(text, filtered, offsets, fingerprints)


def _pairs(results: list[SubmissionResult], material: Material, shared_text: tuple[str, ...]) -> list[Pair]:
    """copydetect's utilities do the work (tokens, k-gram hashes, overlaps, slices); its
    CodeFingerprint would tokenize each text once more to drop the shared fingerprints."""
    from copydetect.utils import (
        find_fingerprint_overlap,
        get_copied_slices,
        get_token_coverage,
    )

    texts = {r.student: documents(r, material) for r in results}
    texts = {student: text for student, text in texts.items() if text}
    if len(texts) < 2:
        return []
    seen: dict[str, _Document] = {}  # the same text twice is fingerprinted once
    for text in texts.values():
        if text not in seen:
            seen[text] = _document(text, material)
    docs = {student: seen[text] for student, text in texts.items()}
    given = {h for text in shared_text for h in _document(text, material).fingerprints}
    counts = Counter(h for doc in docs.values() for h in doc.fingerprints)
    common = given | {h for h, n in counts.items() if n >= max(3, SHARED * len(docs))}
    own = {student: {h: at for h, at in doc.fingerprints.items() if h not in common} for student, doc in docs.items()}
    coverage = {student: get_token_coverage(own[student], K, len(docs[student].filtered)) for student in docs}
    hashes = {student: set(fingerprints) for student, fingerprints in own.items()}  # once, not once per pair
    found = []
    students = sorted(docs)
    for i, a in enumerate(students):
        for b in students[i + 1:]:
            ha, hb = hashes[a], hashes[b]
            shared = ha & hb
            if not shared or max(_most(own[a], shared, coverage[a]), _most(own[b], shared, coverage[b])) < THRESHOLD:
                continue  # even if every shared fingerprint's K characters were new, not enough
            at_a, at_b = find_fingerprint_overlap(ha, hb, own[a], own[b])
            slices_a, slices_b = get_copied_slices(at_a, K), get_copied_slices(at_b, K)
            overlap = int((slices_a[1] - slices_a[0]).sum())
            share = max(overlap / coverage[a] if coverage[a] else 0.0,
                        int((slices_b[1] - slices_b[0]).sum()) / coverage[b] if coverage[b] else 0.0)
            if share < THRESHOLD or overlap < MIN_MATCH:
                continue  # one side found whole in the other counts: a copy with more added
            found.append(Pair(material, a, b, round(min(share, 1.0), 3), docs[a].raw, docs[b].raw,
                              _raw_ranges(slices_a, docs[a]), _raw_ranges(slices_b, docs[b])))
    return found


def _most(fingerprints: dict, shared: set, coverage: float) -> float:
    """An upper bound of the share of a side that the shared fingerprints can cover."""
    return sum(len(fingerprints[h]) for h in shared) * K / coverage if coverage else 0.0


def _raw_ranges(slices, doc: _Document) -> tuple[tuple[int, int], ...]:  # type: ignore[no-untyped-def]
    """Slices of the filtered form as character ranges of the raw text (copydetect's offsets)."""
    import numpy as np

    if len(slices) == 0 or len(slices[0]) == 0:
        return ()
    slices = np.array(slices, dtype=int)
    if len(doc.offsets) > 0:
        offsets = doc.offsets
        slices = slices + offsets[:, 1][np.clip(np.searchsorted(offsets[:, 0], slices), 0, offsets.shape[0] - 1)]
    return tuple((int(start), int(end)) for start, end in zip(slices[0], slices[1]))
