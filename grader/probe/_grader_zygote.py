"""A pre-imported interpreter that forks one child per run: the runner without its start-up.

Starting Python and importing IPython costs more than most students' code takes to run. This
process pays it once: it imports the runner, the probe, the sandbox and IPython, then waits
for requests on stdin. For each it forks; the child enters the sandbox, installs the probe and
runs the units exactly as `python -m _grader_runner` would. It reports the child's PID, then
its exit code, on stdout. It is single-threaded, so forking it is safe; it quits when the
grader closes its stdin.

Protocol. In: a header line {"id", "bytes"}, then that many bytes of JSON {"sandbox",
"runner", "env", "cwd"} (the launcher's and the runner's instructions, as
`_grader_sandbox.main` would read them on stdin). The zygote reads only the header: it forks
first, and the child reads its own request, so no child ever finds another student's
request (their code) in the memory it inherited.
Out: {"id", "pid"} when started, {"id", "exit"} when reaped.
"""

from __future__ import annotations

import json

# loaded now so that every child starts with them: multiprocessing, and IPython's shell
import multiprocessing.pool
import multiprocessing.popen_fork  # noqa: F401
import os
import select
import signal
import sys
import tempfile

import _grader_probe
import _grader_runner
import _grader_sandbox

_grader_runner.make_shell()


def _read_exactly(fd: int, size: int) -> bytes:
    parts, left = [], size
    while left:
        part = os.read(fd, min(left, 1 << 20))
        if not part:
            raise EOFError("the request was cut short")
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def _child(size: int, done: int) -> None:
    """In the forked child: read its request, tell the zygote so, become the run's root
    process, run it, never return."""
    code = 1
    try:
        request = json.loads(_read_exactly(0, size))
        os.write(done, b"x")
        os.close(done)
        # the zygote's wake-up pipe: left set, the fd number would be reused by the run and
        # every signal would write a byte into whatever file got it
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.setsid()
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.closerange(3, 256)
        os.environ.clear()
        os.environ.update(request["env"])
        tempfile.tempdir = None  # computed again from the run's TMPDIR, not the zygote's
        os.chdir(request["cwd"])
        _grader_sandbox.enter(request["sandbox"])
        _grader_probe.install()
        code = _grader_runner.main(request["runner"])
    except BaseException:  # nothing of the zygote's loop may run in a child
        code = 1
    finally:
        os._exit(code)


def _reap(running: dict[int, int]) -> None:
    while running:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        request_id = running.pop(pid, None)
        if request_id is not None:
            _say({"id": request_id, "exit": os.waitstatus_to_exitcode(status)})


def _say(message: dict) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def main() -> int:
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # only to wake the select below
    running: dict[int, int] = {}  # child PID -> request id
    requests = sys.stdin.buffer
    _say({"ready": os.getpid()})
    while True:
        readable, _, _ = select.select([requests, wake_read], [], [])
        if wake_read in readable:
            os.read(wake_read, 512)
            _reap(running)
        if requests in readable:
            header = _header(requests.fileno())
            if header is None:
                return 0  # the grader is gone
            done_read, done_write = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(done_read)
                _child(header["bytes"], done_write)
            os.close(done_write)
            os.read(done_read, 1)  # the child has read its request (or died): stdin is the zygote's again
            os.close(done_read)
            running[pid] = header["id"]
            _say({"id": header["id"], "pid": pid})
            _reap(running)


def _header(fd: int) -> dict | None:
    """One header line, read a byte at a time: nothing of the request after it is read here."""
    line = b""
    while not line.endswith(b"\n"):
        byte = os.read(fd, 1)
        if not byte or len(line) > 200:
            return None
        line += byte
    return json.loads(line)

if __name__ == "__main__":
    sys.exit(main())
