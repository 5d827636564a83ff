"""Receive the probe's records over a Unix socket the grader holds, with the kernel's word for
who sent each one.

The probe runs inside the student's processes, so a record's content is only the student's
claim. What the student cannot forge is attached by the kernel: the sender's PID on every
message (SCM_CREDENTIALS, which a process without capabilities can only set to its own), and
the facts the grader reads from /proc while a new process waits, blocked, for the answer to
its hello: its PID as the student's code sees it (NSpid) and its parent. The first process to
say hello after a start is the run's root; only the root may report units. A record that
contradicts the kernel (a unit from a child, a pool task from the main process, a record
without credentials, a child claimed by a process that is not its parent) is dropped and
named, for an instructor to review.

Everything is bounded: bytes per message and per run, characters kept per question and
process and per run, records per run. Past a bound the rest is dropped and the cut noted, so
a flood costs the grader at most reading it.
"""

from __future__ import annotations

import json
import os
import selectors
import socket
import struct
import threading
import time
from pathlib import Path

from grader.probe._grader_wire import KIND, REPORTED, STARTED_BY_MULTIPROCESSING, Kind, UnitStatus
from grader.run.records import (
    Became,
    Cut,
    Exited,
    Hello,
    How,
    InputCalled,
    MpRole,
    Named,
    ProcessKey,
    Reaped,
    Record,
    Started,
    Stream,
    TaskDone,
    UnitReport,
    Written,
)

MESSAGE_BYTES = 256 * 1024  # the probe's largest message is far smaller
_RECORDS = 100_000  # per run: past this, records are dropped (writes as cut output)
_CONNECTIONS = 512  # open at once per run: far more than its processes need, far fewer than the grader's files
_REJECTIONS_KEPT = 20  # named in the review flag; the rest only counted
_CREDENTIALS = struct.Struct("iII")  # struct ucred: pid, uid, gid


def process_facts(pid: int) -> tuple[int, int] | None:
    """(PID inside its own namespace, parent's PID as the grader sees it), from /proc."""
    try:
        with open(f"/proc/{pid}/status", "rb") as handle:
            text = handle.read(8192).decode("ascii", "replace")
    except OSError:
        return None
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    try:
        parent = int(fields["PPid"])
        inner = int(fields.get("NSpid", fields.get("Pid", "0")).split()[-1])
    except (KeyError, ValueError, IndexError):
        return None
    return inner, parent


def _command_line(pid: int) -> bytes | None:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read(4096)
    except OSError:
        return None


def how_started(pid: int, parent: int) -> How:
    """How a process came to be, by the kernel's word: a fork shares its parent's command
    line; multiprocessing's spawn, forkserver and resource tracker each start Python with
    their own."""
    command = _command_line(pid)
    if command is None or command == _command_line(parent):
        return How.FORK
    return next((How(how) for marker, how in STARTED_BY_MULTIPROCESSING.items() if marker.encode() in command),
                How.EXEC)


def _text(value: object, limit: int) -> str | None:
    return value[:limit] if isinstance(value, str) else None


def _number(value: object, low: int, high: int) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high else None


class Collector:
    """One per submission: a listening socket, and a thread that reads it until `close()`."""

    def __init__(self, directory: Path, questions: frozenset[str], output_limit: int, output_total: int,
                 processes: int = 64) -> None:
        self.path = str(directory / "probe.sock")
        self.questions = questions
        self.output_limit = output_limit  # characters per question and process
        self.output_total = output_total  # characters of the whole run
        # what an honest run can send: every process's output, cut by the probe, twice over
        self.byte_budget = 2 * (output_total + processes * output_limit) + 16 * MESSAGE_BYTES
        self.changed = threading.Condition()  # notified on every unit record and by `poke()`
        self.records: list[Record] = []
        self.status: dict = {}  # what the launcher applied (its report for the latest start)
        self._status_start = -1
        self.rejected: list[str] = []
        self.rejections = 0
        self.start = 0  # counts the starts of a kernel or runner: PIDs repeat across them (`ProcessKey.start`)
        self.root: int | None = None  # the grader's PID of this start's root process
        self.units: dict[int, UnitReport] = {}  # this start's unit outcomes
        self.started: tuple[int, float] | None = None  # the unit this start's root began last, and when
        self.next_unit = 0  # the only unit that may start next
        self.settled_at = time.monotonic()  # when the last unit ended (or this start began)
        self._known: dict[int, ProcessKey] = {}  # grader's PID -> its process (and start)
        self._written: dict[tuple[ProcessKey, str | None], int] = {}
        self._total = 0
        self._bytes = 0
        self._cut: set[tuple[ProcessKey, str | None]] = set()
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self._listener.bind(self.path)
        os.chmod(self.path, 0o666)  # the run's own user connects
        self._listener.listen(128)
        self._listener.setblocking(False)
        self._wake_read, self._wake_write = os.pipe()
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ)
        self._selector.register(self._wake_read, selectors.EVENT_READ)
        self._open = 0  # connections not ended yet
        self._thread = threading.Thread(target=self._serve, daemon=True, name="grader-collector")
        self._thread.start()

    # --- the engines' side ---------------------------------------------------------------

    def new_start(self) -> None:
        """A new root process is about to start: the next hello is its."""
        with self.changed:
            self.start += 1
            self.root = None
            self.units = {}
            self.started = None
            self.next_unit = 0
            self.settled_at = time.monotonic()

    def settle(self, timeout: float) -> None:
        """Wait until every connection has ended (its process is gone and all it sent is
        read): call it once the run's processes are killed."""
        with self.changed:
            self.changed.wait_for(lambda: self._open == 0, timeout)

    def poke(self) -> None:
        with self.changed:
            self.changed.notify_all()

    def close(self) -> None:
        """Read what is still queued, then stop; the run's processes are gone by now."""
        os.write(self._wake_write, b"x")
        self._thread.join(timeout=10)
        for key in list(self._selector.get_map().values()):
            if key.fileobj not in (self._wake_read,):
                key.fileobj.close()  # type: ignore[union-attr]
        self._selector.close()
        os.close(self._wake_read)
        os.close(self._wake_write)

    # --- the thread ----------------------------------------------------------------------

    def _serve(self) -> None:
        while True:
            for key, _ in self._selector.select():
                if key.fileobj is self._listener:
                    self._accept()
                elif key.fileobj == self._wake_read:
                    self._drain()
                    return
                else:
                    self._read(key.fileobj, limit=64)  # type: ignore[arg-type]

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                time.sleep(0.01)  # out of file descriptors: that process goes unobserved, and
                return  # the listener, still readable, must not spin this thread
            if self._open >= _CONNECTIONS:
                connection.close()
                self._reject(f"more than {_CONNECTIONS} connections at once; the rest were refused")
                continue
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
            connection.setblocking(False)
            self._selector.register(connection, selectors.EVENT_READ)
            with self.changed:
                self._open += 1

    def _drain(self) -> None:
        self._accept()
        for key in list(self._selector.get_map().values()):
            if key.fileobj not in (self._listener, self._wake_read):
                self._read(key.fileobj, limit=None)  # type: ignore[arg-type]

    def _read(self, connection: socket.socket, limit: int | None) -> None:
        count = 0
        while limit is None or count < limit:
            count += 1
            try:
                data, ancillary, flags, _ = connection.recvmsg(MESSAGE_BYTES, socket.CMSG_SPACE(_CREDENTIALS.size))
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                data, ancillary, flags = b"", [], 0
            if not data:
                self._end(connection)
                return
            pid = 0
            for level, kind, payload in ancillary:
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS and len(payload) >= _CREDENTIALS.size:
                    pid = _CREDENTIALS.unpack(payload[:_CREDENTIALS.size])[0]
            self._bytes += len(data)
            if self._bytes > self.byte_budget:
                self._reject("more evidence than a run may send; the rest was dropped")
                self._end(connection)
                return
            if flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC) or pid <= 0:
                self._reject("a record without the kernel's word for its sender, or oversized")
                continue
            try:
                record = json.loads(data)
            except (ValueError, RecursionError):
                self._reject("a record that is not JSON")
                continue
            if not isinstance(record, dict) or not isinstance(record.get(KIND), str):
                self._reject("a record of no known kind")
                continue
            with self.changed:
                self._handle(pid, record, connection)

    def _end(self, connection: socket.socket) -> None:
        self._selector.unregister(connection)
        connection.close()
        with self.changed:
            self._open -= 1
            self.changed.notify_all()

    # --- records -------------------------------------------------------------------------

    def _reject(self, reason: str) -> None:
        self.rejections += 1
        if len(self.rejected) < _REJECTIONS_KEPT and reason not in self.rejected:
            self.rejected.append(reason)

    def _question(self, value: object) -> str | None:
        return value if isinstance(value, str) and value in self.questions else None

    def _add(self, record: Record) -> bool:
        if len(self.records) >= _RECORDS + 100:  # room kept for the cut notes themselves
            return False
        if len(self.records) >= _RECORDS and not isinstance(record, Cut):
            if isinstance(record, Written) and (record.key, record.question) not in self._cut:
                self._cut.add((record.key, record.question))
                self.records.append(Cut(record.key, record.question))
            return False
        self.records.append(record)
        return True

    def _handle(self, pid: int, record: dict, connection: socket.socket) -> None:
        try:
            kind = Kind(record[KIND])
        except ValueError:
            self._reject(f"a record of unknown kind {str(record[KIND])[:20]!r}")
            return
        if kind is Kind.SANDBOX:
            if self.root is None and self._status_start != self.start and isinstance(record.get("status"), dict):
                self.status, self._status_start = record["status"], self.start
            else:
                self._reject("a sandbox report after the run had started")
            self._answer(connection)
            return
        if kind is Kind.HELLO:
            self._hello(pid, record)
            self._answer(connection)
            return
        known = self._known.get(pid)
        if known is None or known.start != self.start:
            self._reject(f"a {kind.value!r} record from a process that never said hello")
            return
        key = known
        is_root = pid == self.root
        if kind in (Kind.UNIT, Kind.START):
            number = _number(record.get("n"), 0, 1 << 20)
            if not is_root or number is None:
                self._reject(f"a {kind.value!r} record from a process other than the run's main process")
                return
            running = self.started is not None and self.started[0] not in self.units
            if kind is Kind.START:  # units start in order, one at a time: no start can move the clock
                if running or number != self.next_unit:
                    self._reject("a unit started out of order")
                    return
                self.started = (number, time.monotonic())
            else:
                try:
                    status = UnitStatus(record.get("status"))
                except ValueError:
                    status = None
                if status not in REPORTED:
                    self._reject("a unit record with an unknown status")
                    return
                earlier = self.units.get(number)
                current = running and self.started is not None and self.started[0] == number
                if earlier is not None:  # the runner reports a unit once: the other report is forged
                    self._reject("two outcomes reported for one unit; the worse one counts")
                    if earlier.status is not UnitStatus.OK:
                        return
                elif not (current or (number == self.next_unit and status is UnitStatus.SKIPPED and not running)):
                    self._reject("an outcome for a unit that is not running")
                    return
                since = self.started[1] if current and self.started else time.monotonic()
                self.units[number] = UnitReport(status, _text(record.get("error"), 2000), time.monotonic() - since)
                self.next_unit = max(self.next_unit, number + 1)
                self.settled_at = time.monotonic()
            self.changed.notify_all()
            return
        if kind is Kind.WRITE:
            self._write(key, record)
            return
        if kind in (Kind.TASK, Kind.POOL_WORKER, Kind.SERVER) and is_root:
            self._reject(f"a {kind.value!r} record from the run's main process")
            return
        event: Record
        if kind is Kind.TASK:
            values, inputs = record.get("values"), record.get("inputs")
            if not isinstance(values, list) or not isinstance(inputs, list) or len(values) > 50 or len(inputs) > 50:
                self._reject("a malformed pool task record")
                return
            event = TaskDone(key, self._question(record.get("q")), tuple(str(v)[:200] for v in values),
                             tuple(str(v)[:200] for v in inputs))
        elif kind in (Kind.CHILD, Kind.REAPED):
            child = _number(record.get("child"), 1, 1 << 30)
            if child is None:
                self._reject(f"a {kind.value!r} record without a valid PID")
                return
            child_key = ProcessKey(self.start, child)
            if kind is Kind.CHILD:
                event = Started(key, child_key, _text(record.get("name"), 100), self._question(record.get("q")))
            else:
                event = Reaped(key, child_key, _number(record.get("code"), -255, 255))
        elif kind is Kind.MP:
            event = Named(key, _text(record.get("name"), 100), _number(record.get("mp_parent"), 1, 1 << 30))
        elif kind is Kind.EXIT:
            event = Exited(key, _number(record.get("code"), -255, 255))
        elif kind is Kind.CUT:
            event = Cut(key, self._question(record.get("q")))
        elif kind is Kind.INPUT:
            event = InputCalled(key, self._question(record.get("q")), _text(record.get("prompt"), 200) or "")
        else:
            event = Became(key, MpRole.POOL_WORKER if kind is Kind.POOL_WORKER else MpRole.SERVER)
        self._add(event)

    def _hello(self, pid: int, record: dict) -> None:
        facts = process_facts(pid)
        if facts is None:
            return  # killed while it waited (a pool terminated): nothing of it can count
        inner, parent = facts
        key = ProcessKey(self.start, inner)
        if self.root is None:
            self.root, how = pid, How.ROOT
        elif pid == self.root:
            how = How.ROOT  # the root started Python again (exec): still the root
        else:
            how = how_started(pid, parent)  # never the process's own claim
        self._known[pid] = key
        parent_known = self._known.get(parent)
        parent_facts = None if parent_known else process_facts(parent)
        self._add(Hello(
            key, how, self._question(record.get("q")),
            parent=parent_known if parent_known and parent_known.start == self.start else None,
            ppid=parent_known.pid if parent_known else (parent_facts[0] if parent_facts else 0),
        ))

    def _answer(self, connection: socket.socket) -> None:
        try:
            connection.send(b"\x01")
        except OSError:
            pass

    def _write(self, key: ProcessKey, record: dict) -> None:
        text = record.get("text")
        try:
            stream = Stream(record.get("stream"))
        except ValueError:
            stream = None
        if not isinstance(text, str) or stream is None:
            self._reject("a malformed write record")
            return
        question = self._question(record.get("q"))
        used = self._written.get((key, question), 0)
        room = min(self.output_limit - used, self.output_total - self._total)
        if len(text) > room:
            if (key, question) not in self._cut:
                self._cut.add((key, question))
                self._add(Cut(key, question))
            text = text[:max(room, 0)]
        if not text:
            return
        main_thread = record.get("thread") is not False
        last = self.records[-1] if self.records else None
        if isinstance(last, Written) and last.key == key and last.stream == stream \
                and last.question == question and last.main_thread == main_thread:
            last.parts.append(text)  # the same process writing on: one record, however many writes
        elif not self._add(Written(key, stream, question, main_thread, [text])):
            return
        self._written[(key, question)] = used + len(text)
        self._total += len(text)
