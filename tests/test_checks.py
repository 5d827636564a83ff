"""Each check kind on evidence built by hand: what passes, what fails, and what it says."""

from __future__ import annotations

from dataclasses import replace

import pytest

from grader.evidence.model import Process, QuestionEvidence, Task, Write
from grader.grading.checks import Code, Concepts, Processes, RanCleanly, RealPids, SeparateWriters, Value
from grader.probe._grader_wire import UnitStatus
from grader.run.records import How, ProcessKey, Stream
from grader.run.units import UnitOutcome

ROOT = 100


def key(pid: int) -> ProcessKey:
    return ProcessKey(0, pid)


def proc(pid, name=None, pool=False, exit_code=0, ppid=ROOT, question="q"):
    return Process(key=key(pid), pid=pid, ppid=ppid, how=How.FORK, question=question, name=name,
                   creator=ppid if name else None, pool_worker=pool, exit_code=exit_code,
                   stdout="", stderr="")


def evidence(children=(), writes=(), tasks=(), units=(UnitOutcome("q", "cell 1", UnitStatus.OK),), **text):
    processes = {key(ROOT): Process(key(ROOT), ROOT, 1, How.ROOT, None, None, None, False, None, "", "")}
    processes.update({p.key: p for p in children})
    return QuestionEvidence(
        question="q", roots=frozenset({key(ROOT)}), processes=processes, children=tuple(children),
        writes=tuple(Write(key(pid), Stream.STDOUT, text_, "q", main) for pid, text_, main in writes),
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


def test_concepts_short_answers_earn_at_most_half():
    check = Concepts(points=10, groups=GROUPS, full_words=12)
    assert check.evaluate(evidence(answer="Several processes run in parallel on different CPU cores.")).fraction == 0.5
    longer = "Several processes run in parallel on different CPU cores, so heavy work is split and finishes sooner."
    assert check.evaluate(evidence(answer=longer)).fraction == 1


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


def test_processes_started_by_the_code_itself():
    check = Processes(points=5, min=4, max=4, pool_workers=False)
    pool = [proc(101 + i, f"ForkPoolWorker-{i}", pool=True) for i in range(4)]
    outcome = check.evaluate(evidence(children=pool))
    assert outcome.fraction == 0 and "pool worker" in outcome.detail
    assert Processes(points=5, min=4).evaluate(evidence(children=pool)).fraction == 1
    five = [proc(101 + i, f"Process-{i}") for i in range(5)]
    assert check.evaluate(evidence(children=five)).fraction == 0


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
    assert RealPids(points=1, require_printed=False).evaluate(evidence()).fraction == 0  # no process, nothing to vouch for


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


def test_separate_writers_pool_workers_earn_the_same_share_however_tasks_fall():
    check = SeparateWriters(points=12, count=4, from_pool=0.4)
    workers = [proc(101 + i, f"ForkPoolWorker-{i}", pool=True) for i in range(4)]
    spread = [(101 + i, f"{i + 1}\n", True) for i in range(4)]
    bunched = [(101, "1\n2\n3\n", True), (102, "4\n", True)]  # one worker took three tasks
    for writes in (spread, bunched):
        assert check.evaluate(evidence(children=workers, writes=writes)).fraction == 0.4


def test_separate_writers_reads_stderr_and_logging_but_not_tracebacks_or_times():
    children = [proc(101 + i, f"Process-{i}") for i in range(4)]
    check = SeparateWriters(points=12, count=4)
    logged = [Write(key(101 + i), Stream.STDERR, f"2024-05-01 10:00:0{i},12{i} - Process-{i} - number {i + 1}\n", "q", True)
              for i in range(4)]
    view = evidence(children=children)
    assert check.evaluate(replace(view, writes=tuple(logged))).fraction == 1
    same = [Write(key(101 + i), Stream.STDERR, f"2024-05-01 10:00:0{i} - number 7\n", "q", True) for i in range(4)]
    assert check.evaluate(replace(view, writes=tuple(same))).fraction == 0  # only the times differ
    crashed = [Write(key(101 + i), Stream.STDERR, f'Traceback (most recent call last):\n  File "x.py", line {i + 1}, in f\n'
                     f"ZeroDivisionError: division by zero\n", "q", True) for i in range(4)]
    assert check.evaluate(replace(view, writes=tuple(crashed))).fraction == 0


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
    assert outcome.fraction == 0 and "no pool of worker processes ran" in outcome.detail


WORKERS = [proc(101, "ForkPoolWorker-1", pool=True), proc(102, "SpawnProcess-2", pool=True)]


@pytest.mark.parametrize(
    "printed,tasks,passes",
    [
        ("[2, 4, 6]\n", [("1", "2"), ("2", "4"), ("3", "6")], True),  # doubling, not squaring
        ("2\n4\n6\n", [("1", "2"), ("2", "4"), ("3", "6")], True),  # one per line
        ("{'a': 'A', 'b': 'B'}\n", [("'a'", "'A'"), ("'b'", "'B'")], True),  # strings, in a dict
        ("HELLO WORLD\n", [("'hello'", "'HELLO'"), ("'world'", "'WORLD'")], True),
        ("[1, 4, 9, 16]\n", [("[1, 2]", "[1, 4]"), ("[3, 4]", "[9, 16]")], True),  # chunks joined
        ("done\n", [("1", "2"), ("2", "4")], False),  # the results are never shown
        ("[2, 4, 7]\n", [("1", "2"), ("2", "4"), ("3", "6")], False),  # 6 is not what was printed
    ],
)
def test_value_of_any_function_and_inputs(printed, tasks, passes):
    check = Value(points=17, computed_by="pool")
    computed = [Task(key(101), "q", (value,), (given,)) for given, value in tasks]
    outcome = check.evaluate(evidence(children=WORKERS, writes=[(ROOT, printed, True)], tasks=computed))
    assert outcome.fraction == (1 if passes else 0), outcome.detail


def test_value_workers_that_print_their_own_results():
    check = Value(points=17, computed_by="pool")
    computed = [Task(key(101), "q", ("None",), ("3",))]
    printing = evidence(children=WORKERS, writes=[(101, "square of 3 is 9\n", True)], tasks=computed)
    assert check.evaluate(printing).fraction == 1
    silent = evidence(children=WORKERS, writes=[(ROOT, "done\n", True)], tasks=computed)
    assert check.evaluate(silent).fraction == 0


def test_value_pool_with_no_work_says_why():
    outcome = Value(points=17, computed_by="pool").evaluate(evidence(children=WORKERS, writes=[(ROOT, "<pool>\n", True)]))
    assert outcome.fraction == 0 and "returned no results" in outcome.detail and "lambda" in outcome.detail


def test_value_relation_per_task():
    check = Value(points=17, computed_by="pool", relation="x * x")
    squares = [Task(key(101), "q", (str(n * n),), (str(n),)) for n in range(1, 6)]
    shown = [(ROOT, "[1, 4, 9, 16, 25]\n", True)]
    assert check.evaluate(evidence(children=WORKERS, writes=shown, tasks=squares)).fraction == 1
    doubled = [Task(key(101), "q", (str(2 * n),), (str(n),)) for n in range(1, 6)]
    outcome = check.evaluate(evidence(children=WORKERS, writes=[(ROOT, "[2, 4, 6, 8, 10]\n", True)], tasks=doubled))
    assert outcome.fraction == 0 and "input 1" in outcome.detail and "x * x" in outcome.detail


def test_value_parameters_are_validated():
    with pytest.raises(ValueError):
        Value(points=1)  # neither expected nor computed_by
    with pytest.raises(ValueError):
        Value(points=1, expected=1, relation="x * x")  # a relation judges the pool's tasks
    with pytest.raises(ValueError):
        Value(points=1, computed_by="pool", relation="x *")


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
    assert check.evaluate(evidence(children=[proc(101, "ForkPoolWorker-1", pool=True, exit_code=-9)])).fraction == 1
    error = evidence(units=[UnitOutcome("q", "cell 3", UnitStatus.ERROR, "ZeroDivisionError: division by zero")])
    outcome = check.evaluate(error)
    assert outcome.fraction == 0 and "cell 3" in outcome.detail and "ZeroDivisionError" in outcome.detail
    assert "time limit" in check.evaluate(evidence(units=[UnitOutcome("q", "cell 3", UnitStatus.TIMEOUT)])).detail
    assert check.evaluate(evidence(units=())).fraction == 0


@pytest.mark.parametrize(
    "code,passes",
    [
        ("import multiprocessing\nmultiprocessing.Process(target=f)", True),
        ("import multiprocessing as mp\nmp.Process(target=f)", True),
        ("from multiprocessing import Process\nProcess(target=f)", True),
        ("# multiprocessing.Process(target=f)\nimport threading\nthreading.Thread(target=f)", False),
        ("from multiprocessing import Process as P\nP(target=f)", True),
        ("import multiprocessing\nclass Worker(multiprocessing.Process):\n    pass\nWorker()", True),
        ("import multiprocessing as mp\nctx = mp.get_context('spawn')\nctx.Process(target=f)", True),
        ("import multiprocessing\nmultiprocessing.get_context('fork').Process(target=f)", True),
    ],
)
def test_code_calls(code, passes):
    check = Code(points=1, calls=["multiprocessing.Process"])
    assert check.evaluate(evidence(code=code, file_code=code)).fraction == (1 if passes else 0)


@pytest.mark.parametrize(
    "code",
    ["import concurrent.futures\nwith concurrent.futures.ProcessPoolExecutor() as ex:\n    ex.map(f, [1])",
     "from concurrent.futures import ProcessPoolExecutor as PPE\nPPE(2)",
     "import multiprocessing as mp\nctx = mp.get_context()\nctx.Pool(2)"],
)
def test_code_pool_spellings(code):
    check = Code(points=1, calls=["multiprocessing.Pool", "concurrent.futures.ProcessPoolExecutor"])
    assert check.evaluate(evidence(code=code, file_code=code)).fraction == 1


def test_code_never_takes_away_what_the_evidence_proves():
    check = Code(points=3, calls=["multiprocessing.Process"], observed="process")
    started = evidence(children=[proc(101, "Process-1")], code="start_it()",
                       file_code="from multiprocessing import Process\nstart_it()")
    assert check.evaluate(started).fraction == 1
    # a name is the process's own claim: without multiprocessing anywhere it proves nothing
    forged = evidence(children=[proc(101, "Process-1")], code="start_it()", file_code="import os\nstart_it()")
    assert check.evaluate(forged).fraction == 0
    pool_only = evidence(children=[proc(101, "ForkPoolWorker-1", pool=True)], code="run()", file_code="run()")
    assert check.evaluate(pool_only).fraction == 0


def test_code_that_cannot_run_still_shows_the_call_meant():
    check = Code(points=3, calls=["multiprocessing.Pool"])
    broken = "import multiprocessing\nwith multiprocessing.Pool(4) as pool:\n"
    assert check.evaluate(evidence(code=broken, file_code=broken)).fraction == 1
    sketched = evidence(code="", file_code="", answer="with multiprocessing.Pool(processes=4) as pool: ...")
    assert check.evaluate(sketched).fraction == 1
    named = evidence(code="", file_code="", answer="We use the Pool class of multiprocessing.")
    assert check.evaluate(named).fraction == 0
    # a how-question answered in words: with `named`, naming the call is enough, and only that
    how = Code(points=3, calls=["multiprocessing.Pool"], named=True)
    assert how.evaluate(named).fraction == 1
    assert "names Pool in words" in how.evaluate(named).detail
    assert how.evaluate(evidence(code="", file_code="", answer="Make a pool of workers, then map.")).fraction == 0
    assert how.evaluate(evidence(code="", file_code="", answer="The PoolManager does it.")).fraction == 0
    code_without_it = "import multiprocessing\nprint('Pool')"  # words name it, but there is code: the code is judged
    assert how.evaluate(evidence(code=code_without_it, file_code=code_without_it, answer="the Pool class")).fraction == 0


def test_code_main_guard_here_or_in_a_block_that_calls_this_code():
    check = Code(points=1, main_guard=True)
    own = 'def f():\n    pass\nif __name__ == "__main__":\n    f()\n'
    assert check.evaluate(evidence(code=own, file_code=own)).fraction == 1
    whole = 'def q3():\n    pass\n\nif __name__ == "__main__":\n    q3()\n'
    assert check.evaluate(evidence(code="def q3():\n    pass\n", file_code=whole)).fraction == 1
    assert check.evaluate(evidence(code="q3()\n", file_code="q3()\n")).fraction == 0
    broken = check.evaluate(evidence(code="def f(:\n", file_code="def f(:\n"))
    assert broken.fraction == 0 and "does not parse" in broken.detail


def test_value_of_a_huge_map_is_judged_on_a_bounded_sample():
    n = 50_000
    computed = [Task(key(101), "q", tuple(str(i * i) for i in range(n)), tuple(str(i) for i in range(n)))]
    check = Value(points=17, computed_by="pool")
    printed = evidence(children=WORKERS, writes=[(ROOT, f"{[i * i for i in range(n)]}\n", True)], tasks=computed)
    assert check.evaluate(printed).fraction == 1
    summed = evidence(children=WORKERS, writes=[(ROOT, f"total {sum(i * i for i in range(n))}\n", True)], tasks=computed)
    assert check.evaluate(summed).fraction == 0


@pytest.mark.parametrize("printed", ["[" * 300_000, "[" * 150_000 + "]" * 150_000, "(1, " * 50_000])
def test_value_survives_pathological_brackets(printed):
    check = Value(points=17, computed_by="pool")
    computed = [Task(key(101), "q", ("1",), ("1",))]
    outcome = check.evaluate(evidence(children=WORKERS, writes=[(ROOT, printed + "\n", True)], tasks=computed))
    assert outcome.fraction in (0, 1)


def test_separate_writers_with_a_thousand_processes_of_a_thousand_numbers():
    children = [proc(1000 + i, f"Process-{i}") for i in range(1100)]
    numbers = "".join(f"{n}\n" for n in range(1100))
    check = SeparateWriters(points=12, count=4)
    writes = [(1000 + i, numbers, True) for i in range(1100)]  # the same numbers, 1100 times
    assert check.evaluate(evidence(children=children, writes=writes)).fraction == 0
    writes = [(1000 + i, numbers + f"mine: {5000 + i}\n", True) for i in range(1100)]
    assert check.evaluate(evidence(children=children, writes=writes)).fraction == 1
    writes = [(1000 + i, "".join(f"{n}\n" for n in range(400) if n != i), True) for i in range(400)]
    assert check.evaluate(evidence(children=children[:400], writes=writes)).fraction == 0  # each leaves one out


def test_a_result_that_is_not_a_literal_is_not_shown_by_a_printed_none():
    cut = "[" + ", ".join(str(n) for n in range(400)) + ", 40"  # a repr the probe cut at 1000 characters
    computed = [Task(key(101), "q", (cut,), ("3",))]
    shown_none = evidence(children=WORKERS, writes=[(ROOT, "status: [None]\n", True)], tasks=computed)
    assert Value(points=17, computed_by="pool").evaluate(shown_none).fraction == 0


@pytest.mark.parametrize("printed", ["pid" + " " * 20_000 + "x", "process id: " + "9" * 5_000, "id" + " \t" * 10_000 + "is"])
def test_pid_claims_in_pathological_lines(printed):
    child = proc(101, "Process-1")
    outcome = RealPids(points=4).evaluate(evidence(children=[child], writes=[(101, printed + "\n", True)]))
    assert outcome.fraction in (0, 1)
    assert SeparateWriters(points=1, count=1).evaluate(evidence(children=[child], writes=[(101, printed + "\n", True)]))
