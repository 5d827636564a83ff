"""The facts of one run that the checks read: its processes, what each wrote, what pool
workers sent back, how each unit of code ended; and each question's share of them.

`evidence.read` makes them from what the collector accepted.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from grader.run.limits import Limit
from grader.run.records import How, ProcessKey, Stream
from grader.run.units import UnitOutcome


@dataclass(frozen=True)
class Process:
    key: ProcessKey  # unique in the run (PIDs repeat after a kernel restart)
    pid: int  # as the process itself saw it, and as it would print it
    ppid: int
    how: How
    question: str | None
    name: str | None  # multiprocessing's name (Process-1, ForkPoolWorker-2), None if not its child
    creator: int | None  # the PID of the process that started it through multiprocessing
    pool_worker: bool
    exit_code: int | None  # negative: killed by that signal; None: never reaped, or not multiprocessing's
    stdout: str
    stderr: str
    server: bool = False  # a Manager's server process

    @property
    def start(self) -> int:
        """Which start of the kernel or runner it belongs to: PIDs compare only within one."""
        return self.key.start

    @property
    def parent_pid(self) -> int:
        """Its creator's PID: multiprocessing's parent, else the OS's."""
        return self.creator or self.ppid

    @property
    def is_helper(self) -> bool:
        """multiprocessing's own servers (resource tracker, forkserver, a Manager's server),
        not the student's processes."""
        return self.server or (self.how in (How.HELPER, How.FORKSERVER) and self.name is None)


@dataclass(frozen=True)
class Write:
    key: ProcessKey  # the writing process
    stream: Stream
    text: str
    question: str | None
    main_thread: bool


@dataclass(frozen=True)
class Task:
    """Values a pool worker really computed and sent back."""

    key: ProcessKey
    question: str | None
    values: tuple[str, ...]  # repr() of each result
    inputs: tuple[str, ...] = ()  # repr() of the input of each result, when the probe could tell


@dataclass(frozen=True)
class Evidence:
    roots: frozenset[ProcessKey]  # the kernel or script process (several if the kernel was restarted)
    processes: dict[ProcessKey, Process]
    writes: tuple[Write, ...]
    tasks: tuple[Task, ...]
    units: tuple[UnitOutcome, ...]
    cut: tuple[tuple[str | None, ProcessKey], ...] = ()  # (question, process) whose output was cut
    limits_hit: tuple[Limit, ...] = ()  # limits of the whole run that were reached (cgroups)
    inputs: tuple[tuple[str | None, str], ...] = ()  # (question, prompt) of each input() call
    rejected: tuple[str, ...] = ()  # records dropped because they contradicted the kernel

    def for_question(self, question: str) -> QuestionEvidence:
        children = tuple(
            p for p in self.processes.values()
            if p.question == question and p.key not in self.roots and not p.is_helper
        )
        return QuestionEvidence(
            question=question,
            roots=self.roots,
            processes=self.processes,
            children=children,
            writes=tuple(w for w in self.writes if w.question == question),
            tasks=tuple(t for t in self.tasks if t.question == question),
            units=tuple(u for u in self.units if u.question == question),
        )


@dataclass(frozen=True)
class QuestionEvidence:
    question: str
    roots: frozenset[ProcessKey]
    processes: dict[ProcessKey, Process]  # every process of the run, for looking up PIDs
    children: tuple[Process, ...]  # processes the question's code created
    writes: tuple[Write, ...]  # what the question's code printed, in order, by any process
    tasks: tuple[Task, ...]
    units: tuple[UnitOutcome, ...]
    answer: str = ""  # the text answer under the question's header
    code: str = ""  # the question's own code
    file_code: str = ""  # all the submission's code, for facts that span questions

    def output_by_process(self, stream: Stream | None = Stream.STDOUT) -> dict[ProcessKey, str]:
        """What each process wrote to `stream` (None: to both), in order."""
        texts: dict[ProcessKey, list[str]] = defaultdict(list)
        for write in self.writes:
            if stream is None or write.stream == stream:
                texts[write.key].append(write.text)
        return {key: "".join(parts) for key, parts in texts.items()}

    def printed_by_process(self) -> dict[ProcessKey, str]:
        """What each process printed on stdout or stderr (print, sys.stderr.write, logging),
        leaving out the tracebacks Python itself writes there."""
        return {key: _without_tracebacks(text) for key, text in self.output_by_process(None).items()}


_MP_TRACEBACK_HEAD = re.compile(r"Process \w+-\d+(?::\d+)*:\s*$")  # multiprocessing's "Process Process-1:"


def _without_tracebacks(text: str) -> str:
    kept, inside = [], False
    lines = text.splitlines(keepends=True)
    for index, line in enumerate(lines):
        following = lines[index + 1] if index + 1 < len(lines) else ""
        if line.startswith("Traceback (most recent call last)") or (
                _MP_TRACEBACK_HEAD.match(line) and following.startswith("Traceback (most recent call last)")):
            inside = True
        elif inside and not line.startswith((" ", "\t")):
            inside = False
            continue  # the exception's own line ends the traceback
        if not inside:
            kept.append(line)
    return "".join(kept)
