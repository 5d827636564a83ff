"""Scoring holes that need no forgery (issue 8, family 7): what a student can print or write
to earn points the question's words do not give, and the honest answers that must keep them.

The checks are fed evidence built by hand (as in test_checks.py); one notebook is graded for
real, to show the holes are closed end to end.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from grader.evidence.model import Evidence, Process, QuestionEvidence, Write
from grader.grading.checks import Concepts, RanCleanly, RealPids, SeparateWriters
from grader.grading.notes import run_notes
from grader.grading.pipeline import _run_check
from grader.probe._grader_wire import UnitStatus
from grader.run.limits import Limits
from grader.run.records import How, ProcessKey, Stream
from grader.run.units import UnitOutcome
from tests.helpers import check, grade_path, write_notebook

ROOT = 100


def key(pid: int, start: int = 0) -> ProcessKey:
    return ProcessKey(start, pid)


def proc(pid, name=None, ppid=ROOT, pool=False, start=0):
    return Process(key=key(pid, start), pid=pid, ppid=ppid, how=How.FORK, question="q", name=name,
                   creator=ppid if name else None, pool_worker=pool, exit_code=0, stdout="", stderr="")


def evidence(children=(), writes=(), root=ROOT, root_ppid=1, **text):
    processes = {key(root): Process(key(root), root, root_ppid, How.ROOT, None, None, None, False, None, "", "")}
    processes.update({p.key: p for p in children})
    return QuestionEvidence(
        question="q", roots=frozenset({key(root)}), processes=processes, children=tuple(children),
        writes=tuple(Write(key(pid), Stream.STDOUT, out, "q", True) for pid, out in writes),
        tasks=(), units=(UnitOutcome("q", "cell 1", UnitStatus.OK),), **text,
    )


# --- Q6: four processes, each printing a different number

FOUR = [proc(101 + i, f"Process-{i + 1}") for i in range(4)]
Q6 = SeparateWriters(points=12, count=4, from_pool=0.4)


def each(printed) -> list[tuple[int, str]]:
    """What each of the four children printed: printed(i, pid) for i = 0..3."""
    return [(101 + i, printed(i, 101 + i)) for i in range(4)]


@pytest.mark.parametrize("printed", [
    lambda i, pid: "1 2 3 4\n",  # every child prints all four numbers
    lambda i, pid: "1\n2\n3\n4\n",
    lambda i, pid: f"{[1, 2, 3, 4]}\n",
    lambda i, pid: " ".join(str(n) for n in [4, 3, 2, 1][i:] + [4, 3, 2, 1][:i]) + "\n",  # in another order
    lambda i, pid: f"Process {i}: [1, 2, 3, 4]\n",  # its index, then everyone's numbers
    lambda i, pid: f"[{pid}] numbers: 1 2 3 4\n",  # its PID is no number it chose among others
    lambda i, pid: "Parent PID: 100\n",  # the same PID, four times
])
def test_four_processes_printing_the_same_numbers_fail(printed):
    outcome = Q6.evaluate(evidence(FOUR, each(printed)))
    assert outcome.fraction == 0, outcome.detail
    assert "a number of its own" in outcome.detail


@pytest.mark.parametrize("printed", [
    lambda i, pid: f"{pid}\n",  # only its own PID: a different number per process
    lambda i, pid: f"My process ID is {pid}\n",  # labelled
    lambda i, pid: f"Process {i}: {i * i}\n",
    lambda i, pid: f"Process {i + 1}: {(i + 1) * (i + 1)}\n",
    lambda i, pid: f"Process {i + 1}: {(i + 1) * 2}\n",  # 2 4 6 8: the labels 2 and 4 are other processes' numbers
    lambda i, pid: f"Process ID: {pid} - Number: {i + 1}\n",  # the model solution
    lambda i, pid: f"Number {i + 1} of 4\n",  # a count all share, and a number of its own
    lambda i, pid: f"{pid}\n1 2 3 4\n",  # its PID alone on a line, then everyone's numbers
])
def test_four_processes_each_with_a_number_of_its_own_pass(printed):
    outcome = Q6.evaluate(evidence(FOUR, each(printed)))
    assert outcome.fraction == 1, outcome.detail


def test_a_process_that_prints_everyones_numbers_hides_nobodys():
    collector = proc(105, "Process-5")
    writes = [*each(lambda i, pid: f"{i + 1}\n"), (105, "all: 1 2 3 4\n")]
    assert Q6.evaluate(evidence([*FOUR, collector], writes)).fraction == 1


def test_three_own_numbers_and_a_copy_are_three():
    writes = [(101, "1\n"), (102, "2\n"), (103, "3\n"), (104, "1 2 3\n")]
    outcome = Q6.evaluate(evidence(FOUR, writes))
    assert outcome.fraction == 0 and "found 3" in outcome.detail


def test_pool_workers_keep_their_share_and_the_parent_still_earns_nothing():
    workers = [proc(101 + i, f"ForkPoolWorker-{i + 1}", pool=True) for i in range(4)]
    assert Q6.evaluate(evidence(workers, each(lambda i, pid: f"{i + 1}\n"))).fraction == 0.4
    parent = evidence(FOUR, [(ROOT, "1\n2\n3\n4\n")])
    outcome = Q6.evaluate(parent)
    assert outcome.fraction == 0 and "main process printed" in outcome.detail


# --- PIDs: 0 and the namespace's init are no process of the student's

PIDS = RealPids(points=4)


@pytest.mark.parametrize("line", ["Main process ID: 0", "PID 0", "process id = 0", "Worker pid: 00"])
def test_pid_zero_is_no_real_pid(line):
    child = proc(101, "Process-1")
    for writer in (ROOT, 101):
        outcome = PIDS.evaluate(evidence([child], [(writer, line + "\n")]))
        assert outcome.fraction == 0, (writer, outcome.detail)


def test_pid_one_is_the_init_of_the_namespace_not_the_students():
    child = proc(101, "Process-1")
    for writer in (ROOT, 101):  # the main process's parent is PID 1: the namespace's init
        outcome = PIDS.evaluate(evidence([child], [(writer, "Main process ID: 1\n")], root_ppid=1))
        assert outcome.fraction == 0, (writer, outcome.detail)
    # where the main process itself is PID 1 (the run is a namespace's first process), it is real
    first = proc(2, "Process-1", ppid=1)
    real = evidence([first], [(1, "Main process ID: 1\n"), (2, "child pid: 2, parent pid: 1\n")], root=1, root_ppid=0)
    assert PIDS.evaluate(real).fraction == 1
    assert PIDS.evaluate(replace(real, writes=(Write(key(1), Stream.STDOUT, "parent pid: 0\n", "q", True),))).fraction == 0


def test_real_pids_still_pass():
    child = proc(101, "Process-1")
    writes = [(101, "Worker process ID: 101\n"), (101, "Parent process ID: 100\n"), (ROOT, "Main process ID: 100\n"),
              (ROOT, "started child pid=101\n"), (ROOT, "my parent pid is 4242\n")]
    outcome = PIDS.evaluate(evidence([child], writes, root_ppid=4242))
    assert outcome.fraction == 1, outcome.detail


def test_a_pid_of_another_run_is_not_real():
    other = proc(101, "Process-1", start=1)  # same number, another kernel start
    mine = evidence([proc(102, "Process-1")], [(ROOT, "child pid 101\n")])
    mine = replace(mine, processes={**mine.processes, other.key: other})
    assert PIDS.evaluate(mine).fraction == 0


# --- text answers: key words must be written as prose

Q1 = Concepts(points=10, full_marks_at=3, full_words=33, groups=[
    ["process"], ["parallel", "simultaneous", "concurrent", "at the same time", "at once", "multiple tasks"],
    ["CPU", "core", "processor"], ["fast", "speed", "perform", "efficien", "utiliz", "CPU-bound", "GIL"]])
Q2 = Concepts(points=10, full_marks_at=3, full_words=25, groups=[
    ["process"], ["thread"], ["memory", "address space"], ["share", "separate", "own", "isolat", "independent"],
    ["CPU-bound", "I/O", "IO-bound", "GIL", "overhead", "race condition", "lightweight"]])
Q4 = Concepts(points=10, full_marks_at=3, full_words=30, groups=[
    ["pool"], ["worker", "process"], ["parallel", "simultaneous", "concurrent", "distribut"],
    ["map", "apply", "task", "input", "function", "reuse", "manage"]])


def score(check: Concepts, answer: str) -> float:
    return check.evaluate(evidence(answer=answer)).fraction


@pytest.mark.parametrize("check,keywords", [
    (Q1, "process parallel CPU fast GIL"),
    (Q2, "process thread memory share GIL"),
    (Q4, "pool worker parallel map task"),
])
def test_bare_key_words_earn_nothing(check, keywords):
    assert score(check, keywords) == 0
    assert score(check, ", ".join(keywords.split())) == 0
    assert score(check, "\n".join(f"- {word}" for word in keywords.split())) == 0
    outcome = check.evaluate(evidence(answer=keywords))
    assert "list of key words" in outcome.detail


@pytest.mark.parametrize("check,keywords", [
    (Q1, "process parallel CPU fast GIL"),
    (Q2, "process thread memory share GIL"),
    (Q4, "pool worker parallel map task"),
])
def test_key_words_repeated_or_padded_earn_at_most_half(check, keywords):
    assert score(check, " ".join([keywords] * 10)) <= 0.5  # repeated past full_words
    padded = " ".join(f"{word} xyzzy{n} plugh{n}" for n, word in enumerate(keywords.split() * 3))
    assert score(check, padded) <= 0.5  # padded with made-up words, still no sentence
    again = " ".join(f"the {word} is" for word in keywords.split() * 4)
    assert score(check, again) <= 0.5  # "the process is the parallel is ...": the same few words over and over


def test_real_answers_keep_their_marks():
    terse = "Running many processes at once."  # one short sentence: half marks, as before
    assert score(Concepts(points=10, full_marks_at=1, full_words=33, groups=[["process"]]), terse) == 0.5
    assert score(Q2, "Processes have separate memory, threads share it.") == 0.5
    full = ("Multiprocessing runs several processes in parallel, each with its own Python interpreter and memory, "
            "so the work is spread over all the CPU cores of the machine. That makes CPU-bound programs much "
            "faster, because the GIL no longer lets only one thread run Python code at a time.")
    assert score(Q1, full) == 1
    table = ("| Feature | Multiprocessing | Multithreading |\n|---|---|---|\n"
             "| Memory | each process has separate memory | threads share the memory of one process |\n"
             "| GIL | not limited by the GIL | limited by the GIL for CPU-bound work |\n"
             "| Overhead | high: a new interpreter | low: lightweight |\n"
             "| Best for | CPU-bound tasks | I/O-bound tasks |")
    assert score(Q2, table) == 1  # a table of contrasts is an answer, with few function words
    assert Concepts(points=1, groups=[["process"]], prose=False).evaluate(evidence(answer="process " * 6)).fraction == 1


# --- exception messages and student text reach the reports bounded

HUGE = "ValueError: " + "x" * (20 << 20)  # 20 MiB


def test_a_huge_exception_message_is_cut_in_every_feedback():
    view = replace(evidence(), units=(UnitOutcome("q", "cell 1", UnitStatus.ERROR, HUGE),
                                      UnitOutcome("q", "cell 2", UnitStatus.NOT_RUN, HUGE)))
    result = _run_check(RanCleanly(points=3), view)
    assert result.detail.startswith("the code at cell 1 raised ValueError: xxx")
    assert len(result.detail) < 2_200 and "more characters cut" in result.detail
    run = Evidence(roots=frozenset(), processes={}, writes=(), tasks=(), units=view.units)
    notes = run_notes(view, run, Limits())
    assert notes and all(len(note) < 2_300 for note in notes)


def test_a_huge_child_name_or_printed_line_is_cut():
    named = Process(key(101), 101, ROOT, How.FORK, "q", "N" * (1 << 20), ROOT, False, 1, "", "")
    outcome = RanCleanly(points=3).evaluate(evidence([named]))
    assert outcome.fraction == 0 and len(outcome.detail) < 500
    line = "pid 999 " + "y" * (1 << 20)
    outcome = PIDS.evaluate(evidence([proc(101, "Process-1")], [(101, line + "\n")]))
    assert outcome.fraction == 0 and len(outcome.detail) < 500


# --- end to end: the holes are closed for a notebook that is really run


def test_a_notebook_that_plays_the_holes_earns_nothing_for_them(tmp_path, rubric):
    path = write_notebook(tmp_path / "holes.ipynb", [
        ("md", "Q1. What is multiprocessing in python? Why is it useful?"),
        ("md", "process parallel CPU fast GIL"),
        ("md", "Q3. Write a python code to create a process using the multiprocessing module."),
        ("code", "import multiprocessing\n\ndef work():\n    print('child working')\n\n"
                 "if __name__ == '__main__':\n    print('Main process ID: 0')\n"
                 "    p = multiprocessing.Process(target=work)\n    p.start()\n    p.join()\n"),
        ("md", "Q6. Write a python program to create 4 processes, each process should print a different number"
               " using the multiprocessing module in python."),
        ("code", "import multiprocessing\n\ndef show():\n    print(1, 2, 3, 4)\n\n"
                 "if __name__ == '__main__':\n    ps = [multiprocessing.Process(target=show) for _ in range(4)]\n"
                 "    for p in ps:\n        p.start()\n    for p in ps:\n        p.join()\n"),
    ])
    result = grade_path(path, rubric, timeout=10)
    assert result.status == "graded", result.error
    assert check(result, "q1", "explains").score == 0
    assert check(result, "q3", "a child process really ran").passed  # the run itself is fine
    assert check(result, "q3", "PIDs are real").score == 0
    assert check(result, "q6", "four child processes").passed
    assert check(result, "q6", "its own number").score == 0
