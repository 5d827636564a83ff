"""Run a notebook's code cells in a Jupyter kernel, one question's time budget at a time.

nbclient drives the kernel; this module adds what grading needs on top: the kernel is always
the grader's own interpreter (a `python3` kernelspec elsewhere on the machine must not change a
result), the probe is loaded in it, each cell tells the probe its question first, a question
that overruns has its processes killed and the kernel interrupted (or restarted), and a
kernel that dies is restarted so grading goes on with the next cell. The time limit is kept
here, outside the kernel; the notebook's outputs are not kept at all (the evidence comes
from the probe), only a cell's error, bounded, so a flood of output costs reading it.
"""

from __future__ import annotations

import asyncio
import atexit
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import zmq
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from grader.probe._grader_proctree import kill_descendants
from grader.probe._grader_wire import UnitStatus
from grader.run.engine import Budget, End, Pass
from grader.run.sandbox import RunSandbox
from grader.run.units import Unit, UnitOutcome

_SETUP = ("import _grader_probe as _grader_probe; _grader_probe.install_taps(); "
          "_grader_probe.tap_display(get_ipython(), passthrough=True); "
          "get_ipython().kernel.raw_input = _grader_probe.answer_input")  # ipykernel sets input() per cell


_MESSAGE_BYTES = 16 << 20


class _Client(NotebookClient):
    """nbclient, keeping of a cell's outputs only its first error, cut short, and the
    status of the kernel's reply (which stays "error" when the student's code silenced the
    traceback the kernel would have shown)."""

    async def _check_raise_for_error(self, cell, cell_index, exec_reply):  # type: ignore[no-untyped-def]
        content = (exec_reply or {}).get("content", {})
        if content.get("status") == "error":
            cell.metadata["grader_error"] = f"{str(content.get('ename', ''))[:200]}: {str(content.get('evalue', ''))[:2000]}"
        return await super()._check_raise_for_error(cell, cell_index, exec_reply)

    def output(self, outs, msg, display_id, cell_index):  # type: ignore[no-untyped-def]
        if msg["msg_type"] == "error" and not outs:
            content = msg.get("content", {})
            outs.append(nbformat.v4.new_output("error", ename=str(content.get("ename", ""))[:200],
                                               evalue=str(content.get("evalue", ""))[:2000], traceback=[]))


class _Manager(AsyncKernelManager):
    """Its client's sockets are bounded: a message frame bigger than _MESSAGE_BYTES drops the
    connection, and few messages wait unread, so a kernel flooding its output past the
    probe costs the grader bounded memory."""

    def client(self, **kwargs):  # type: ignore[no-untyped-def]
        client = super().client(**kwargs)
        client.context.setsockopt(zmq.MAXMSGSIZE, _MESSAGE_BYTES)  # before its channels make sockets
        client.context.setsockopt(zmq.RCVHWM, 16)
        client.context.setsockopt(zmq.SNDTIMEO, 5000)  # a dropped connection: a send fails, never hangs
        return client


class _OwnInterpreter(KernelSpecManager):
    """Every kernel name resolves to ipykernel on the grader's interpreter, in the sandbox."""

    def __init__(self, argv: list[str]) -> None:
        super().__init__()
        self.argv = argv

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        return KernelSpec(argv=self.argv, display_name="grader", language="python", name="grader")


class KernelEngine:
    """One kernel per pass; a kernel that dies (or is killed, stuck in a cell) is replaced."""

    def __init__(self, path: Path, env: dict[str, str], sandbox: RunSandbox) -> None:
        self.path, self.env, self.sandbox = path, env, sandbox
        self.specs = _OwnInterpreter(sandbox.command([sys.executable, "-m", "ipykernel_launcher", "-f",
                                                      "{connection_file}"]))

    def one_pass(self, units: list[Unit], done: list[Unit], budget: Budget) -> Pass:
        return asyncio.run(self._pass(units, budget))

    async def _pass(self, units: list[Unit], budget: Budget) -> Pass:
        sandbox = self.sandbox
        assert sandbox.collector is not None  # the engine runs inside an entered sandbox
        sandbox.collector.new_start()
        start = sandbox.collector.start  # the kernel's files are named for it
        # Unix sockets instead of TCP: nothing listens on the network, and the kernel still
        # reaches the grader from inside a network namespace. The connection file is the
        # grader's, new for each start, where the run can read it but not change it.
        km = _Manager(kernel_name="grader", kernel_spec_manager=self.specs,
                      transport="ipc", ip=str(sandbox.kernel_dir / f"k{start}"),
                      connection_file=str(sandbox.connection_dir / f"kernel-{start}.json"))
        km.write_connection_file()
        sandbox.give(Path(km.connection_file))
        client = _Client(nbformat.v4.new_notebook(), km=km, allow_errors=True,
                         kernel_name="grader", startup_timeout=60, shutdown_kernel="immediate")
        sandbox.open_kernel_dir()
        outcomes: list[UnitOutcome] = []
        ended: Pass | None = None  # how the units went, whatever becomes of the kernel's cleanup
        with sandbox.stdin(sandbox.instructions(self.path.parent)) as stdin:
            try:
                async with client.async_setup_kernel(env=self.env, cwd=str(self.path.parent),
                                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                                     stdin=stdin, cleanup_kc=True):
                    sandbox.seal_kernel_dir()  # its sockets are bound: from now on nothing in it changes
                    try:
                        ended = await _run_units(client, km, units, budget, outcomes)
                    finally:  # before the kernel goes, or its orphans would escape the kill
                        sandbox.sweep(_kernel_pid(km))
            except (DeadKernelError, CellTimeoutError, RuntimeError, TimeoutError, zmq.ZMQError) as exc:
                if ended is None:
                    return Pass(outcomes, End.STOPPED, f"the kernel failed: {type(exc).__name__}: {str(exc)[:300]}")
            finally:  # nbclient's exit hook outlives a kernel whose cleanup failed, to fail again at exit
                atexit.unregister(client._cleanup_kernel)
        assert ended is not None
        return ended


async def _run_units(client: NotebookClient, km: AsyncKernelManager, units: list[Unit], budget: Budget,
                     outcomes: list[UnitOutcome]) -> Pass:
    """Run the units, one outcome each, until the end or until the kernel is gone."""
    await _silent(client, _SETUP)
    while len(outcomes) < len(units):
        unit = units[len(outcomes)]
        if budget.until_deadline() <= 0:
            return Pass(outcomes, End.STOPPED, budget.deadline_passed())
        left = min(budget.seconds_for(unit.question), budget.until_deadline())
        if left <= 0:
            outcomes.append(UnitOutcome(unit.question, unit.label, UnitStatus.SKIPPED))
            continue
        started = time.monotonic()
        outcome = await _run_cell(client, km, unit, left)
        budget.charge(unit.question, time.monotonic() - started,
                      timed_out=outcome is not None and outcome.status is UnitStatus.TIMEOUT)
        if outcome is None:  # the kernel died in it
            return Pass(outcomes, End.DIED)
        outcomes.append(outcome)
        if outcome.status is UnitStatus.TIMEOUT and not await km.is_alive():
            return Pass(outcomes, End.RESTART)
    return Pass(outcomes)


def _kernel_pid(km: AsyncKernelManager) -> int:
    """The kernel process's PID (a local provisioner's)."""
    pid = getattr(km.provisioner, "pid", None)
    assert isinstance(pid, int), "the kernel has no local process"
    return pid


async def _silent(client: NotebookClient, code: str) -> None:
    """Run grader code in the kernel, outside the notebook's history and outputs."""
    assert client.kc is not None  # set up by async_setup_kernel
    msg_id = client.kc.execute(code, silent=True, store_history=False)
    await client.async_wait_for_reply(msg_id, nbformat.v4.new_code_cell(code))


async def _run_cell(client: NotebookClient, km: AsyncKernelManager, unit: Unit, left: float) -> UnitOutcome | None:
    """The unit's outcome; None if the kernel died in it."""
    cell = nbformat.v4.new_code_cell(unit.source)
    client.nb.cells = [cell]
    client.timeout = max(1, int(left + 0.999))
    try:
        await _silent(client, f"_grader_probe.set_question({unit.question!r})")
        await client.async_execute_cell(cell, 0)
    except CellTimeoutError:
        await _stop_overrun(client, km)
        return UnitOutcome(unit.question, unit.label, UnitStatus.TIMEOUT)
    except DeadKernelError:
        return None
    errors = [o for o in cell.outputs if o.get("output_type") == "error"]
    if errors:
        return UnitOutcome(unit.question, unit.label, UnitStatus.ERROR, f"{errors[0].ename}: {errors[0].evalue}")
    if "grader_error" in cell.metadata:
        return UnitOutcome(unit.question, unit.label, UnitStatus.ERROR, cell.metadata["grader_error"])
    return UnitOutcome(unit.question, unit.label, UnitStatus.OK)


async def _stop_overrun(client: NotebookClient, km: AsyncKernelManager) -> None:
    """Kill what the cell started, then interrupt it; a kernel that stays busy is killed so
    the next pass starts a fresh one."""
    kill_descendants(_kernel_pid(km))
    await km.interrupt_kernel()
    client.timeout = 3
    try:
        await _silent(client, "pass")
    except (CellTimeoutError, DeadKernelError):
        kill_descendants(_kernel_pid(km))
        await km.shutdown_kernel(now=True)
