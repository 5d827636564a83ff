"""Run a notebook's code cells in a Jupyter kernel, one question's time budget at a time.

nbclient drives the kernel; this module adds what grading needs on top: the kernel is always
the grader's own interpreter (a `python3` kernelspec elsewhere on the machine must not change a
result), the probe is loaded in it, each cell tells the probe its question first, a question
that overruns has its processes killed and the kernel interrupted (or restarted), and a
kernel that dies is restarted so grading goes on with the next cell.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import nbformat
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from grader.evidence import UnitOutcome
from grader.execution import Unit
from grader.probe._grader_proctree import kill_descendants
from grader.sandbox import Limits, RunSandbox

_SETUP = ("import _grader_probe as _grader_probe; _grader_probe.install_taps(); "
          "_grader_probe.tap_display(get_ipython(), passthrough=True); "
          "get_ipython().kernel.raw_input = _grader_probe.answer_input")  # ipykernel sets input() per cell


class _OwnInterpreter(KernelSpecManager):
    """Every kernel name resolves to ipykernel on the grader's interpreter, in the sandbox."""

    def __init__(self, argv: list[str]) -> None:
        super().__init__()
        self.argv = argv

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        return KernelSpec(argv=self.argv, display_name="grader", language="python", name="grader")


def run(path: Path, units: list[Unit], limits: Limits, work_dir: Path, env: dict[str, str],
        sandbox: RunSandbox) -> list[UnitOutcome]:
    return asyncio.run(_run(path, units, limits, work_dir, env, sandbox))


async def _run(path: Path, units: list[Unit], limits: Limits, work_dir: Path, env: dict[str, str],
               sandbox: RunSandbox) -> list[UnitOutcome]:
    outcomes: list[UnitOutcome] = []
    budgets: dict[str | None, float] = {}  # seconds left per question, kept across restarts
    deadline = time.monotonic() + limits.submission_timeout
    specs = _OwnInterpreter(sandbox.command([sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]))
    while len(outcomes) < len(units):  # one pass per kernel; a kernel death starts the next pass
        # Unix sockets instead of TCP: nothing listens on the network, and the kernel still
        # reaches the grader from inside a network namespace
        km = AsyncKernelManager(kernel_name="grader", kernel_spec_manager=specs,
                                transport="ipc", ip=str(work_dir / "kernel"),
                                connection_file=str(work_dir / "kernel.json"))
        client = NotebookClient(nbformat.v4.new_notebook(), km=km, allow_errors=True,
                                kernel_name="grader", startup_timeout=60, shutdown_kernel="immediate")
        with open(work_dir / "kernel.log", "ab") as log:  # the kernel's own chatter, not evidence
            try:
                async with client.async_setup_kernel(env=env, cwd=str(path.parent), stdout=log, stderr=log,
                                                     stdin=subprocess.DEVNULL, cleanup_kc=True):
                    try:
                        await _run_units(client, km, units, limits, budgets, deadline, outcomes)
                    finally:  # before the kernel goes, or its orphans would escape the kill
                        sandbox.sweep(km.provisioner.pid)
            except (DeadKernelError, CellTimeoutError, RuntimeError, TimeoutError) as exc:
                reason = f"the kernel failed: {type(exc).__name__}: {exc}"
                outcomes.extend(UnitOutcome(u.question, u.label, "not run", reason)
                                for u in units[len(outcomes):])
    return outcomes


async def _run_units(client: NotebookClient, km: AsyncKernelManager, units: list[Unit], limits: Limits,
                     budgets: dict[str | None, float], deadline: float,
                     outcomes: list[UnitOutcome]) -> None:
    """Run the units not run yet, one outcome each, until the end or until the kernel is gone."""
    await _silent(client, _SETUP)
    while len(outcomes) < len(units):
        unit = units[len(outcomes)]
        left = min(budgets.setdefault(unit.question, limits.timeout), deadline - time.monotonic())
        if deadline - time.monotonic() <= 0:
            outcomes.append(UnitOutcome(unit.question, unit.label, "not run",
                                        f"the submission's time limit of {limits.submission_timeout:g} s ran out"))
            continue
        if left <= 0:
            outcomes.append(UnitOutcome(unit.question, unit.label, "skipped"))
            continue
        started = time.monotonic()
        outcome = await _run_cell(client, km, unit, left)
        budgets[unit.question] = budgets[unit.question] - (time.monotonic() - started)
        outcomes.append(outcome)
        if outcome.status in ("died", "timeout") and not await km.is_alive():
            break


async def _silent(client: NotebookClient, code: str) -> None:
    """Run grader code in the kernel, outside the notebook's history and outputs."""
    msg_id = client.kc.execute(code, silent=True, store_history=False)
    await client.async_wait_for_reply(msg_id, nbformat.v4.new_code_cell(code))


async def _run_cell(client: NotebookClient, km: AsyncKernelManager, unit: Unit, left: float) -> UnitOutcome:
    cell = nbformat.v4.new_code_cell(unit.source)
    client.nb.cells = [cell]
    client.timeout = max(1, int(left + 0.999))
    try:
        await _silent(client, f"_grader_probe.set_question({unit.question!r})")
        await client.async_execute_cell(cell, 0)
    except CellTimeoutError:
        await _stop_overrun(client, km)
        return UnitOutcome(unit.question, unit.label, "timeout")
    except DeadKernelError:
        return UnitOutcome(unit.question, unit.label, "died")
    errors = [o for o in cell.outputs if o.get("output_type") == "error"]
    if errors:
        return UnitOutcome(unit.question, unit.label, "error", f"{errors[0].ename}: {errors[0].evalue}")
    return UnitOutcome(unit.question, unit.label, "ok")


async def _stop_overrun(client: NotebookClient, km: AsyncKernelManager) -> None:
    """Kill what the cell started, then interrupt it; a kernel that stays busy is killed so
    the next pass starts a fresh one."""
    kill_descendants(km.provisioner.pid)
    await km.interrupt_kernel()
    client.timeout = 3
    try:
        await _silent(client, "pass")
    except (CellTimeoutError, DeadKernelError):
        kill_descendants(km.provisioner.pid)
        await km.shutdown_kernel(now=True)
