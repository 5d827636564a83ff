"""Run a student's `.py` file in a fresh Python process through `_grader_runner`.

The runner executes the units one by one and reports each outcome over the evidence channel;
this side only starts it, bounds its total time, and turns what it reported into outcomes
(units it never reached, because the process died or overran, are marked as such).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from grader.evidence import UnitOutcome
from grader.execution import Unit
from grader.sandbox import Limits, RunSandbox


def run(path: Path, units: list[Unit], limits: Limits, work_dir: Path, env: dict[str, str],
        sandbox: RunSandbox) -> list[UnitOutcome]:
    runnable = [u for u in units if u.syntax_error is None]
    config = {
        "path": str(path),
        "timeout": limits.timeout,
        "units": [{"q": u.question, "start": u.start, "end": u.end, "indented": u.indented} for u in runnable],
    }
    config_file = work_dir / "runner.json"
    config_file.write_text(json.dumps(config))
    questions = {u.question for u in runnable}
    wall = min(limits.timeout * max(len(questions), 1) + 5, limits.submission_timeout)
    ended = None
    process = subprocess.Popen(
        sandbox.command([sys.executable, "-m", "_grader_runner", str(config_file)]),
        cwd=path.parent, env=env,
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        code = process.wait(timeout=wall)
        if code != 0:
            ended = f"the script's process ended with code {code}"
    except subprocess.TimeoutExpired:
        ended = f"the submission's time limit of {wall:.0f} s ran out"
    finally:
        sandbox.sweep(process.pid)
        process.kill()
        process.wait()
    return _outcomes(units, work_dir / "evidence", ended)


def _outcomes(units: list[Unit], evidence_dir: Path, died: str | None) -> list[UnitOutcome]:
    reported: dict[int, dict] = {}
    for path in evidence_dir.glob("*.jsonl"):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if '"k": "unit"' in line:
                try:
                    event = json.loads(line)
                except json.JSONDecodeError:
                    continue
                reported[event.get("line")] = event
    outcomes = []
    for unit in units:
        if unit.syntax_error:
            outcomes.append(UnitOutcome(unit.question, unit.label, "error", unit.syntax_error))
        elif unit.start in reported:
            event = reported[unit.start]
            outcomes.append(UnitOutcome(unit.question, unit.label, event.get("status", "error"), event.get("error")))
        else:
            outcomes.append(UnitOutcome(unit.question, unit.label, "not run", died or "the run ended before it"))
    return outcomes
