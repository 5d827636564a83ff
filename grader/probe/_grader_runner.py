"""Runs a student's script statement by statement, or a notebook cell by cell, under the probe.

Running a file whole would let one hanging or crashing question take the others down with it.
Instead the grader hands over units, each with its question: a script's top-level statements
(with the bodies of ``if __name__ == "__main__":`` blocks flattened), or a notebook's code cells
(run by IPython, as a kernel would, without a kernel's start-up cost). This runner executes
them in order in one ``__main__`` namespace, records each unit's outcome, and stops a unit
that overruns its question's time budget, killing the processes it started.

Usage: ``python -m _grader_runner`` with this directory on PYTHONPATH and the configuration
as JSON on stdin (the grader's, never a file the run could change); its outcomes go to the
grader over the probe's socket, where the kernel names the sender: only the run's root
process may report units, and the grader keeps the time limit itself as well.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
import traceback
import types

import _grader_probe
import _grader_proctree
from _grader_wire import Kind, Mode, UnitStatus


class UnitTimeout(BaseException):
    """Raised in the main thread when a unit overran; BaseException so `except Exception`
    in student code does not swallow it."""


class _Watchdog:
    """Stops a unit that overruns: kills the processes it started and interrupts it. If it
    still has not stopped after a grace period (a call that swallows the interrupt, a pool
    waiting for a task its killed worker lost), `on_stuck` reports the time-out and the
    runner ends, so that the grader can go on in a fresh process."""

    GRACE = 2.0

    def __init__(self, on_stuck, stuck_exit: int) -> None:  # type: ignore[no-untyped-def]
        self._deadline: float | None = None
        self.fired = False
        self._on_stuck = on_stuck
        self._stuck_exit = stuck_exit
        self._cond = threading.Condition()
        threading.Thread(target=self._watch, daemon=True, name="grader-watchdog").start()

    def arm(self, seconds: float | None) -> None:
        with self._cond:
            self.fired = False
            self._deadline = None if seconds is None else time.monotonic() + seconds
            self._cond.notify()

    def _watch(self) -> None:
        with self._cond:
            while True:
                if self._deadline is None:
                    self._cond.wait()
                    continue
                left = self._deadline - time.monotonic()
                if left > 0:
                    self._cond.wait(left)
                    continue
                _grader_proctree.kill_descendants(os.getpid())
                if self.fired:
                    self._on_stuck()
                    os._exit(self._stuck_exit)
                self.fired = True
                self._deadline = time.monotonic() + self.GRACE
                os.kill(os.getpid(), signal.SIGINT)


def _on_sigint(_signum: int, _frame: object) -> None:
    if _watchdog.fired:
        raise UnitTimeout()
    raise KeyboardInterrupt()


_watchdog: _Watchdog


def _compile_unit(lines: list[str], path: str, start: int, end: int, indented: bool):
    body = lines[start - 1 : end]
    if indented:  # a statement from inside `if __name__ == "__main__":`
        return compile("\n" * (start - 2) + "if True:\n" + "".join(body), path, "exec")
    return compile("\n" * (start - 1) + "".join(body), path, "exec")


class _Statements:
    """A script's statements, run in a `__main__` module of its own (so spawned children
    find the script, and `if __name__ == "__main__":` holds)."""

    def __init__(self, path: str) -> None:
        with open(path, encoding="utf-8") as handle:
            self.lines = handle.readlines()
        self.path = path
        self.module = types.ModuleType("__main__")
        self.module.__file__ = path
        self.module.__builtins__ = __builtins__  # type: ignore[attr-defined]
        sys.modules["__main__"] = self.module
        sys.argv = [path]
        sys.path[0] = os.path.dirname(path)

    def run(self, unit: dict) -> None:
        code = _compile_unit(self.lines, self.path, unit["start"], unit["end"], unit["indented"])
        exec(code, self.module.__dict__)


def make_shell():  # type: ignore[no-untyped-def]
    """The one IPython shell of this process (a zygote makes it before forking: it is the
    same, clean, in every run)."""
    from IPython.core import interactiveshell
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.enabled = False
    config.InteractiveShell.colors = "nocolor"
    # `!cmd` and `x = !cmd` as a kernel runs them: through pipes, printed as the cell's output;
    # IPython's own way takes a terminal (pexpect), and a run has none to give
    interactiveshell.system = _command  # type: ignore[assignment]  # IPython's module function, replaced
    interactiveshell.getoutput = lambda cmd: _command(cmd, capture=True)  # type: ignore[arg-type]
    return InteractiveShell.instance(config=config)


def _command(cmd: str, capture: bool = False):  # type: ignore[no-untyped-def]
    """Run a shell escape; its output goes to sys.stdout (or is returned), chunk by chunk.
    `!grader ...` does nothing: the notebook is being graded already."""
    import subprocess

    if cmd.split()[:1] == ["grader"]:
        return "" if capture else 0
    chunks = []
    with subprocess.Popen(cmd, shell=True, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT) as child:
        assert child.stdout is not None
        while chunk := os.read(child.stdout.fileno(), 8192):  # what has arrived, as read1 would
            text = chunk.decode("utf-8", "replace")
            if capture:
                chunks.append(text)
            else:
                sys.stdout.write(text)
        code = child.wait()
    return "".join(chunks) if capture else code


class _Cells:
    """A notebook's cells, run by IPython as a kernel would run them (magics included),
    its tracebacks and displays kept off stdout: errors become outcomes, displayed values
    are recorded as output, as in the kernel engine."""

    def __init__(self, path: str) -> None:
        self.shell = make_shell()
        self.shell.showtraceback = lambda *args, **kwargs: None
        self.shell.showsyntaxerror = lambda *args, **kwargs: None
        _grader_probe.tap_display(self.shell, passthrough=False)
        sys.argv = [path]
        sys.path.insert(0, os.path.dirname(path))

    def run(self, unit: dict) -> None:
        result = self.shell.run_cell(unit["source"], store_history=False)
        error = result.error_before_exec or result.error_in_exec
        if error is not None:
            raise error


def _outcome(runner: _Statements | _Cells, unit: dict, seconds: float) -> tuple[UnitStatus, str | None]:
    """Run one unit under the watchdog; (status, error)."""
    try:
        _watchdog.arm(seconds)
        try:
            runner.run(unit)
        finally:
            _watchdog.arm(None)
    except UnitTimeout:
        return UnitStatus.TIMEOUT, None
    except KeyboardInterrupt:
        return UnitStatus.ERROR, "KeyboardInterrupt"
    except SystemExit as exc:  # one unit's exit must not end the run
        return (UnitStatus.OK, None) if exc.code in (None, 0) else (UnitStatus.ERROR, f"SystemExit: {exc.code}")
    except BaseException as exc:
        if isinstance(runner, _Statements):
            traceback.print_exc()
        return UnitStatus.ERROR, "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return UnitStatus.OK, None


def main(config: dict) -> int:
    global _watchdog
    runner = _Cells(config["path"]) if config["mode"] == Mode.CELLS else _Statements(config["path"])
    if config.get("regions"):
        _grader_probe.load_regions(config["regions"])
    budgets: dict[str, float] = dict(config.get("budgets", {}))
    current = [0]  # the unit running

    report, outcome, set_question = _grader_probe.reporter(), _outcome, _grader_probe.set_question

    def tell(index: int, status: UnitStatus, error: str | None = None) -> None:
        report(Kind.UNIT, n=index, status=status, error=None if error is None else error[:4000])

    _watchdog = _Watchdog(lambda: tell(current[0], UnitStatus.TIMEOUT), config["stuck_exit"])
    signal.signal(signal.SIGINT, _on_sigint)
    for unit in config.get("replay", []):  # definitions from before a restart, unobserved
        try:
            runner.run(unit)
        except BaseException:
            pass
    for index, unit in enumerate(config["units"]):
        question = unit["q"]
        current[0] = index
        left = budgets.setdefault(question or "", config["timeout"])
        if left <= 0:
            tell(index, UnitStatus.SKIPPED)
            continue
        set_question(question)
        report(Kind.START, n=index)
        started = time.monotonic()
        status, error = outcome(runner, unit, left)
        if status is UnitStatus.TIMEOUT:
            _grader_proctree.kill_descendants(os.getpid())
        budgets[question or ""] = left - (time.monotonic() - started)
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        tell(index, status, error)
    # as a subreaper (without namespaces) this process adopted every orphan of the run:
    # they must go before it does, or they would be orphaned once more, out of reach
    _grader_proctree.kill_descendants(os.getpid())
    return 0


def read_config() -> dict:
    """The configuration on stdin (after the launcher's part); stdin is then empty, as a
    student's program expects."""
    with os.fdopen(os.dup(0), "rb") as handle:
        config = json.loads(handle.read())
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    return config["runner"]


if __name__ == "__main__":
    sys.exit(main(read_config()))
