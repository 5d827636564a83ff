"""What the collector accepted of a run, as typed records: the kernel's facts about each
process, and the claims a process may make about itself and its own children.

The probe's JSON (`probe/_grader_wire.py`) is the student's to forge; these are what the
collector made of it after checking it against the kernel, and what `evidence.read` joins.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from grader.common.text import Word
from grader.probe._grader_wire import UnitStatus
from grader.run.limits import Limit
from grader.run.units import UnitOutcome


@dataclass(frozen=True, order=True)
class ProcessKey:
    """A process in one run: PIDs repeat after a kernel or runner restart, so each start
    (`start`) of the run's root counts as its own PID space."""

    start: int
    pid: int  # as the process itself saw it (inside the run's PID namespace)

    def __str__(self) -> str:
        return f"{self.start}/{self.pid}"


class How(Word):
    """How a process came to be, by the kernel's word: the first to say hello after a start is
the root; the others, by their command lines (`collector.how_started`)."""

    ROOT = "root"
    FORK = "fork"
    SPAWN = "spawn"
    FORKSERVER = "forkserver"
    HELPER = "helper"  # multiprocessing's resource tracker
    EXEC = "exec"


@dataclass(frozen=True)
class Hello:
    """A process joined the run: the kernel's facts, read while it waited."""

    key: ProcessKey
    how: How
    question: str | None  # the question its environment named
    parent: ProcessKey | None  # its parent, if the parent is a process of this start
    ppid: int  # its parent's PID as seen inside the run


@dataclass(frozen=True)
class Started:
    """A process says it started `child` through multiprocessing, while `question` ran."""

    key: ProcessKey
    child: ProcessKey
    name: str | None
    question: str | None


@dataclass(frozen=True)
class Reaped:
    """A process says its child `child` ended with `code`."""

    key: ProcessKey
    child: ProcessKey
    code: int | None


@dataclass(frozen=True)
class Named:
    """multiprocessing's name for the process, and the PID of the process that asked for it."""

    key: ProcessKey
    name: str | None
    mp_parent: int | None


class Stream(Word):
    STDOUT = "stdout"
    STDERR = "stderr"  # print(file=sys.stderr), logging, tracebacks


class MpRole(Word):
    POOL_WORKER = "pool_worker"
    SERVER = "server"  # a Manager's server process


@dataclass(frozen=True)
class Became:
    """multiprocessing made the process a pool worker or a Manager's server."""

    key: ProcessKey
    role: MpRole


@dataclass(frozen=True)
class Exited:
    key: ProcessKey
    code: int | None


@dataclass
class Written:
    """A run of writes by one process to one stream while one question ran: not frozen, as
    the collector appends the same process's next writes to it while nothing else came between."""

    key: ProcessKey
    stream: Stream
    question: str | None
    main_thread: bool
    parts: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(self.parts)


@dataclass(frozen=True)
class TaskDone:
    """A pool worker sent results back: repr() of each, and of its input when known."""

    key: ProcessKey
    question: str | None
    values: tuple[str, ...]
    inputs: tuple[str, ...]


@dataclass(frozen=True)
class Cut:
    """The process's output for the question went past a limit; the rest was dropped."""

    key: ProcessKey
    question: str | None


@dataclass(frozen=True)
class InputCalled:
    """The process called input()."""

    key: ProcessKey
    question: str | None
    prompt: str


Record = Hello | Started | Reaped | Named | Became | Exited | Written | TaskDone | Cut | InputCalled


@dataclass(frozen=True)
class UnitReport:
    """The runner's word on how one of its units ended, timed by the collector's clock."""

    status: UnitStatus
    error: str | None
    seconds: float


@dataclass(frozen=True)
class Observation:
    """All that one execution of a submission produced, for `evidence.read` to join."""

    records: tuple[Record, ...]  # in the order they came
    units: tuple[UnitOutcome, ...]  # one per unit planned, in order
    limits_hit: tuple[Limit, ...] = ()  # limits of the whole run that were reached (cgroups)
    rejected: tuple[str, ...] = ()  # records the collector dropped because they contradicted the kernel
