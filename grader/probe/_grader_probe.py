"""The probe: runs inside every process of a student's run and reports what really happened.

Printed text proves nothing about processes, so each process of the run sends its own facts
(how it was created, what it wrote, which pool tasks it computed, how it exited) as JSON
messages over a Unix socket that the grader holds (``GRADER_PROBE_SOCKET``). The student's
code runs in these processes and can send anything, so the messages carry no identity: the
kernel attaches the sender's PID to each one (SCM_CREDENTIALS), and the grader reads each
process's parent and PID from /proc while it waits, blocked, for the grader's answer to its
first message. Nothing travels through the notebook's output or through files of the run.

This module must import nothing from ``grader`` and only cheap standard modules: it is loaded
by ``sitecustomize`` into every interpreter of the run, including spawned children.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading

from _grader_wire import INPUT_ANSWER, KIND, STARTED_BY_MULTIPROCESSING, Kind

TYPE_CHECKING = False  # typing itself is not imported: this module loads into every process of a run
if TYPE_CHECKING:
    import types
    import typing

_SOCKET_PATH = ""  # set by install(), from the environment
_CHUNK = 8192  # characters of text per message: a message stays far below the socket's size limit
_OUTPUT_LIMIT = 0  # characters kept per question and process; 0: all
_written: dict = {}  # question -> characters written by this process

_pid = 0  # the process the open connection belongs to
_sock: socket.socket | None = None
_question: str | None = None
_is_child = False  # a descendant of the root process: its question is fixed at creation
_regions: dict[str, list[tuple[int, int, str | None]]] = {}
_installed = False


def connect(path: str, hello: dict) -> socket.socket | None:
    """A connection of this process to the grader: sends `hello` and waits for the answer,
    so that the grader reads this process's facts from /proc while it is surely alive."""
    try:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        sock.settimeout(10)
        sock.connect(path)
        sock.send(json.dumps(hello, ensure_ascii=False).encode("utf-8", "replace"))
        sock.recv(1)
        sock.settimeout(None)
        return sock
    except OSError:
        return None  # no grader (fd limit, socket gone): the process runs unobserved


def _hello() -> None:
    global _pid, _sock
    old, _sock, _pid = _sock, None, os.getpid()
    if old is not None:
        try:
            old.close()  # the parent's connection, inherited: the parent's copy stays open
        except OSError:
            pass
    _sock = connect(_SOCKET_PATH, {KIND: Kind.HELLO, "q": _question})


def emit(kind: Kind, **fields: object) -> None:
    """Send one record; never raises into student code."""
    if not _SOCKET_PATH:
        return
    if os.getpid() != _pid:  # a fork the after-fork hook did not see
        _hello()
    if _sock is None:
        return
    try:
        _sock.send(json.dumps({KIND: kind, **fields}, default=repr, ensure_ascii=False)
                   .encode("utf-8", "replace"))
    except Exception:
        pass


def reporter():  # type: ignore[no-untyped-def]
    """A sender bound now, before any student code runs, to this process's connection and to
    the C functions underneath: student code that later replaces `emit`, `socket.send` or
    `json.dumps` does not change what the runner reports through it."""
    import _socket

    sock, send, dumps = _sock, _socket.socket.send, json.dumps

    def report(kind: Kind, **fields: object) -> None:
        if sock is not None:
            try:
                send(sock, dumps({KIND: kind, **fields}, default=repr).encode("utf-8", "replace"))
            except Exception:
                pass

    return report


def set_question(question: str | None) -> None:
    """Called before each unit (cell or statement) of the root process: by the runner, or in
    the kernel by the grader's kernel engine."""
    global _question
    _question = question
    if question:
        os.environ["GRADER_QUESTION"] = question  # spawned children start from it
    else:
        os.environ.pop("GRADER_QUESTION", None)


def current_question() -> str | None:
    """The question whose code is running: in the root process, the innermost frame of the
    student's file that lies in a question's region (so a function defined under ``# Q3`` and
    called from a ``__main__`` block at the bottom still counts for Q3); in a child, the
    question that was running when it was created."""
    if _is_child or not _regions:
        return _question
    frame: types.FrameType | None = sys._getframe(1)
    while frame is not None:
        spans = _regions.get(frame.f_code.co_filename)
        if spans:
            line = frame.f_lineno
            for start, end, question in spans:
                if start <= line <= end and question:
                    return question
        frame = frame.f_back
    return _question


def load_regions(raw: dict) -> None:
    """{file: [[first line, last line, question], ...]}: the script's questions, by line."""
    global _regions
    _regions = {name: [tuple(span) for span in spans] for name, spans in raw.items()}


def _record(stream: str, text: str) -> str | None:
    """Record one write; the text to pass on, or None past the output limit."""
    question = current_question()
    if _OUTPUT_LIMIT:
        used = _written.get(question, 0)
        _written[question] = used + len(text)
        if used + len(text) > _OUTPUT_LIMIT:
            if used <= _OUTPUT_LIMIT:  # the first write over the limit says so
                emit(Kind.CUT, q=question)
            if used >= _OUTPUT_LIMIT:
                return None  # past the limit: neither recorded nor passed on
            text = text[: _OUTPUT_LIMIT - used]
    main = threading.current_thread() is threading.main_thread()
    for start in range(0, len(text), _CHUNK):
        emit(Kind.WRITE, stream=stream, text=text[start:start + _CHUNK], q=question, thread=main)
    return text


class _Tap:
    """Wraps sys.stdout/sys.stderr: every write is recorded with the writing PID first."""

    def __init__(self, inner: typing.TextIO, stream: str) -> None:
        self._grader_inner = inner
        self._grader_stream = stream

    def write(self, text: str) -> int:
        if isinstance(text, str) and text:
            kept = _record(self._grader_stream, text)
            if kept is None:
                return len(text)
            text = kept
        return self._grader_inner.write(text)

    def writelines(self, lines: object) -> None:
        for line in lines:  # type: ignore[attr-defined]
            self.write(line)

    def __getattr__(self, name: str) -> object:
        return getattr(self._grader_inner, name)


def tap_display(shell: object, passthrough: bool) -> None:
    """A value a cell displays (its last expression) is output too, whatever the engine:
    record it; `passthrough` also shows it the usual way (in a kernel, to the notebook)."""
    hook = shell.displayhook  # type: ignore[attr-defined]
    original = hook.write_format_data

    def write_format_data(format_dict, md_dict=None):  # type: ignore[no-untyped-def]
        text = format_dict.get("text/plain")
        if text:
            _record("stdout", f"{text}\n")
        if passthrough:
            return original(format_dict, md_dict)
        return None

    hook.write_format_data = write_format_data
    if not passthrough:
        hook.write_output_prompt = lambda: None


def install_taps() -> None:
    """Wrap the current sys.stdout and sys.stderr (again after ipykernel replaced them)."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is not None and not isinstance(stream, _Tap):
            setattr(sys, name, _Tap(stream, name))


_INPUT_ANSWERS = 20  # then EOFError, so that a loop asking for input forever ends
_inputs_given = 0


def answer_input(prompt: object = "") -> str:
    """input() as an instructor running the notebook would answer it, the same every run."""
    global _inputs_given
    if _inputs_given >= _INPUT_ANSWERS:  # before emitting: a loop catching EOFError adds nothing
        raise EOFError(f"input() was called more than {_INPUT_ANSWERS} times; the grader stopped answering")
    _inputs_given += 1
    emit(Kind.INPUT, prompt=str(prompt)[:200], q=current_question())
    if prompt:
        sys.stdout.write(str(prompt))
    return INPUT_ANSWER


_SEED = 2026  # every process starts from the same random state: random output is the same every run


def _seed_random() -> None:
    try:
        import random

        random.seed(_SEED)
    except Exception:
        pass


def _detach_from_kernel() -> None:
    """A child forked from a Jupyter kernel writes to the probe only. The streams it inherited
    write through the kernel's ZeroMQ sockets, which are not safe to use after a fork (libzmq
    then aborts the child now and then: a SIGABRT that would look like the student's crash),
    and the grader keeps no notebook output anyway."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        inner = stream._grader_inner if isinstance(stream, _Tap) else stream
        if type(inner).__module__.split(".")[0] != "ipykernel":
            continue
        sink = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115  # lives as long as the process
        if isinstance(stream, _Tap):
            stream._grader_inner = sink
        else:
            setattr(sys, name, sink)


def _after_fork_in_child() -> None:
    global _question, _is_child
    _detach_from_kernel()
    _written.clear()
    _seed_random()  # after random's own re-seeding at fork, which was registered before this
    _question = current_question()  # the forking code's question, read from the stack
    _is_child = True
    _hello()


def _started_by_multiprocessing() -> bool:
    argv = " ".join(getattr(sys, "orig_argv", sys.argv))
    return any(marker in argv for marker in STARTED_BY_MULTIPROCESSING)


def _patch_multiprocessing() -> None:
    """Report multiprocessing's view: which processes are its children, their names, exit
    codes, and the values pool workers really computed."""
    import functools
    import multiprocessing.pool
    import multiprocessing.process

    base = multiprocessing.process.BaseProcess
    original_start = base.start
    original_bootstrap = base._bootstrap  # type: ignore[attr-defined]  # multiprocessing's internals, on purpose

    @functools.wraps(original_start)
    def start(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        result = original_start(self, *args, **kwargs)
        emit(Kind.CHILD, child=self.pid, name=self.name, q=current_question())
        return result

    @functools.wraps(original_bootstrap)
    def _bootstrap(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        emit(Kind.MP, name=self.name, mp_parent=getattr(self, "_parent_pid", None))
        if getattr(getattr(self, "_target", None), "__name__", "") == "_run_server":
            emit(Kind.SERVER)  # a Manager's server process: multiprocessing's machinery, not the student's process
        _watch_executor_worker(self)
        code = original_bootstrap(self, *args, **kwargs)
        emit(Kind.EXIT, code=code)
        return code

    base.start = start  # type: ignore[method-assign]
    base._bootstrap = _bootstrap  # type: ignore[attr-defined]
    _patch_reaping()

    original_worker = multiprocessing.pool.worker  # type: ignore[attr-defined]  # internals, on purpose

    @functools.wraps(original_worker)
    def worker(inqueue, outqueue, *args, **kwargs):  # type: ignore[no-untyped-def]
        emit(Kind.POOL_WORKER)
        return original_worker(_QueueTap(inqueue, _pool_task_taken), _QueueTap(outqueue, _pool_result_sent),
                               *args, **kwargs)

    multiprocessing.pool.worker = worker  # type: ignore[attr-defined]

    # Python 3.14 makes forkserver the default on Linux, where functions defined in a notebook
    # cannot reach the children; fork stays the default unless the student chooses otherwise.
    context = multiprocessing.context
    default = getattr(context, "_default_context", None)
    if sys.platform.startswith("linux") and default is not None and default._actual_context is None:
        default._default_context = context._concrete_contexts["fork"]  # type: ignore[attr-defined]


def _patch_reaping() -> None:
    """The parent's view of each child's end: a child killed by a signal (a CPU limit, the
    OOM killer) cannot report its own exit, but its parent learns the signal."""
    import importlib

    for module_name in ("multiprocessing.popen_fork", "multiprocessing.popen_forkserver"):
        try:
            popen = importlib.import_module(module_name).Popen
        except (ImportError, AttributeError):
            continue
        if "poll" not in popen.__dict__:
            continue
        original = popen.__dict__["poll"]

        def poll(self, *args, _original=original, **kwargs):  # type: ignore[no-untyped-def]
            code = _original(self, *args, **kwargs)
            if code is not None and not getattr(self, "_grader_reaped", False):
                self._grader_reaped = True
                emit(Kind.REAPED, child=self.pid, code=code)
            return code

        popen.poll = poll


_last_task: list = [None]  # (function name, arguments) of the task the worker is running
_POOL_CHUNKS = ("mapstar", "starmapstar")  # Pool's wrappers that run one task over a chunk of inputs


def _inputs(func_name: str, args: object) -> list:
    """The inputs of the task, one per value it returns: map sends chunks of items,
    starmap chunks of argument tuples, apply one argument tuple."""
    if func_name in (*_POOL_CHUNKS, "_process_chunk"):
        try:
            chunk = args[0] if func_name == "_process_chunk" else args[1]  # type: ignore[index]
            if func_name == "mapstar":
                return list(chunk)
            # starmap and executor.map send argument tuples: one argument is the input itself
            return [a[0] if isinstance(a, tuple) and len(a) == 1 else a for a in chunk]
        except Exception:
            return []
    if isinstance(args, tuple) and len(args) == 1:
        return [args[0]]
    return [args]


def _report_task(values: list) -> None:
    name, args = _last_task[0] or ("", ())
    inputs = _inputs(name, args)
    shown = [repr(v)[:200] for v in values]
    given = [repr(v)[:200] for v in inputs] if len(inputs) == len(values) else []
    for start in range(0, max(len(shown), 1), 50):  # a message stays small, however long the map
        emit(Kind.TASK, values=shown[start:start + 50], inputs=given[start:start + 50], q=_question)


class _QueueTap:
    """A pool worker's task or result queue, seen through: `seen` is told of every item taken
    or sent, and whatever it does, the item goes on unchanged."""

    def __init__(self, queue: object, seen) -> None:  # type: ignore[no-untyped-def]
        self._queue = queue
        self._seen = seen

    def get(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        item = self._queue.get(*args, **kwargs)  # type: ignore[attr-defined]
        self._tell(item)
        return item

    def put(self, item, *args, **kwargs):  # type: ignore[no-untyped-def]
        self._tell(item)
        return self._queue.put(item, *args, **kwargs)  # type: ignore[attr-defined]

    def _tell(self, item: object) -> None:
        try:
            self._seen(item)
        except Exception:
            pass

    def __getattr__(self, name: str) -> object:
        return getattr(self._queue, name)


def _pool_task_taken(task: object) -> None:
    """multiprocessing.Pool's task: (job, index, function, arguments, keywords)."""
    if isinstance(task, tuple) and len(task) == 5:
        func, args = task[2], task[3]
        name = getattr(func, "__name__", "")
        _last_task[0] = (name, args[0] if name in _POOL_CHUNKS and args else args)


def _pool_result_sent(item: object) -> None:
    ok: bool
    value: typing.Any
    _job, _index, (ok, value) = item  # type: ignore[misc]
    if ok:
        name = (_last_task[0] or ("",))[0]
        _report_task(list(value) if name in _POOL_CHUNKS else [value])


def _executor_call_taken(item: object) -> None:
    """ProcessPoolExecutor's call item: executor.map wraps the function in partial(_process_chunk)."""
    fn = getattr(item, "fn", None)
    inner = getattr(fn, "func", fn)
    _last_task[0] = (getattr(inner, "__name__", ""), getattr(item, "args", ()))


def _executor_result_sent(item: object) -> None:
    if getattr(item, "exception", None) is None and hasattr(item, "result") and _last_task[0]:
        result = item.result  # type: ignore[attr-defined]
        _report_task(list(result) if _last_task[0][0] == "_process_chunk" else [result])


def _watch_executor_worker(process: object) -> None:
    """A ProcessPoolExecutor worker is a multiprocessing process whose target is the
    executor's worker loop: observe its queues like a pool worker's."""
    target = getattr(process, "_target", None)
    if getattr(target, "__name__", "") != "_process_worker" or \
            getattr(target, "__module__", "") != "concurrent.futures.process":
        return
    args = list(getattr(process, "_args", ()))
    if len(args) >= 2:
        emit(Kind.POOL_WORKER)
        args[0], args[1] = _QueueTap(args[0], _executor_call_taken), _QueueTap(args[1], _executor_result_sent)
        process._args = tuple(args)  # type: ignore[attr-defined]


def install() -> None:
    """Entry point from sitecustomize: once per interpreter."""
    global _installed, _is_child, _SOCKET_PATH, _OUTPUT_LIMIT, _question
    # read at install, not import: a pre-imported interpreter installs after its fork
    _SOCKET_PATH = os.environ.get("GRADER_PROBE_SOCKET", "")
    _OUTPUT_LIMIT = int(os.environ.get("GRADER_OUTPUT_LIMIT") or 0)
    _question = os.environ.get("GRADER_QUESTION") or None
    if _installed or not _SOCKET_PATH:
        return
    _installed = True
    _is_child = "GRADER_QUESTION" in os.environ or _started_by_multiprocessing()
    _hello()  # which process is the run's root, the grader knows: the first
    _seed_random()
    os.register_at_fork(after_in_child=_after_fork_in_child)
    _patch_multiprocessing()
    install_taps()
    import builtins

    builtins.input = answer_input
