"""Answer groups (by meaning, by words, by what was observed) and similar pairs (copydetect)."""

from __future__ import annotations

import os

import pytest

from grader.analysis.groups import SPREADS, Basis, group_question, model_available
from grader.analysis.similarity import Material, find_pairs
from grader.grading.results import ProcessView, QuestionResult, Role, Status, SubmissionResult


def _result(student: str, answer: str = "", code: str = "", score: float = 5,
            processes: tuple[ProcessView, ...] = ()) -> SubmissionResult:
    question = QuestionResult("q1", score, 10, (), (), processes, answer=answer, code=code)
    return SubmissionResult(student, f"{student}.ipynb", Status.GRADED, score, 10, None, (question,), 0.1)


PARAPHRASES = {  # two meanings, each said three ways with few words in common
    "a": "Processes each get their own memory, threads share one address space.",
    "b": "A thread lives inside a process and uses its memory; separate processes have separate memory.",
    "c": "Memory is private to each process but common to all the threads of a process.",
    "d": "I like pizza and going to the beach in summer.",
    "e": "My favourite food is pizza; in summer I go to the seaside.",
    "f": "Summer means beaches and pizza for me.",
}


def test_without_the_model_answers_in_the_same_words_group_and_empty_ones_apart():
    results = [_result("ann", "A pool is a group of worker processes that run tasks in parallel."),
               _result("bob", "A pool is a group of worker processes that run the tasks in parallel."),
               _result("cy", "Threads share memory; processes do not."),
               _result("dee", "")]
    groups = group_question(results, "q1", code=False, use_model=False)
    assert [g.members for g in groups] == [("ann", "bob"), ("cy",), ("dee",)]
    assert groups[0].basis is Basis.WORDS and groups[-1].basis is Basis.EMPTY


def test_the_model_groups_paraphrases_by_meaning():
    if not model_available():
        if os.environ.get("GRADER_REQUIRE_MODEL"):
            pytest.fail("the model extra is not installed: .ci/run installs it")
        pytest.skip("the model extra (all-MiniLM-L6-v2) is not installed")
    results = [_result(student, text) for student, text in PARAPHRASES.items()]
    meanings = [{"a", "b", "c"}, {"d", "e", "f"}]
    for spread in SPREADS:  # however tight, a group never mixes the two meanings
        groups = group_question(results, "q1", code=False, spread=spread)
        assert all(any(set(g.members) <= meaning for meaning in meanings) for g in groups)
        assert groups[0].basis is Basis.MODEL
    loose = group_question(results, "q1", code=False, spread=max(SPREADS))
    assert sorted(g.members for g in loose) == [("a", "b", "c"), ("d", "e", "f")]
    words = group_question(results, "q1", code=False, use_model=False, spread=max(SPREADS))
    assert len(words) > 2  # what the model adds: the same meaning in other words


def test_code_is_grouped_by_check_outcomes_and_the_shape_of_what_its_processes_printed():
    def child(text: str) -> tuple[ProcessView, ...]:
        return (ProcessView("1/1", 1, None, Role.MAIN, None, 0, "started 12:01\n"),
                ProcessView("1/2", 2, "1/1", Role.PROCESS, "Process-1", 0, text))
    results = [_result("ann", code="x", processes=child("child 4711 says hi\n")),
               _result("bob", code="y", processes=child("child 815 says hi\n")),  # another PID: same shape
               _result("cy", code="z", processes=child("nothing to say\n")),
               _result("dee", code="w", score=0, processes=child("child 1 says hi\n"))]  # marked otherwise
    groups = group_question(results, "q1", code=True)
    assert sorted(g.members for g in groups) == [("ann", "bob"), ("cy",), ("dee",)]
    assert all(g.basis is Basis.OBSERVED for g in groups)


SHARED = "import multiprocessing\n\ndef work(n):\n    return n * n\n"


def _program(name: str, extra: str) -> str:
    return SHARED + f"\nif __name__ == '__main__':\n{extra}\n"


def test_a_renamed_copy_is_found_and_what_the_class_shares_is_not():
    original = ("    totals = {}\n    for k in range(10):\n        totals[k] = sum(i * k for i in range(k))\n"
                "        if totals[k] % 3 == 0:\n            print('divisible', k, totals[k])\n"
                "    with multiprocessing.Pool(3) as pool:\n        print(sorted(pool.map(work, totals.values()))[-3:])\n")
    renamed = original.replace("totals", "acc").replace("k", "j").replace("'divisible'", "'by three'")
    own = [f"    print(multiprocessing.Pool({n}).map(work, range({n})))\n    print('mine {n}')\n" for n in range(2, 8)]
    results = [_result("orig", code=_program("orig", original)), _result("copy", code=_program("copy", renamed)),
               *[_result(f"s{n}", code=_program(f"s{n}", body)) for n, body in enumerate(own)]]
    pairs = find_pairs(results)
    assert [(p.material, p.first, p.second) for p in pairs] == [(Material.CODE, "copy", "orig")]
    matched = "".join(text for text, hit in pairs[0].pieces(1) if hit)
    assert "sum(i * k for i in range(k))" in matched and "def work" not in matched  # shared by all: not a match


def test_text_given_in_the_template_is_never_a_match():
    prompt = ("Explain in your own words what a process is and how the operating system keeps "
              "processes apart from each other in memory.")
    results = [_result("a", answer=f"{prompt} Mine."), _result("b", answer=f"{prompt} Each has an address space.")]
    assert find_pairs(results, shared_text=(prompt,)) == []
    assert find_pairs(results) != []  # two students alone: without the template, the prompt itself matches


def test_the_cheap_bound_never_drops_a_pair_the_exact_comparison_would_list(monkeypatch):
    import random

    from grader.analysis import similarity

    rng = random.Random(3)
    lines = [f"    x{i} = work({i}) + {i * 7}\n" if i % 3 else f"    print('step', {i})\n" for i in range(40)]
    programs = ["".join(rng.sample(lines, rng.randint(4, 12))) for _ in range(24)]
    programs += [programs[0] + lines[0], programs[1][: len(programs[1]) // 2]]  # copies, one with more, one cut
    results = [_result(f"s{i:02d}", code=_program("", body)) for i, body in enumerate(programs)]
    monkeypatch.setattr(similarity, "THRESHOLD", 0.6)
    pruned = similarity.find_pairs(results)
    monkeypatch.setattr(similarity, "_most", lambda *_: 1.0)  # no pruning: every pair compared exactly
    assert similarity.find_pairs(results) == pruned and pruned
