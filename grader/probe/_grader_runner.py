"""Runs a student's script statement by statement, as ``__main__``, under the probe.

Running the file whole would let one hanging or crashing question take the others down with
it. Instead the grader hands over the script's top-level statements (with the bodies of
``if __name__ == "__main__":`` blocks flattened) as units, each with its question; this runner
executes them in order in one ``__main__`` namespace, records each unit's outcome, and stops a
unit that overruns its question's time budget, killing the processes it started.

Usage: ``python -m _grader_runner CONFIG.json`` with this directory on PYTHONPATH.
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


class UnitTimeout(BaseException):
    """Raised in the main thread when a unit overran; BaseException so `except Exception`
    in student code does not swallow it."""


class _Watchdog:
    def __init__(self) -> None:
        self._deadline: float | None = None
        self.fired = False
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
                self._deadline = None
                self.fired = True
                _grader_proctree.kill_descendants(os.getpid())
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


def main(config_path: str) -> int:
    global _watchdog
    with open(config_path, encoding="utf-8") as handle:
        config = json.load(handle)
    path = config["path"]
    with open(path, encoding="utf-8") as handle:
        lines = handle.readlines()

    module = types.ModuleType("__main__")
    module.__file__ = path
    module.__builtins__ = __builtins__  # type: ignore[attr-defined]
    sys.modules["__main__"] = module
    sys.argv = [path]
    sys.path[0] = os.path.dirname(path)

    _watchdog = _Watchdog()
    signal.signal(signal.SIGINT, _on_sigint)
    budgets: dict[str, float] = {}
    for unit in config["units"]:
        question = unit["q"]
        left = budgets.setdefault(question or "", config["timeout"])
        if left <= 0:
            _grader_probe.emit("unit", line=unit["start"], q=question, status="skipped")
            continue
        _grader_probe.set_question(question)
        started = time.monotonic()
        status, error = "ok", None
        try:
            code = _compile_unit(lines, path, unit["start"], unit["end"], unit["indented"])
            _watchdog.arm(left)
            try:
                exec(code, module.__dict__)
            finally:
                _watchdog.arm(None)
        except UnitTimeout:
            status = "timeout"
        except KeyboardInterrupt:
            status, error = "error", "KeyboardInterrupt"
        except SystemExit as exc:
            if exc.code not in (None, 0):
                status, error = "error", f"SystemExit: {exc.code}"
        except BaseException as exc:  # SystemExit too: one unit's exit must not end the run
            status = "error"
            error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            traceback.print_exc()
        if status == "timeout":
            _grader_proctree.kill_descendants(os.getpid())
        budgets[question or ""] = left - (time.monotonic() - started)
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        _grader_probe.emit("unit", line=unit["start"], q=question, status=status, error=error)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
