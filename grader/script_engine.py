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
from grader.execution import Unit, probe_environment
from grader.probe._grader_proctree import kill_descendants
from grader.submission import Submission


def run(submission: Submission, units: list[Unit], timeout: float, work_dir: Path,
        evidence_dir: Path, regions_file: Path) -> list[UnitOutcome]:
    runnable = [u for u in units if u.syntax_error is None]
    config = {
        "path": str(submission.path.resolve()),
        "timeout": timeout,
        "units": [{"q": u.question, "start": u.start, "end": u.end, "indented": u.indented} for u in runnable],
    }
    config_file = work_dir / "runner.json"
    config_file.write_text(json.dumps(config))
    questions = {u.question for u in runnable}
    wall = timeout * max(len(questions), 1) + 10
    died = None
    with open(work_dir / "output.log", "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "_grader_runner", str(config_file)],
            cwd=submission.path.resolve().parent,
            env=probe_environment(evidence_dir, regions_file),
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            code = process.wait(timeout=wall)
            if code != 0:
                died = f"the script's process ended with code {code}"
        except subprocess.TimeoutExpired:
            died = f"the whole script ran past {wall:.0f} s"
        finally:
            kill_descendants(process.pid)
            process.kill()
            process.wait()
    return _outcomes(units, evidence_dir, died)


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
