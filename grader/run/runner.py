"""Run a submission through `_grader_runner` in a fresh Python process.

Scripts always run this way; notebooks do too unless the kernel engine is asked for: the
runner executes cells with IPython itself, so a notebook costs one interpreter start instead
of a Jupyter kernel's. The runner reports each unit's start and outcome over the collector's
socket; this side starts it, keeps each unit's time limit from outside as well (a student who
disarms the runner's own watchdog gains nothing) and bounds the whole process's time; `drive`
(`engine.py`) starts it again for the units left, and says what became of those never reached.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from grader.probe._grader_sandbox import SANDBOX_FAILED
from grader.probe._grader_wire import Mode, UnitStatus
from grader.run.collector import Collector
from grader.run.engine import Budget, End, Pass
from grader.run.limits import Limits
from grader.run.records import UnitReport
from grader.run.sandbox import RunSandbox
from grader.run.units import Unit, UnitOutcome
from grader.run.zygote import zygote

STUCK = 75  # the runner's exit code after a unit that ignored its interrupt was reported
GRACE = 3.0  # past a unit's time limit: the runner's own watchdog acts within 2 s, then this side
STARTUP = 5.0  # for the first unit: the runner's own start (and a script's replayed definitions)


class RunnerEngine:
    """`mode`: a script's statements or a notebook's cells. A notebook's process that dies
    is started again for the cells after the one that killed it, as a kernel would be
    restarted; a script that ends ends. A unit that would not stop is reported by the runner
    (or found overrunning by this side) and both go on in a fresh process (a script's
    definitions replayed first)."""

    def __init__(self, path: Path, mode: Mode, limits: Limits, env: dict[str, str], sandbox: RunSandbox,
                 regions: dict | None = None) -> None:
        self.path, self.mode, self.limits, self.env, self.sandbox, self.regions = path, mode, limits, env, sandbox, regions

    def one_pass(self, units: list[Unit], done: list[Unit], budget: Budget) -> Pass:
        replay = [u for u in done if u.definition] if self.mode is Mode.STATEMENTS else []
        return _run_once(self.path, self.mode, units, self.limits, budget, self.env, self.sandbox, replay,
                         self.regions)


def _run_once(path: Path, mode: Mode, units: list[Unit], limits: Limits, budget: Budget, env: dict[str, str],
              sandbox: RunSandbox, replay: list[Unit], regions: dict | None) -> Pass:
    """One runner process over `units`."""
    runnable = [u for u in units if u.syntax_error is None]
    runner = {
        "mode": mode,
        "path": str(path),
        "timeout": limits.timeout,
        "budgets": budget.per_question(),
        "stuck_exit": STUCK,
        "regions": regions,
        "replay": [{"start": u.start, "end": u.end, "indented": u.indented} for u in replay],
        "units": [{"q": u.question, "start": u.start, "end": u.end, "indented": u.indented,
                   "source": u.source} for u in runnable],
    }
    instructions = sandbox.instructions(path.parent, runner)
    questions = {u.question for u in runnable}
    by_questions = limits.timeout * max(len(questions), 1) + 5
    wall = min(by_questions, budget.until_deadline())
    collector = sandbox.collector
    assert collector is not None
    collector.new_start()
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
    # how it ended, if units are left: a notebook's process that ends takes its cell with it
    end, reason = (End.DIED if mode is Mode.CELLS else End.STOPPED), "the program exited before it"
    overran = None  # index of a unit that this side found overrunning
    out_of_time = False  # the whole run's limit was reached
    with collector.changed:
        while not ended.is_set():
            now = time.monotonic()
            index, limit = watch_limit(collector, runnable, budget, finish)
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
        units_reported[overran] = UnitReport(UnitStatus.TIMEOUT, None, limits.timeout)
        end, reason = End.RESTART, "stopped after its time limit"
    elif out_of_time:
        end, reason = End.STOPPED, (budget.deadline_passed() if wall < by_questions
                                    else f"the run took longer than its questions' time limits ({by_questions:g} s)")
    elif code == STUCK:
        end, reason = End.RESTART, "stopped after its time limit"
    elif code == SANDBOX_FAILED:
        failed = sandbox.status().get("failed", {}).get("filesystem", "unknown")
        end, reason = End.STOPPED, f"the sandbox could not be built ({str(failed)[:200]}), so nothing was run"
    elif code != 0:
        reason = f"the {'notebook' if mode is Mode.CELLS else 'script'}'s process ended with code {code}"
    for index, report in sorted(units_reported.items()):  # this side's clock, for the next process
        if index < len(runnable):
            budget.charge(runnable[index].question, report.seconds, timed_out=report.status is UnitStatus.TIMEOUT)
    outcomes = _reported(units, units_reported)
    return Pass(outcomes, End.DONE if len(outcomes) == len(units) else end, reason)


def watch_limit(collector: Collector, runnable: list[Unit], budget: Budget, finish: float) -> tuple[int, float]:
    """The unit this side holds to be running, and when it must have ended: the one the
    runner said it started, or else the next one, timed from the moment the last ended (a
    runner that stops saying so is timed anyway). Once every unit is reported the runner has
    nothing left to do: it gets a grace period, whatever else it claims. `finish`: the wall
    limit of the whole process. The caller holds `collector.changed`."""
    if collector.started is not None and collector.started[0] not in collector.units:
        index, since = collector.started
    else:
        index, since = collector.next_unit, collector.settled_at + (STARTUP if collector.next_unit == 0 else 0)
    if index >= len(runnable):
        return index, min(finish, collector.settled_at + GRACE)
    question = runnable[index].question or ""
    left = budget.seconds_for(question) - sum(report.seconds for n, report in collector.units.items()
                                       if n < len(runnable) and (runnable[n].question or "") == question)
    return index, min(finish, since + max(left, 0) + GRACE)


def _kill(pid: int) -> None:
    if pid <= 0:  # 0 or less would signal a whole process group: the grader's own
        return
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def _reported(units: list[Unit], reported: dict[int, UnitReport]) -> list[UnitOutcome]:
    outcomes = []
    runnable = 0
    for unit in units:
        if unit.syntax_error:
            outcomes.append(UnitOutcome(unit.question, unit.label, UnitStatus.ERROR, unit.syntax_error))
            continue
        event = reported.get(runnable)
        runnable += 1
        if event is None:
            break
        outcomes.append(UnitOutcome(unit.question, unit.label, event.status, event.error))
    return outcomes
