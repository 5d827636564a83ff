"""Run a submission through `_grader_runner` in a fresh Python process.

Scripts always run this way; notebooks do too unless the kernel engine is asked for: the
runner executes cells with IPython itself, so a notebook costs one interpreter start instead
of a Jupyter kernel's. The runner reports each unit's outcome over the evidence channel; this
side starts it, bounds its total time, and marks the units it never reached.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from itertools import count
from dataclasses import dataclass
from pathlib import Path

from grader.evidence import UnitOutcome
from grader.execution import Unit
from grader.sandbox import Limits, RunSandbox
from grader.zygote import zygote


STUCK = 75  # the runner's exit code after a unit that ignored its interrupt was reported


@dataclass(frozen=True)
class _End:
    """How one runner process ended, when it did not finish every unit."""

    kind: str  # "stuck": a unit overran and was reported; "overran": the wall limit; "exited"
    reason: str


def run(path: Path, mode: str, units: list[Unit], limits: Limits, work_dir: Path,
        env: dict[str, str], sandbox: RunSandbox) -> list[UnitOutcome]:
    """`mode`: "statements" (a script) or "cells" (a notebook). A notebook's process that
    dies is started again for the cells after the one that killed it, as a kernel would be
    restarted; a script that ends ends. A unit that would not stop is reported by the runner
    and both go on in a fresh process (a script's definitions replayed first)."""
    deadline = time.monotonic() + limits.submission_timeout
    budgets: dict[str, float] = {}  # seconds left per question, across restarts
    outcomes: list[UnitOutcome] = []
    attempts = count()
    while len(outcomes) < len(units):
        replay = [u for u in units[: len(outcomes)] if u.definition] if mode == "statements" else []
        reported, end = _run_once(path, mode, units[len(outcomes):], limits, budgets, deadline,
                                  work_dir / f"run{next(attempts)}", env, sandbox, replay)
        outcomes.extend(reported)
        rest = units[len(outcomes):]
        if not rest or end.kind == "stuck":
            continue
        if mode == "cells" and end.kind == "exited":  # the cell that ended its process
            outcomes.append(UnitOutcome(rest[0].question, rest[0].label, "died", end.reason))
        else:
            outcomes.extend(UnitOutcome(u.question, u.label, "not run", end.reason) for u in rest)
    return outcomes


def _run_once(path: Path, mode: str, units: list[Unit], limits: Limits, budgets: dict[str, float],
              deadline: float, run_dir: Path, env: dict[str, str], sandbox: RunSandbox,
              replay: list[Unit]) -> tuple[list[UnitOutcome], _End]:
    """One runner process over `units`: the outcomes of the units it finished, in order up
    to the first it did not, and how it ended (which matters only if that is not all)."""
    run_dir.mkdir()
    runnable = [u for u in units if u.syntax_error is None]
    report = run_dir / "units.jsonl"
    config = {
        "mode": mode,
        "path": str(path),
        "timeout": limits.timeout,
        "budgets": budgets,
        "report": str(report),
        "stuck_exit": STUCK,
        "replay": [{"start": u.start, "end": u.end, "indented": u.indented} for u in replay],
        "units": [{"q": u.question, "start": u.start, "end": u.end, "indented": u.indented,
                   "source": u.source} for u in runnable],
    }
    config_file = run_dir / "runner.json"
    config_file.write_text(json.dumps(config))
    questions = {u.question for u in runnable}
    by_questions = limits.timeout * max(len(questions), 1) + 5
    wall = min(by_questions, deadline - time.monotonic())
    end = _End("exited", "the program exited before it")
    forker = zygote()
    run = None
    if forker is not None:
        try:
            run = forker.start(sandbox.spec_file(), config_file, env, path.parent)
        except OSError:
            run = None  # the zygote is gone: this run starts a fresh interpreter instead
    if run is not None:
        pid, wait, kill = run.pid, run.wait, lambda: _kill(run.pid)
    else:
        process = subprocess.Popen(
            sandbox.command([sys.executable, "-m", "_grader_runner", str(config_file)]),
            cwd=path.parent, env=env,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        pid, wait, kill = process.pid, process.wait, process.kill
    # a timer, not wait(timeout=...): that polls, adding up to 50 ms to every run
    overran = threading.Event()
    timer = threading.Timer(max(wall, 0.1), lambda: (overran.set(), sandbox.sweep(pid), kill()))
    timer.start()
    try:
        code = wait()
        if overran.is_set():
            end = _End("overran", f"the submission's time limit of {limits.submission_timeout:g} s ran out"
                       if wall < by_questions else f"the run took longer than its questions' time limits ({by_questions:g} s)")
        elif code == STUCK:
            end = _End("stuck", "stopped after its time limit")
        elif code != 0:
            end = _End("exited", f"the {'notebook' if mode == 'cells' else 'script'}'s process ended with code {code}")
    finally:
        timer.cancel()
        sandbox.sweep(pid)
        kill()
        wait()
    return _reported(units, report, budgets), end


def _kill(pid: int) -> None:
    if pid <= 0:  # 0 or less would signal a whole process group: the grader's own
        return
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def _reported(units: list[Unit], report: Path, budgets: dict[str, float]) -> list[UnitOutcome]:
    events: dict[int, dict] = {}
    try:
        lines = report.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        lines = []
    for line in lines:
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue  # torn by a kill
        events[event["n"]] = event
        budgets[event.get("q") or ""] = event.get("left", 0.0)
    outcomes = []
    runnable = 0
    for unit in units:
        if unit.syntax_error:
            outcomes.append(UnitOutcome(unit.question, unit.label, "error", unit.syntax_error))
            continue
        event = events.get(runnable)
        runnable += 1
        if event is None:
            break
        outcomes.append(UnitOutcome(unit.question, unit.label, event["status"], event.get("error")))
    return outcomes
