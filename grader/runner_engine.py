"""Run a submission through `_grader_runner` in a fresh Python process.

Scripts always run this way; notebooks do too unless the kernel engine is asked for: the
runner executes cells with IPython itself, so a notebook costs one interpreter start instead
of a Jupyter kernel's. The runner reports each unit's start and outcome over the collector's
socket; this side starts it, keeps each unit's time limit from outside as well (a student who
disarms the runner's own watchdog gains nothing), bounds the total time, and marks the units
it never reached.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from grader.evidence import UnitOutcome
from grader.probe._grader_sandbox import SANDBOX_FAILED
from grader.sandbox import Limits, RunSandbox
from grader.units import Unit
from grader.zygote import zygote

STUCK = 75  # the runner's exit code after a unit that ignored its interrupt was reported
GRACE = 3.0  # past a unit's time limit: the runner's own watchdog acts within 2 s, then this side
STARTUP = 5.0  # for the first unit: the runner's own start (and a script's replayed definitions)


@dataclass(frozen=True)
class _End:
    """How one runner process ended, when it did not finish every unit."""

    kind: str  # "stuck": a unit overran and was reported; "overran": the wall limit; "exited"
    reason: str


def run(path: Path, mode: str, units: list[Unit], limits: Limits, env: dict[str, str],
        sandbox: RunSandbox, regions: dict | None = None) -> list[UnitOutcome]:
    """`mode`: "statements" (a script) or "cells" (a notebook). A notebook's process that
    dies is started again for the cells after the one that killed it, as a kernel would be
    restarted; a script that ends ends. A unit that would not stop is reported by the runner
    (or found overrunning by this side) and both go on in a fresh process (a script's
    definitions replayed first)."""
    deadline = time.monotonic() + limits.submission_timeout
    budgets: dict[str, float] = {}  # seconds left per question, across restarts
    outcomes: list[UnitOutcome] = []
    while len(outcomes) < len(units):
        replay = [u for u in units[: len(outcomes)] if u.definition] if mode == "statements" else []
        reported, end = _run_once(path, mode, units[len(outcomes):], limits, budgets, deadline, env, sandbox,
                                  replay, regions)
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
              deadline: float, env: dict[str, str], sandbox: RunSandbox, replay: list[Unit],
              regions: dict | None) -> tuple[list[UnitOutcome], _End]:
    """One runner process over `units`: the outcomes of the units it finished, in order up
    to the first it did not, and how it ended (which matters only if that is not all)."""
    runnable = [u for u in units if u.syntax_error is None]
    runner = {
        "mode": mode,
        "path": str(path),
        "timeout": limits.timeout,
        "budgets": budgets,
        "stuck_exit": STUCK,
        "regions": regions,
        "replay": [{"start": u.start, "end": u.end, "indented": u.indented} for u in replay],
        "units": [{"q": u.question, "start": u.start, "end": u.end, "indented": u.indented,
                   "source": u.source} for u in runnable],
    }
    instructions = sandbox.instructions(path.parent, runner)
    questions = {u.question for u in runnable}
    by_questions = limits.timeout * max(len(questions), 1) + 5
    wall = min(by_questions, deadline - time.monotonic())
    collector = sandbox.collector
    assert collector is not None
    collector.new_epoch()
    ended = threading.Event()
    forker = zygote()
    started = None
    if forker is not None:
        try:
            started = forker.start(instructions, env, path.parent)
        except OSError:
            started = None  # the zygote is gone: this run starts a fresh interpreter instead
    if started is not None:
        pid, wait = started.pid, started.wait
    else:
        with sandbox.stdin(instructions) as stdin:
            process = subprocess.Popen(
                sandbox.command([sys.executable, "-m", "_grader_runner"]),
                cwd=path.parent, env=env, stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        pid, wait = process.pid, process.wait

    def watch() -> None:
        wait()
        ended.set()
        collector.poke()

    threading.Thread(target=watch, daemon=True, name="grader-run-wait").start()
    finish = time.monotonic() + max(wall, 0.1)
    end = _End("exited", "the program exited before it")
    overran = None  # index of a unit that this side found overrunning
    out_of_time = False  # the whole run's limit was reached
    with collector.changed:
        while not ended.is_set():
            now = time.monotonic()
            limit = finish
            # the unit running: the one the runner said it started, or else the next one,
            # from the moment the last ended (a runner that stops saying so is timed anyway)
            if collector.started is not None and collector.started[0] not in collector.units:
                index, since = collector.started
            else:
                index, since = collector.next_unit, collector.settled_at + (STARTUP if collector.next_unit == 0 else 0)
            if index >= len(runnable):  # every unit reported: the runner has nothing left to do
                limit = min(limit, collector.settled_at + GRACE)
            else:
                question = runnable[index].question or ""
                left = budgets.get(question, limits.timeout) - sum(
                    seconds for n, (_s, _e, seconds) in collector.units.items()
                    if n < len(runnable) and (runnable[n].question or "") == question)
                limit = min(limit, since + max(left, 0) + GRACE)
            if now >= limit:
                overran = index if limit < finish and index < len(runnable) else None
                out_of_time = overran is None and index < len(runnable)
                break
            collector.changed.wait(limit - now)
    if not ended.is_set():
        sandbox.sweep(pid)
        _kill(pid)
        ended.wait()
    code = wait()
    sandbox.sweep(pid)
    collector.settle(5.0)  # the last records of the run, still queued, are read
    with collector.changed:
        units_reported = dict(collector.units)
    if overran is not None:
        units_reported[overran] = ("timeout", None, limits.timeout)
        end = _End("stuck", "stopped after its time limit")
    elif out_of_time:
        end = _End("overran", f"the submission's time limit of {limits.submission_timeout:g} s ran out"
                   if wall < by_questions else f"the run took longer than its questions' time limits ({by_questions:g} s)")
    elif code == STUCK:
        end = _End("stuck", "stopped after its time limit")
    elif code == SANDBOX_FAILED:
        failed = sandbox.status().get("failed", {}).get("filesystem", "unknown")
        end = _End("sandbox", f"the sandbox could not be built ({str(failed)[:200]}), so nothing was run")
    elif code != 0:
        end = _End("exited", f"the {'notebook' if mode == 'cells' else 'script'}'s process ended with code {code}")
    _account(runnable, units_reported, budgets, limits)
    return _reported(units, units_reported), end


def _account(runnable: list[Unit], reported: dict[int, tuple[str, str | None, float]],
             budgets: dict[str, float], limits: Limits) -> None:
    """Time spent per question, by this side's clock, for the next process if there is one:
    a timed-out question has none left."""
    for index, (status, _error, seconds) in sorted(reported.items()):
        if index < len(runnable):
            question = runnable[index].question or ""
            left = budgets.get(question, limits.timeout) - seconds
            budgets[question] = 0.0 if status == "timeout" else left


def _kill(pid: int) -> None:
    if pid <= 0:  # 0 or less would signal a whole process group: the grader's own
        return
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def _reported(units: list[Unit], reported: dict[int, tuple[str, str | None, float]]) -> list[UnitOutcome]:
    outcomes = []
    runnable = 0
    for unit in units:
        if unit.syntax_error:
            outcomes.append(UnitOutcome(unit.question, unit.label, "error", unit.syntax_error))
            continue
        event = reported.get(runnable)
        runnable += 1
        if event is None:
            break
        outcomes.append(UnitOutcome(unit.question, unit.label, event[0], event[1]))
    return outcomes
