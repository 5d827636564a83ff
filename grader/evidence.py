"""Turn the records the collector accepted into facts about one run: processes, writes, tasks.

Each record already names its process by the kernel's word (`collector.py`). Here they are
joined: each process gets the question it belongs to (the question that was running when its
creator started it), its own output reassembled from its writes in order (the notebook's
stream output interleaves children's pieces; per-process writes do not), its exit code, and
whether multiprocessing made it and whether it was a pool worker. A process's claims about
another process (that it started it, how it ended) count only if the kernel agrees that it
is that process's parent.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass


@dataclass(frozen=True)
class UnitOutcome:
    """One executed unit: a notebook cell or a script's top-level statement."""

    question: str | None
    label: str  # "cell 4", "line 12"
    status: str  # ok | error | timeout | died | skipped | not run
    error: str | None = None


@dataclass(frozen=True)
class Process:
    key: str  # unique in the run: "kernel start/PID" (PIDs repeat after a kernel restart)
    pid: int  # as the process itself saw it, and as it would print it
    ppid: int
    how: str  # root | fork | spawn | forkserver | helper | exec
    question: str | None
    name: str | None  # multiprocessing's name (Process-1, ForkPoolWorker-2), None if not its child
    creator: int | None  # the PID of the process that started it through multiprocessing
    pool_worker: bool
    exit_code: int | None  # negative: killed by that signal; None: never reaped, or not multiprocessing's
    stdout: str
    stderr: str
    server: bool = False  # a Manager's server process

    @property
    def run(self) -> str:
        """Which start of the kernel or runner it belongs to: PIDs compare only within one."""
        return self.key.rsplit("/", 1)[0]

    @property
    def parent_pid(self) -> int:
        """Its creator's PID: multiprocessing's parent, else the OS's."""
        return self.creator or self.ppid

    @property
    def is_helper(self) -> bool:
        """multiprocessing's own servers (resource tracker, forkserver, a Manager's server),
        not the student's processes."""
        return self.server or (self.how in ("helper", "forkserver") and self.name is None)


@dataclass(frozen=True)
class Write:
    key: str  # the writing process
    stream: str
    text: str
    question: str | None
    main_thread: bool


@dataclass(frozen=True)
class Task:
    """Values a pool worker really computed and sent back."""

    key: str
    question: str | None
    values: tuple[str, ...]  # repr() of each result
    inputs: tuple[str, ...] = ()  # repr() of the input of each result, when the probe could tell


@dataclass(frozen=True)
class Evidence:
    roots: frozenset[str]  # the kernel or script process (several if the kernel was restarted)
    processes: dict[str, Process]
    writes: tuple[Write, ...]
    tasks: tuple[Task, ...]
    units: tuple[UnitOutcome, ...]
    cut: tuple[tuple[str | None, str], ...] = ()  # (question, process) whose output was cut
    limits_hit: tuple[str, ...] = ()  # limits of the whole run that were reached (cgroups)
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
    roots: frozenset[str]
    processes: dict[str, Process]  # every process of the run, for looking up PIDs
    children: tuple[Process, ...]  # processes the question's code created
    writes: tuple[Write, ...]  # what the question's code printed, in order, by any process
    tasks: tuple[Task, ...]
    units: tuple[UnitOutcome, ...]
    answer: str = ""  # the text answer under the question's header
    code: str = ""  # the question's own code
    file_code: str = ""  # all the submission's code, for facts that span questions

    def output_by_process(self, stream: str | None = "stdout") -> dict[str, str]:
        """What each process wrote to `stream` (None: to both), in order."""
        texts: dict[str, list[str]] = defaultdict(list)
        for write in self.writes:
            if stream is None or write.stream == stream:
                texts[write.key].append(write.text)
        return {key: "".join(parts) for key, parts in texts.items()}

    def printed_by_process(self) -> dict[str, str]:
        """What each process printed on stdout or stderr (print, sys.stderr.write, logging),
        leaving out the tracebacks Python itself writes there."""
        return {key: _without_tracebacks(text) for key, text in self.output_by_process(None).items()}

    def output_lines(self) -> list[tuple[str, str]]:
        """(process, line) for every stdout line of the question, each process's lines in order."""
        return [
            (key, line)
            for key, text in self.output_by_process().items()
            for line in text.splitlines()
        ]


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


def build_evidence(events: list[dict], units: tuple[UnitOutcome, ...], limits_hit: tuple[str, ...] = (),
                   rejected: tuple[str, ...] = ()) -> Evidence:
    """`events`: the collector's records, in the order they came."""
    facts: dict[str, dict] = defaultdict(lambda: {"stdout": [], "stderr": []})
    for event in events:
        if event["k"] == "proc":
            facts[event["key"]].update(pid=event["pid"], ppid=event["ppid"], parent=event["parent"],
                                       how=event["how"], q=event.get("q"))
    started_in: dict[str, str | None] = {}  # child -> question, as seen by its creator
    writes, tasks, cut, inputs = [], [], [], []
    roots: set[str] = set()
    refused: list[str] = list(rejected)

    def parent_says(event: dict) -> bool:
        """The sender is the child's parent, or started the forkserver that forked it."""
        child = facts.get(event["child_key"], {})
        parent = facts.get(child.get("parent") or "", {})
        if event["key"] in (child.get("parent"), parent.get("parent") if parent.get("how") == "forkserver" else None):
            return True
        if "how" in child and "claimed to be the parent of a process it did not start" not in refused:
            refused.append("claimed to be the parent of a process it did not start")
        return False

    for event in events:
        key, kind = event["key"], event["k"]
        fact = facts[key]
        if kind == "proc":
            if event["how"] == "root":
                roots.add(key)
        elif kind == "child":
            if parent_says(event):
                started_in[event["child_key"]] = event.get("q")
                facts[event["child_key"]].setdefault("name", event.get("name"))
        elif kind == "mp":
            fact.update(name=event.get("name"), mp_parent=event.get("mp_parent"))
        elif kind == "pool_worker":
            fact["pool_worker"] = True
        elif kind == "server":
            fact["server"] = True
        elif kind == "exit":
            fact["exit_code"] = event.get("code")
        elif kind == "reaped":  # the parent's word wins: it also knows deaths by signal
            if parent_says(event):
                facts[event["child_key"]]["reaped"] = event.get("code")
        elif kind == "write":
            event["text"] = "".join(event.pop("parts"))  # the collector's run of writes
            fact["stderr" if event["stream"] == "stderr" else "stdout"].append(event["text"])
            writes.append(event)
        elif kind == "task":
            tasks.append(event)
        elif kind == "cut":
            cut.append(event)
        elif kind == "input":
            inputs.append(event)

    for fact in facts.values():
        if fact.get("reaped") == 0 and fact.get("exit_code") not in (None, 0):  # a crash the parent would hide
            del fact["reaped"]
            if "a parent said a child that failed exited cleanly" not in refused:
                refused.append("a parent said a child that failed exited cleanly")
    processes: dict[str, Process] = {}
    for key, fact in facts.items():
        if "how" not in fact:
            continue  # records of a process whose hello the collector refused
        parent = facts.get(fact.get("parent") or "", {})
        creator = None
        if parent.get("how") == "forkserver" and fact.get("mp_parent"):
            creator = fact["mp_parent"]  # the forkserver forks it; multiprocessing says for whom
        processes[key] = Process(
            key=key, pid=fact["pid"], ppid=fact["ppid"], how=fact["how"],
            question=started_in.get(key, fact.get("q")) if key not in roots else None,
            name=fact.get("name"), creator=creator,
            # a worker the pool ended before it began its loop never said so itself
            pool_worker=fact.get("pool_worker", False) or "PoolWorker" in (fact.get("name") or ""),
            exit_code=fact.get("reaped", fact.get("exit_code")),
            stdout="".join(fact["stdout"]), stderr="".join(fact["stderr"]), server=fact.get("server", False),
        )

    def question_of(event: dict) -> str | None:
        """A child's events belong to its process's question; the root's to the running code."""
        process = processes.get(event["key"])
        if process is None or event["key"] in roots:
            return event.get("q")
        return process.question

    return Evidence(
        roots=frozenset(roots),
        processes=processes,
        writes=tuple(Write(e["key"], e["stream"], e["text"], question_of(e), e["thread"]) for e in writes),
        tasks=tuple(Task(e["key"], question_of(e), tuple(e["values"]), tuple(e["inputs"])) for e in tasks),
        units=units,
        cut=tuple((question_of(e), e["key"]) for e in cut),
        limits_hit=limits_hit,
        inputs=tuple((question_of(e), e["prompt"]) for e in inputs),
        rejected=tuple(refused),
    )
