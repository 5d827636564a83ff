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

from collections import defaultdict
from dataclasses import dataclass, field

from grader.evidence.model import Evidence, Process, Task, Write
from grader.run.records import (
    Became,
    Cut,
    Exited,
    Hello,
    How,
    InputCalled,
    MpRole,
    Named,
    Observation,
    ProcessKey,
    Reaped,
    Started,
    Stream,
    TaskDone,
    Written,
)

_FORGED_PARENT = "claimed to be the parent of a process it did not start"
_HIDDEN_CRASH = "a parent said a child that failed exited cleanly"


@dataclass
class _Facts:
    """What is known of one process so far, from its hello and its own records."""

    hello: Hello | None = None
    started: bool = False  # its creator said it started it...
    started_in: str | None = None  # ...while this question ran
    name: str | None = None
    mp_parent: int | None = None
    pool_worker: bool = False
    server: bool = False
    exit_code: int | None = None
    reaped: bool = False  # the parent gave its word on the exit
    reaped_code: int | None = None  # ...and this was it (None: a code it could not give)
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)


def read_evidence(observation: Observation) -> Evidence:
    facts: dict[ProcessKey, _Facts] = defaultdict(_Facts)
    for record in observation.records:
        if isinstance(record, Hello):
            facts[record.key].hello = record
    roots = {key for key, fact in facts.items() if fact.hello is not None and fact.hello.how is How.ROOT}
    writes: list[Written] = []
    tasks: list[TaskDone] = []
    cut: list[Cut] = []
    inputs: list[InputCalled] = []
    refused: list[str] = list(observation.rejected)

    def parent_says(sender: ProcessKey, child_key: ProcessKey) -> bool:
        """The sender is the child's parent, or started the forkserver that forked it."""
        child = facts[child_key].hello if child_key in facts else None
        parent_key = child.parent if child is not None else None
        parent = facts[parent_key].hello if parent_key is not None and parent_key in facts else None
        grandparent = parent.parent if parent is not None and parent.how is How.FORKSERVER else None
        if parent_key is not None and sender in (parent_key, grandparent):
            return True
        if child is not None and _FORGED_PARENT not in refused:
            refused.append(_FORGED_PARENT)
        return False

    for record in observation.records:
        if isinstance(record, Started):
            if parent_says(record.key, record.child):
                child = facts[record.child]
                child.started, child.started_in = True, record.question
                if child.name is None:
                    child.name = record.name
        elif isinstance(record, Named):
            facts[record.key].name, facts[record.key].mp_parent = record.name, record.mp_parent
        elif isinstance(record, Became):
            if record.role is MpRole.POOL_WORKER:
                facts[record.key].pool_worker = True
            else:
                facts[record.key].server = True
        elif isinstance(record, Exited):
            facts[record.key].exit_code = record.code
        elif isinstance(record, Reaped):  # the parent's word wins: it also knows deaths by signal
            if parent_says(record.key, record.child):
                facts[record.child].reaped, facts[record.child].reaped_code = True, record.code
        elif isinstance(record, Written):
            fact = facts[record.key]
            (fact.stderr if record.stream is Stream.STDERR else fact.stdout).append(record.text)
            writes.append(record)
        elif isinstance(record, TaskDone):
            tasks.append(record)
        elif isinstance(record, Cut):
            cut.append(record)
        elif isinstance(record, InputCalled):
            inputs.append(record)

    for fact in facts.values():
        if fact.reaped and fact.reaped_code == 0 and fact.exit_code not in (None, 0):  # a crash the parent would hide
            fact.reaped = False
            if _HIDDEN_CRASH not in refused:
                refused.append(_HIDDEN_CRASH)
    processes: dict[ProcessKey, Process] = {}
    for key, fact in facts.items():
        hello = fact.hello
        if hello is None:
            continue  # records of a process whose hello the collector refused
        parent = facts[hello.parent].hello if hello.parent is not None and hello.parent in facts else None
        creator = None
        if parent is not None and parent.how is How.FORKSERVER and fact.mp_parent:
            creator = fact.mp_parent  # the forkserver forks it; multiprocessing says for whom
        processes[key] = Process(
            key=key, pid=key.pid, ppid=hello.ppid, how=hello.how,
            question=None if key in roots else (fact.started_in if fact.started else hello.question),
            name=fact.name, creator=creator,
            # a worker the pool ended before it began its loop never said so itself
            pool_worker=fact.pool_worker or "PoolWorker" in (fact.name or ""),
            exit_code=fact.reaped_code if fact.reaped else fact.exit_code,
            stdout="".join(fact.stdout), stderr="".join(fact.stderr), server=fact.server,
        )

    def question_of(key: ProcessKey, question: str | None) -> str | None:
        """A child's records belong to its process's question; the root's to the running code."""
        process = processes.get(key)
        if process is None or key in roots:
            return question
        return process.question

    return Evidence(
        roots=frozenset(roots),
        processes=processes,
        writes=tuple(Write(w.key, w.stream, w.text, question_of(w.key, w.question), w.main_thread) for w in writes),
        tasks=tuple(Task(t.key, question_of(t.key, t.question), t.values, t.inputs) for t in tasks),
        units=observation.units,
        cut=tuple((question_of(c.key, c.question), c.key) for c in cut),
        limits_hit=observation.limits_hit,
        inputs=tuple((question_of(a.key, a.question), a.prompt) for a in inputs),
        rejected=tuple(refused),
    )
