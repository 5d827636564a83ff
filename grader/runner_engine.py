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
from pathlib import Path

from grader.evidence import UnitOutcome
from grader.execution import Unit
from grader.sandbox import Limits, RunSandbox
from grader.zygote import zygote


STUCK = 75  # the runner's exit code after a unit that ignored its interrupt was reported
_STUCK = "stopped after its time limit"


def run(path: Path, mode: str, units: list[Unit], limits: Limits, work_dir: Path,
        env: dict[str, str], sandbox: RunSandbox) -> list[UnitOutcome]:
    """`mode`: "statements" (a script) or "cells" (a notebook). A notebook's process that
    dies is started again for the cells after the one that killed it, as a kernel would be
    restarted; a script that ends ends."""
    deadline = time.monotonic() + limits.submission_timeout
    budgets: dict[str, float] = {}  # seconds left per question, across restarts
    outcomes: list[UnitOutcome] = []
    for attempt in count():
        todo = units[len(outcomes):]
        # a script started again first defines again what it had defined (no output, no score)
        replay = [u for u in units[: len(outcomes)] if u.definition] if mode == "statements" else []
        reported, ended = _run_once(path, mode, todo, limits, budgets, deadline,
                                    work_dir / f"run{attempt}", env, sandbox, replay)
        outcomes.extend(reported)
        if len(outcomes) == len(units):
            return outcomes
        if ended == _STUCK:
            continue  # the unit that would not stop was reported: go on in a fresh process
        reason = ended or "the program exited before it"
        if mode != "cells" or "time limit" in reason:
            return outcomes + [UnitOutcome(u.question, u.label, "not run", reason) for u in units[len(outcomes):]]
        unit = units[len(outcomes)]  # the cell that ended its process
        outcomes.append(UnitOutcome(unit.question, unit.label, "died", reason))
        if len(outcomes) == len(units):
            return outcomes
    raise AssertionError("unreachable")


def _run_once(path: Path, mode: str, units: list[Unit], limits: Limits, budgets: dict[str, float],
              deadline: float, run_dir: Path, env: dict[str, str], sandbox: RunSandbox,
              replay: list[Unit]) -> tuple[list[UnitOutcome], str | None]:
    """One runner process over `units`: the outcomes of the units it finished, in order up
    to the first it did not, and why it ended early (None if it did not)."""
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
    ended = None
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
            ended = (f"the submission's time limit of {limits.submission_timeout:g} s ran out" if wall < by_questions
                     else f"the run took longer than its questions' time limits ({by_questions:g} s)")
        elif code == STUCK:
            ended = _STUCK
        elif code != 0:
            ended = f"the {'notebook' if mode == 'cells' else 'script'}'s process ended with code {code}"
    finally:
        timer.cancel()
        sandbox.sweep(pid)
        kill()
        wait()
    return _reported(units, report, budgets), ended


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
