"""Every parser of student output and text is bounded: a pathological output, answer or
piece of code makes no check (and no attribution) hang, recurse too deep or raise.

Each call runs under a generous alarm (a bound, not a timing assertion): a parser that is
quadratic in a 256 KiB line, or backtracks on a long gap, trips it and the test fails.
"""

from __future__ import annotations

import signal
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest

from grader.attribution.attribute import attribute
from grader.common.syntax import source_lines
from grader.evidence.model import Process, QuestionEvidence, Task, Write
from grader.grading.checks import (
    CHECK_KINDS,
    Code,
    Concepts,
    Processes,
    RanCleanly,
    RealPids,
    SeparateWriters,
    Value,
    Withheld,
)
from grader.grading.pipeline import asked
from grader.grading.rubric import load_rubric
from grader.load.submission import Cell, Submission, SubmissionKind, script_cells
from grader.probe._grader_wire import UnitStatus
from grader.run.records import How, ProcessKey, Stream
from grader.run.units import UnitOutcome

ROOT = Path(__file__).resolve().parent.parent
RUBRIC = load_rubric(ROOT / "rubrics" / "multiprocessing.yaml")
BOUND = 5  # seconds per check: far above what a linear parser needs on 256 KiB, far below a quadratic one
ATTRIBUTION_BOUND = 10  # per notebook: attribution parses code several times and compares every
#                         prose line with every prompt (linear: ~2 s at worst for these notebooks)
NOTEBOOK_TEXT = 64 << 10  # of each payload, in one cell: a quadratic pass would take hours on it
SIZE = 1 << 18  # 256 KiB: hours for a quadratic parser, a fraction of a second for a linear one

PAYLOADS = {
    "pid gap": "pid" + " " * 20_000 + "x",
    "id tabs": "id" + " \t" * 10_000 + "is",
    "open brackets": "[" * 300_000,
    "open parens": "(" * 100_000,
    "nested lists": "[" * 100_000 + "]" * 100_000,
    "nested dicts": "{1: " * 30_000 + "1" + "}" * 30_000,
    "nested sum": "[" + "1+" * 50_000 + "1]",
    "nested minus": "[" + "-" * 90_000 + "1]",
    "long number": "process id: " + "9" * 5_000,
    "long numbers": " ".join(["7" * 5_000] * 100),
    "long float": "1." + "5" * 100_000,
    "dotted": "1." * 300_000,
    "signs": "-1" * 300_000,
    "one line": "x" * SIZE,
    "digits": " ".join("1234567" for _ in range(SIZE // 8)),
    "list of numbers": "[" + ", ".join(str(i) for i in range(150_000)) + "]",
    "many small lists": "[1, 2] " * 100_000,
    "many nested": "[[[[[[1]]]]]] " * 50_000,
    "dots": "a." * 500_000 + "Pool(",
    "pool gap": "Pool" + " " * 500_000 + "x",
    "many pools": "Pool " * 200_000,
    "surrogates": "\ud800 pid \udfff 12 \ud83d" * 10_000,
    "nul": "\x00" * 100_000 + "pid: 1\x00 2\x00",
    "ansi": "\x1b[31mProcess ID: \x1b[0m 101\x1b[2J\x1b]52;c;aGk=\x07" * 20_000,
    "timestamps": "2024-05-01 10:00:00," + "0" * 100_000,
    "newlines": "\n" * SIZE,
    "carriage returns": "1\r" * 300_000,
    "quotes": "'" * 200_000 + '"' * 200_000,
    "triple quotes": '"""' * 100_000,
    "backslashes": "\\" * 300_000,
    "headers": "# Q1. " * 100_000,
    "header lines": "\n".join(f"Q{i % 7}. Answer {i}" for i in range(50_000)),
    "tags": "<" * 300_000,
    "open tags": "<h" + "1" * 300_000,
    "traceback": "Traceback (most recent call last)\n" * 50_000,
    "process heads": "Process Process-1:\n" * 100_000,
    "keywords": "process parallel CPU core GIL thread memory pool worker map " * 50_000,
    "words": "word " * 200_000,
}

# each cut to SIZE characters (a cut nesting is as pathological as a balanced one)
PAYLOADS = {name: payload[:SIZE] for name, payload in PAYLOADS.items()}

ROOT_PID = 100
WRITERS = {"child stdout": (101, "stdout"), "worker stderr": (102, "stderr")}


def key(pid: int) -> ProcessKey:
    return ProcessKey(0, pid)


def proc(pid: int, name: str | None, pool: bool = False, stdout: str = "", stderr: str = "") -> Process:
    return Process(key=key(pid), pid=pid, ppid=ROOT_PID, how=How.FORK, question="q", name=name,
                   creator=ROOT_PID if name else None, pool_worker=pool, exit_code=0, stdout=stdout, stderr=stderr)


def view(payload: str, where: str) -> QuestionEvidence:
    children = [proc(101, "Process-1"), proc(102, "ForkPoolWorker-1", pool=True), proc(103, None)]
    processes = {key(ROOT_PID): Process(key(ROOT_PID), ROOT_PID, 1, How.ROOT, None, None, None, False, None, "", "")}
    processes.update({p.key: p for p in children})
    writes, tasks, units, text = [], [Task(key(102), "q", ("1", "4"), ("1", "2"))], [UnitOutcome("q", "cell 1", UnitStatus.OK)], {}
    if where in WRITERS:  # as much as the output limit keeps of a question (256 KiB here), from one writer
        pid, stream = WRITERS[where]
        writes = [Write(key(pid), stream, payload + "\n", "q", True)]
    elif where == "text":
        text = {"answer": payload, "code": payload, "file_code": payload}
    elif where == "tasks":
        tasks = [Task(key(102), "q", (payload, "1"), (payload, "1")), Task(key(102), "q", (payload,), ())]
        writes = [Write(key(ROOT_PID), Stream.STDOUT, payload[:1000] + "\n", "q", True)]
    elif where == "error":
        units = [UnitOutcome("q", "cell 1", UnitStatus.ERROR, payload), UnitOutcome("q", "cell 2", UnitStatus.NOT_RUN, payload)]
    return QuestionEvidence(question="q", roots=frozenset({key(ROOT_PID)}), processes=processes,
                            children=tuple(children), writes=tuple(writes), tasks=tuple(tasks),
                            units=tuple(units), **text)


def checks() -> list:
    """Every check of the shipped rubric, and every kind with its other parameters."""
    found = [check for question in RUBRIC.questions for check in question.checks]
    found += [
        Value(points=1, expected=[1, 4, 9, 16, 25]),
        Value(points=1, expected=[1, 4, 9, 16, 25], ordered=False),
        Value(points=1, expected=7),
        Value(points=1, computed_by="pool", relation="x * x"),
        Value(points=1, computed_by="pool", expected=[1, 4]),
        Code(points=1, main_guard=True),
        Code(points=1, calls=["multiprocessing.Pool"]),
        Processes(points=1, min=1, max=3),
        RealPids(points=1, require_printed=False),
        SeparateWriters(points=1, count=4, from_pool=0.5),
        SeparateWriters(points=1, count=1),
        RanCleanly(points=1),
        Concepts(points=1, groups=[["process"], ["re:\\bGIL\\b"]], full_words=30),
        Withheld(points=1, text=True),
    ]
    assert {type(check) for check in found} == set(CHECK_KINDS.values())  # a new kind gets fuzzed too
    return found


@contextmanager
def bounded(what: str, seconds: int = BOUND):
    def expired(signum, frame):
        raise TimeoutError(f"{what} ran for more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("where", [*WRITERS, "text", "tasks", "error"])
@pytest.mark.parametrize("name", list(PAYLOADS))
def test_every_check_is_bounded(name, where):
    evidence = view(PAYLOADS[name], where)
    for check in checks():
        with bounded(f"{check.kind} on {name!r} in the {where}"):
            outcome = check.evaluate(evidence)
        assert 0 <= outcome.fraction <= 1
        assert len(outcome.detail) <= 5_000, f"{check.kind} on {name!r}: a detail of {len(outcome.detail)} characters"


SHAPES = {  # where a notebook or a script can hold the text, once
    "markdown": lambda payload: (Cell(0, "markdown", "Q1. What is multiprocessing?\n" + payload),),
    "code cell": lambda payload: (Cell(0, "markdown", "Q3."), Cell(1, "code", payload)),
    "raw cell": lambda payload: (Cell(0, "raw", payload), Cell(1, "code", "x = 1")),
    "fence": lambda payload: (Cell(0, "markdown", "Q5.\n```python\n" + payload + "\n```"),),
    "string": lambda payload: (Cell(0, "code", f"'''{payload}'''\nx = 1"),),
    "comment": lambda payload: (Cell(0, "code", f"# {payload}\nx = 1"),),
}


def _script_cells(text: str) -> tuple[Cell, ...]:
    """A script's cells as the loader cuts them (the loader's own bounds are tested with it);
    one code cell where the loader gives up."""
    try:
        return script_cells(text)
    except (RecursionError, MemoryError):
        return (Cell(0, "code", text, 1, len(source_lines(text))),)


@pytest.mark.parametrize("name", list(PAYLOADS))
def test_attribution_is_bounded(name):
    payload = PAYLOADS[name][:NOTEBOOK_TEXT]
    for shape, cells in SHAPES.items():
        notebook = Submission("s", Path("s.ipynb"), SubmissionKind.NOTEBOOK, cells(payload), "")
        with bounded(f"attribution of {name!r} in a {shape}", ATTRIBUTION_BOUND):
            attribute(notebook, asked(RUBRIC))
    for text in (f"# Q1. {payload}\nx = 1\n", f"'''{payload}'''\nx = 1\n", f"# Q3.\n{payload}\n"):
        script = Submission("s", Path("s.py"), SubmissionKind.SCRIPT, _script_cells(text), text)
        with bounded(f"attribution of a script with {name!r}", ATTRIBUTION_BOUND):
            attribute(script, asked(RUBRIC))


def test_an_exception_message_reaches_the_feedback_bounded():
    huge = "ValueError: " + "boom " * (4 * SIZE)
    evidence = replace(view("", "text"), units=(UnitOutcome("q", "cell 1", UnitStatus.ERROR, huge),))
    detail = RanCleanly(points=1).evaluate(evidence).detail
    assert "ValueError: boom" in detail and len(detail) < 3_000 and "cut" in detail


@pytest.mark.parametrize("name", sorted(PAYLOADS) + ["forged frames"])
def test_a_failed_childs_stderr_is_read_in_bounded_time_and_quoted_briefly(name):
    """`checks.child_failure` reads what a failed child wrote to stderr: a student who read
    the code can write a traceback of their own, as long and as odd as they like."""
    from dataclasses import replace

    from grader.grading.checks import child_failure

    payload = ("Traceback (most recent call last):\n" + '  File "x", line 1, in f\n    y\n' * 20_000
               + "Can't get attribute __main__ " + "E" * 100_000) if name == "forged frames" else PAYLOADS[name]
    child = replace(proc(101, "Process-1", stderr="Traceback (most recent call last):\n" + payload), exit_code=1)
    with bounded(f"child_failure on {name!r}"):
        said = child_failure(child)
    assert len(said) <= 1_000, f"{name!r}: {len(said)} characters quoted"
    evidence = replace(view("", "text"), children=(child,))
    with bounded(f"ran_cleanly on {name!r}"):
        outcome = RanCleanly(points=1).evaluate(evidence)
    assert outcome.fraction == 0 and len(outcome.detail) <= 5_000
