"""Each check kind on evidence built by hand: what passes, what fails, and what it says."""

from __future__ import annotations

import pytest

from grader.checks import (Code, Concepts, Processes, RanCleanly, RealPids, SeparateWriters,
                           Value)
from grader.evidence import Process, QuestionEvidence, Task, UnitOutcome, Write

ROOT = 100


def key(pid: int) -> str:
    return f"pid:[4026531836]/{pid}"


def proc(pid, name=None, pool=False, exit_code=0, ppid=ROOT, question="q"):
    return Process(key=key(pid), pid=pid, ppid=ppid, how="fork", question=question, name=name,
                   creator=ppid if name else None, pool_worker=pool, exit_code=exit_code,
                   stdout="", stderr="")


def evidence(children=(), writes=(), tasks=(), units=(UnitOutcome("q", "cell 1", "ok"),), **text):
    processes = {key(ROOT): Process(key(ROOT), ROOT, 1, "root", None, None, None, False, None, "", "")}
    processes.update({p.key: p for p in children})
    return QuestionEvidence(
        question="q", roots=frozenset({key(ROOT)}), processes=processes, children=tuple(children),
        writes=tuple(Write(key(pid), "stdout", text_, "q", main) for pid, text_, main in writes),
        tasks=tuple(tasks), units=tuple(units), **text,
    )


# --- concepts


GROUPS = [["process"], ["parallel", "simultaneous", "at the same time"], ["CPU", "core"]]


@pytest.mark.parametrize(
    "answer,fraction",
    [
        ("Several processes run in parallel on different CPU cores.", 1.0),
        ("It lets independent processes execute simultaneously, one per core.", 1.0),  # paraphrase
        ("Processes work at the same time, which is nice.", 2 / 3),
        ("I really like pizza with extra cheese on Fridays.", 0.0),  # irrelevant
        ("", 0.0),
        ("process parallel CPU", 0.0),  # too short to be an answer
    ],
)
def test_concepts(answer, fraction):
    outcome = Concepts(points=10, groups=GROUPS).evaluate(evidence(answer=answer))
    assert outcome.fraction == pytest.approx(fraction)


def test_concepts_full_marks_at_and_regex():
    check = Concepts(points=4, groups=[["re:\\bGIL\\b"], ["thread"], ["memory"]], full_marks_at=2)
    assert check.evaluate(evidence(answer="Threads share memory with each other, unlike processes.")).fraction == 1
    assert "not covered: re:\\bGIL\\b" not in check.evaluate(evidence(answer="Threads share memory, always.")).detail


# --- processes and PIDs


def test_processes_counts_multiprocessing_children_only():
    check = Processes(points=5, min=4)
    four = [proc(101 + i, f"Process-{i}") for i in range(4)]
    assert check.evaluate(evidence(children=four)).fraction == 1
    forked = [proc(101 + i) for i in range(4)]  # os.fork children, not multiprocessing's
    assert check.evaluate(evidence(children=forked)).fraction == 0
    outcome = check.evaluate(evidence(writes=[(ROOT, "1\n", False)]))
    assert outcome.fraction == 0 and "threads" in outcome.detail


def test_real_pids():
    child = proc(101, "Process-1")
    check = RealPids(points=4)
    good = evidence(children=[child], writes=[(101, "Worker process ID: 101\n", True),
                                              (ROOT, "Main process ID: 100\n", True),
                                              (ROOT, "started child pid=101\n", True)])
    assert check.evaluate(good).fraction == 1
    fake = evidence(children=[child], writes=[(101, "Worker process ID: 12345\n", True)])
    outcome = check.evaluate(fake)
    assert outcome.fraction == 0 and "12345" in outcome.detail and "101" in outcome.detail
    assert check.evaluate(evidence(children=[child])).fraction == 0  # nothing printed
    assert RealPids(points=1, require_printed=False).evaluate(evidence(children=[child])).fraction == 1


# --- separate writers


def test_separate_writers():
    children = [proc(101 + i, f"Process-{i}") for i in range(4)]
    check = SeparateWriters(points=15, count=4)
    own = [(101 + i, f"Process ID: {101 + i} - Number: {i + 1}\n", True) for i in range(4)]
    assert check.evaluate(evidence(children=children, writes=own)).fraction == 1
    reordered = [(104, "4 from me\n", True), (102, "two: 2\n", True), (101, "1\n", True), (103, "3.\n", True)]
    assert check.evaluate(evidence(children=children, writes=reordered)).fraction == 1
    same = [(101 + i, f"[{101 + i}] Number: 1\n", True) for i in range(4)]  # PIDs are no numbers
    assert check.evaluate(evidence(children=children, writes=same)).fraction == 0
    parent = [(ROOT, f"Number: {i}\n", True) for i in range(4)]
    outcome = check.evaluate(evidence(children=children, writes=parent))
    assert outcome.fraction == 0 and "main process printed" in outcome.detail
    threads = [(ROOT, f"Number: {i}\n", False) for i in range(4)]
    assert "threads" in check.evaluate(evidence(writes=threads)).detail


# --- value


SQUARES = [1, 4, 9, 16, 25]


@pytest.mark.parametrize(
    "printed,ordered,passes",
    [
        ("Results: [1, 4, 9, 16, 25]\n", True, True),
        ("squares=(1, 4, 9, 16, 25) done\n", True, True),
        ("1\n4\n9\n16\n25\n", True, True),
        ("1 squared is 1\n2 squared is 4\n3 squared is 9\n4 squared is 16\n5 squared is 25\n", True, True),
        ("[4, 1, 9, 25, 16]\n", False, True),
        ("[4, 1, 9, 25, 16]\n", True, False),
        ("[1, 4, 9, 16]\n", False, False),
        ("Results: [1.0, 4.0, 9.0, 16.0, 25.0]\n", True, True),
    ],
)
def test_value_formats(printed, ordered, passes):
    check = Value(points=1, expected=SQUARES, ordered=ordered)
    assert check.evaluate(evidence(writes=[(ROOT, printed, True)])).fraction == (1 if passes else 0)


def test_value_computed_by_pool():
    check = Value(points=17, expected=SQUARES, computed_by="pool")
    workers = [proc(101, "ForkPoolWorker-1", pool=True), proc(102, "ForkPoolWorker-2", pool=True)]
    printed = [(ROOT, "Results: [1, 4, 9, 16, 25]\n", True)]
    computed = [Task(key(101), "q", ("1", "9", "25")), Task(key(102), "q", ("4", "16"))]
    assert check.evaluate(evidence(children=workers, writes=printed, tasks=computed)).fraction == 1
    partial = [Task(key(101), "q", ("1", "4"))]  # the rest computed in the parent
    assert check.evaluate(evidence(children=workers, writes=printed, tasks=partial)).fraction == 0
    outcome = check.evaluate(evidence(writes=printed))
    assert outcome.fraction == 0 and "no multiprocessing pool worker" in outcome.detail


def test_value_rejects_bad_computed_by():
    with pytest.raises(ValueError):
        Value(points=1, expected=1, computed_by="threads")


# --- running and code


def test_ran_cleanly():
    check = RanCleanly(points=3)
    assert check.evaluate(evidence(children=[proc(101, "Process-1")])).fraction == 1
    assert check.evaluate(evidence(children=[proc(101, "Process-1", exit_code=1)])).fraction == 0
    assert check.evaluate(evidence(children=[proc(101, "Process-1", exit_code=None)])).fraction == 0
    assert check.evaluate(evidence(children=[proc(101, "ForkPoolWorker-1", pool=True, exit_code=None)])).fraction == 1
    error = evidence(units=[UnitOutcome("q", "cell 3", "error", "ZeroDivisionError: division by zero")])
    outcome = check.evaluate(error)
    assert outcome.fraction == 0 and "cell 3" in outcome.detail and "ZeroDivisionError" in outcome.detail
    assert "time limit" in check.evaluate(evidence(units=[UnitOutcome("q", "cell 3", "timeout")])).detail
    assert check.evaluate(evidence(units=())).fraction == 0


@pytest.mark.parametrize(
    "code,passes",
    [
        ("import multiprocessing\nmultiprocessing.Process(target=f)", True),
        ("import multiprocessing as mp\nmp.Process(target=f)", True),
        ("from multiprocessing import Process\nProcess(target=f)", True),
        ("# multiprocessing.Process(target=f)\nimport threading\nthreading.Thread(target=f)", False),
    ],
)
def test_code_calls(code, passes):
    check = Code(points=1, calls=["multiprocessing.Process"])
    assert check.evaluate(evidence(code=code, file_code=code)).fraction == (1 if passes else 0)


def test_code_main_guard_here_or_in_a_block_that_calls_this_code():
    check = Code(points=1, main_guard=True)
    own = 'def f():\n    pass\nif __name__ == "__main__":\n    f()\n'
    assert check.evaluate(evidence(code=own, file_code=own)).fraction == 1
    whole = 'def q3():\n    pass\n\nif __name__ == "__main__":\n    q3()\n'
    assert check.evaluate(evidence(code="def q3():\n    pass\n", file_code=whole)).fraction == 1
    assert check.evaluate(evidence(code="q3()\n", file_code="q3()\n")).fraction == 0
    broken = check.evaluate(evidence(code="def f(:\n", file_code="def f(:\n"))
    assert broken.fraction == 0 and "does not parse" in broken.detail
