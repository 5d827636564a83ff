"""Checks of the processes a question's code really created and what each one printed."""

from __future__ import annotations

import heapq
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import ClassVar

from grader.common.text import clip
from grader.evidence.model import Process, QuestionEvidence
from grader.grading.checks.base import Check, Outcome, register
from grader.run.records import ProcessKey

# read on squeezed text (one space per gap), so the optional gaps cannot backtrack far; a PID
# has at most 19 digits, so int() never meets a 5,000-digit "PID"
_PID_CLAIM = re.compile(r"(?:\bpid\b|process[ _-]?id\b|\bid\b) ?(?:is|of)? ?[:=#]? ?(\d{1,19})(?!\d)", re.IGNORECASE)
_GAPS = re.compile(r"[^\S\n]+")
NUMBER = re.compile(r"(?<![\w.\-])[-+]?\d+(?:\.\d+)?(?![\w]|\.\d)")


def _squeezed(text: str) -> str:
    """The text with its lines ended by \\n only (as str.splitlines ends them) and every other
    run of white space made one space: the parsers below read it whole, never line by line,
    so a million short lines cost no more than one long one."""
    return _GAPS.sub(" ", "\n".join(text.splitlines()))


def _mp_children(evidence: QuestionEvidence) -> list[Process]:
    return [p for p in evidence.children if p.name is not None]


def named(process: Process) -> str:
    return f"{clip(process.name or '?', 60)} (PID {process.pid})"


@register
@dataclass(frozen=True, kw_only=True)
class Processes(Check):
    """The question's code really created child processes through multiprocessing."""

    kind: ClassVar[str] = "processes"
    min: int = 1
    max: int = 0  # 0: no upper bound
    pool_workers: bool = True  # false: count only the processes the code starts itself

    def evaluate(self, evidence: QuestionEvidence) -> Outcome:
        children = [p for p in _mp_children(evidence) if self.pool_workers or not p.pool_worker]
        pids = [p.pid for p in children]
        root_pids = {evidence.processes[key].pid for key in evidence.roots if key in evidence.processes}
        listed = ", ".join(named(p) for p in children[:8]) + (", ..." if len(children) > 8 else "")
        count = f"{len(children)} child process{'es' if len(children) != 1 else ''}"
        if len(set(pids)) != len(pids) or root_pids & set(pids):
            return Outcome(0.0, f"child PIDs are not distinct from each other and the parent: {clip(str(pids), 300)}")
        if len(children) < self.min:
            threads = [w for w in evidence.writes if not w.main_thread]
            hint = " Output came from threads of the main process, not from processes." if threads else ""
            workers = [p for p in _mp_children(evidence) if p.pool_worker]
            if not self.pool_workers and workers:
                count = f"{len(children)} process{'es' if len(children) != 1 else ''} started by the code itself"
                hint = (f" The {len(workers)} pool worker process(es) do not count: a pool decides which of"
                        " its workers runs each task.")
            return Outcome(0.0, f"observed {count} created by multiprocessing, expected at least {self.min}.{hint}")
        if self.max and len(children) > self.max:
            return Outcome(0.0, f"observed {count}, expected at most {self.max}: {listed}")
        return Outcome(1.0, f"observed {count}: {listed}")


@register
@dataclass(frozen=True, kw_only=True)
class RealPids(Check):
    """Every PID the code printed is the real PID of the process that printed it (or of its
    parent or one of its children): a made-up PID fails. 0 is never a real PID, and 1 only
    when a process of the run has it (in a PID namespace, 1 is the namespace's init, not a
    process of the student's)."""

    kind: ClassVar[str] = "real_pids"
    require_printed: bool = True  # at least one PID must be printed

    def evaluate(self, evidence: QuestionEvidence) -> Outcome:
        claims = 0
        index = _pid_index(evidence)
        for key, text in evidence.output_by_process().items():
            text = _squeezed(text)
            related = _related_pids(evidence, key, index)
            for match in _PID_CLAIM.finditer(text):
                claims += 1
                claimed = int(match.group(1))
                if claimed not in related:
                    line = text[text.rfind("\n", 0, match.start()) + 1 : _line_end(text, match.end())]
                    return Outcome(
                        0.0,
                        f"printed {clip(line.strip(), 200)!r}, but the process that printed it has PID"
                        f" {evidence.processes[key].pid if key in evidence.processes else '?'}"
                        f" and no process it is related to has PID {claimed}",
                    )
        if claims == 0 and self.require_printed:
            return Outcome(0.0, "no process ID was printed (expected e.g. 'Worker process ID: 1234')")
        if claims == 0 and not _mp_children(evidence):
            return Outcome(0.0, "no process was created, so there is no process ID to vouch for")
        return Outcome(1.0, f"all {claims} printed PID(s) match the processes that printed them")


def _line_end(text: str, position: int) -> int:
    end = text.find("\n", position)
    return len(text) if end < 0 else end


def _pid_index(evidence: QuestionEvidence) -> tuple[dict[tuple[int, int], set[int]], set[int]]:
    """Once per question: the children's PIDs of each (start, PID), and the starts where a
    process of the run itself is PID 1 (linear, however many processes the run made)."""
    children: dict[tuple[int, int], set[int]] = defaultdict(set)
    with_one: set[int] = set()
    for p in evidence.processes.values():
        children[(p.start, p.ppid)].add(p.pid)
        if p.creator is not None:
            children[(p.start, p.creator)].add(p.pid)
        if p.pid == 1:
            with_one.add(p.start)
    return children, with_one


def _related_pids(evidence: QuestionEvidence, key: ProcessKey,
                  index: tuple[dict[tuple[int, int], set[int]], set[int]]) -> set[int]:
    """The PIDs a process may truthfully print: its own, its parent's, its children's
    (within its own PID namespace). Never 0 (no process: what getppid() says of a parent
    outside the namespace), and 1 only when it is a process of the run, not the init of
    the namespace the run is in."""
    process = evidence.processes.get(key)
    if process is None:
        return set()
    children, with_one = index
    related = {process.pid, process.ppid, *children.get((process.start, process.pid), ())}
    if process.creator is not None:
        related.add(process.creator)
    related.discard(0)
    if process.start not in with_one:
        related.discard(1)
    return related


@register
@dataclass(frozen=True, kw_only=True)
class SeparateWriters(Check):
    """`count` distinct values, each printed (stdout, stderr or logging) by a different child
    process that the code started itself. A process counts only with a number of its own: one
    that none of the other counted processes printed (four processes that each print
    `1 2 3 4` are one process's numbers four times; four that each print their own PID are
    four different numbers). Numbers are read either way a line can mean them: all of a
    line's numbers, or the last of a line with two (`Process 2: 4` is the number 4 of process
    2, also when process 4 says `Process 4: 8`). Pool workers that print the values earn `from_pool` of
    the points: which worker prints which value is left to the scheduler, so the code does
    not make each process print its own (and this share is the same on every run, however
    the tasks fell)."""

    kind: ClassVar[str] = "separate_writers"
    count: int
    from_pool: float = 0.0

    def __post_init__(self) -> None:
        if not 0 <= self.from_pool <= 1:
            raise ValueError(f"from_pool must be between 0 and 1, not {self.from_pool}")

    def evaluate(self, evidence: QuestionEvidence) -> Outcome:
        children = {p.key: p for p in evidence.children}
        every: dict[ProcessKey, set[str]] = {}  # per child the code started: all the numbers it printed
        last: dict[ProcessKey, set[str]] = {}  # and the last number of each of its lines
        pooled: set[str] = set()
        parent_values: set[str] = set()
        for key, text in evidence.printed_by_process().items():
            process = evidence.processes.get(key)
            lines, pids = numbers_by_line(_without_timestamps(text), process.pid if process else None)
            if not lines and pids and key in children:
                lines = [[pid] for pid in pids]  # only its PID, labelled: a number of its own all the same
            values = {value for line in lines for value in line}
            if key in children and children[key].pool_worker:
                pooled |= values
            elif key in children:
                every[key] = values
                last[key] = {line[-1] for line in lines if len(line) <= 2}  # "Process 2: 4", not "3 4 1 2"
            else:
                parent_values |= values
        own = max((_own_numbers(every, self.count), _own_numbers(last, self.count)), key=len)
        if len(own) >= self.count:
            shown = ", ".join(
                f"PID {evidence.processes[key].pid} printed {clip(value, 40)}"
                for key, value in sorted(own.items(), key=lambda item: evidence.processes[item[0]].pid)[: self.count]
            )
            return Outcome(1.0, shown)
        if len(pooled) >= self.count and self.from_pool:
            return Outcome(self.from_pool, (
                f"pool worker processes printed {len(pooled)} different numbers, but with a pool the"
                " scheduler decides which worker prints which number; start one Process per number"
                f" so that each of {self.count} processes prints its own"))
        writers = len([key for key, values in every.items() if values])
        detail = (
            f"found {len(own)} different number(s) printed by {writers} different child process(es);"
            f" expected {self.count}, each printed by its own process"
        )
        if writers > len(own):
            shared = sorted(set.intersection(*[values for values in every.values() if values]), key=_number_order)
            detail += (f". {writers - len(own)} of the processes printed only numbers that another process"
                       " printed too" + (f" (all of them printed {', '.join(clip(v, 20) for v in shared[:6])})"
                                         if shared else "")
                       + ": each process must print a number of its own")
        if parent_values and len(own) < self.count:
            detail += f". The main process printed {', '.join(clip(v, 20) for v in sorted(parent_values)[:6])} itself"
            if any(not w.main_thread for w in evidence.writes):
                detail += " (from threads, which are not processes)"
        return Outcome(0.0, detail)


_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[,.]\d+)?|\d\d:\d\d:\d\d(?:[,.]\d+)?")


def _without_timestamps(text: str) -> str:
    """A logging format's time is not a number the process chose to print."""
    return _TIMESTAMP.sub(" ", text)


def numbers_by_line(text: str, own_pid: int | None = None) -> tuple[list[list[str]], list[str]]:
    """The numbers of each line that has any, leaving out printed PIDs: those after a label
    ("PID 12"), and the writer's own PID unless it is the line's only number ("[15] my
    number is 3"); and the PIDs the labels named. Each line is read by one C-level scan
    (two where the text names a PID), so a million short lines cost little."""
    text = _squeezed(text)
    labelled = _PID_CLAIM.search(text) is not None
    own = str(own_pid)
    lines: list[list[str]] = []
    pids: list[str] = []
    for line in text.split("\n"):
        named = {m.start(1): m.group(1) for m in _PID_CLAIM.finditer(line)} if labelled else None
        if named:
            pids.extend(named.values())
            found = [m.group(0) for m in NUMBER.finditer(line) if m.start() not in named]
        else:
            found = NUMBER.findall(line)
        if found:
            if "+" in line:
                found = [number.lstrip("+") for number in found]
            if own in found:
                found = [number for number in found if number != own] or found
            lines.append(found)
    return lines, pids


def _number_order(value: str) -> tuple[int, str]:
    return (len(value), value)


def _own_numbers(options: dict[ProcessKey, set[str]], wanted: int) -> dict[ProcessKey, str]:
    """Processes that each printed a number none of the other counted processes printed, with
    one such number each. Processes that printed the very same numbers count once. When
    a process's numbers are all printed by others too, the process printing the most
    numbers is set aside first (it repeats the others: a process that prints everyone's
    numbers does not hide theirs), and the rest are looked at again, until every process
    left has a number of its own or `wanted` do. A number that every process printed is the
    program's, not one process's ("Number 3 of 4", a parent's PID), and is left out, except
    where it is all a process printed. Linear in the numbers printed."""
    printing = [values for values in options.values() if values]
    common = set.intersection(*printing) if len(printing) > 1 else set()
    distinct: dict[frozenset[str], ProcessKey] = {}
    for key, values in sorted(options.items()):
        if values:
            distinct.setdefault(frozenset(values - common or values), key)
    alive = {key: set(values) for values, key in distinct.items()}
    holders: dict[str, set[ProcessKey]] = defaultdict(set)
    for key, values in alive.items():
        for value in values:
            holders[value].add(key)
    own = {key: {value for value in values if len(holders[value]) == 1} for key, values in alive.items()}
    with_own = sum(1 for values in own.values() if values)
    waiting = [(-len(alive[key]), key) for key, values in own.items() if not values]
    heapq.heapify(waiting)
    while waiting and with_own < wanted:
        _, key = heapq.heappop(waiting)
        if own[key]:
            continue  # it gained a number of its own when another was set aside
        for value in alive.pop(key):
            holders[value].discard(key)
            if len(holders[value]) == 1:
                (other,) = holders[value]
                with_own += not own[other]
                own[other].add(value)
        del own[key]
    return {key: min(values, key=_number_order) for key, values in own.items() if values}
