"""Limits and containment for one run of student code, on whatever this machine allows.

A run gets its own directory (a scratch copy of the submission, the evidence, a private temp
and home), its own cgroups where they can be created (processes alive at once, memory in
total), and a launcher (`probe/_grader_sandbox.py`) that applies the rest from inside:
namespaces, a read-only file system, resource limits, dropped capabilities. When the run
ends, `close()` kills every process it left, found through the cgroup and the process tree.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import threading
import time
from dataclasses import dataclass, fields
from itertools import count
from pathlib import Path

from grader.probe._grader_proctree import become_subreaper, kill_descendants, kill_marked

MIB = 1 << 20
GIB = 1 << 30


@dataclass(frozen=True)
class Limits:
    """Every limit of a run; a rubric's `limits:` and the command line override these."""

    timeout: float = 30.0  # wall seconds per question
    submission_timeout: float = 300.0  # wall seconds per submission
    memory: int = 1 * GIB  # per process (data segment: heap and private mappings)
    memory_total: int = 4 * GIB  # all processes of the run together (cgroup)
    processes: int = 64  # alive at once
    output: int = 1 * MIB  # kept per question and process; the rest is cut with a note
    cpu_time: int = 300  # CPU seconds per process
    file_size: int = 64 * MIB  # largest file a process may write


LIMIT_NAMES = {f.name for f in fields(Limits)}
SIZE_LIMITS = {"memory", "memory_total", "output", "file_size"}


def parse_size(text: str | int) -> int:
    """'1 GiB', '512M', '4g', 1048576 -> bytes."""
    if isinstance(text, int):
        return text
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*", str(text), re.IGNORECASE)
    if not match:
        raise ValueError(f"not a size: {text!r} (try 512M or 1GiB)")
    scale = {"": 1, "k": 1 << 10, "m": MIB, "g": GIB, "t": 1 << 40}[match.group(2).lower()]
    return int(float(match.group(1)) * scale)


def format_size(size: int) -> str:
    for unit, scale in (("GiB", GIB), ("MiB", MIB), ("KiB", 1 << 10)):
        if size >= scale and size % scale == 0:
            return f"{size // scale} {unit}"
    return f"{size} bytes"


def passed_environment() -> dict[str, str]:
    """The few variables of the grader's environment a run gets: no tokens, keys or
    passwords of the instructor's shell reach student code (its /proc/self/environ included)."""
    keep = ("PATH", "LANG", "LANGUAGE", "TZ", "TERM")
    return {k: v for k, v in os.environ.items() if k in keep or k.startswith("LC_")}


# --- cgroups --------------------------------------------------------------------------------

_ids = count()


@dataclass(frozen=True)
class _Controller:
    name: str  # "pids" or "memory"
    path: Path  # the run's cgroup directory
    limit_file: str
    events: str  # file whose numbers say the limit was hit


def _own_cgroup(controller: str) -> Path | None:
    """Where this process sits in the hierarchy of `controller` (v1), or the unified one (v2)."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, names, path = line.split(":", 2)
        if controller in names.split(","):
            return Path("/sys/fs/cgroup") / controller / path.lstrip("/")
    for line in lines:
        if line.startswith("0::") and Path("/sys/fs/cgroup/cgroup.controllers").exists():
            return Path("/sys/fs/cgroup") / line[3:].lstrip("/")
    return None


def _make_cgroup(controller: str, limit: int) -> _Controller:
    parent = _own_cgroup(controller)
    if parent is None or not parent.is_dir():
        raise OSError(f"no {controller} cgroup hierarchy is mounted")
    v2 = (parent / "cgroup.controllers").exists()
    if v2 and controller not in (parent / "cgroup.subtree_control").read_text().split():
        raise OSError(f"the {controller} controller is not enabled for cgroups below {parent}")
    path = parent / f"grader-{os.getpid()}-{next(_ids)}"
    path.mkdir()
    if controller == "pids":
        limit_file, events = "pids.max", "pids.events"
    elif v2:
        limit_file, events = "memory.max", "memory.events"
    else:
        limit_file, events = "memory.limit_in_bytes", "memory.oom_control"
    try:
        (path / limit_file).write_text(str(limit))
        if controller == "memory" and not v2 and (path / "memory.memsw.limit_in_bytes").exists():
            (path / "memory.memsw.limit_in_bytes").write_text(str(limit))  # no escape into swap
    except OSError:
        path.rmdir()
        raise
    return _Controller(controller, path, limit_file, events)


def _processes_in(path: Path) -> list[int]:
    try:
        return [int(pid) for pid in (path / "cgroup.procs").read_text().split()]
    except OSError:
        return []


def _hit(controller: _Controller) -> bool:
    try:
        text = (controller.path / controller.events).read_text()
    except OSError:
        return False
    numbers = dict(line.split() for line in text.splitlines() if len(line.split()) == 2)
    return int(numbers.get("max", 0)) > 0 or int(numbers.get("oom_kill", 0)) > 0


# --- a run ----------------------------------------------------------------------------------

_active: set["RunSandbox"] = set()
_active_lock = threading.Lock()
_aborted = threading.Event()


def abort_all() -> None:
    """Ctrl-C: kill every run in progress now, and start no new one."""
    _aborted.set()
    with _active_lock:
        running = list(_active)
    for run in running:
        run.sweep()


class Aborted(Exception):
    """The batch was interrupted before this run could start."""



class RunSandbox:
    """The protections of one run. Use as a context manager around the run."""

    def __init__(self, limits: Limits, work_dir: Path, hide: list[Path]) -> None:
        self.limits = limits
        self.work_dir = work_dir
        self.hide = hide
        # GRADER_ISOLATION=minimal: only resource limits and a subreaper, as on a machine that
        # allows nothing more (for debugging, and for testing that fallback)
        self.full = os.environ.get("GRADER_ISOLATION", "full") != "minimal"
        self.namespaces = self.full and sys.platform.startswith("linux")
        self.cgroups: list[_Controller] = []
        self.unavailable: dict[str, str] = {}
        self.status_file = work_dir / "sandbox-status.json"

    def __enter__(self) -> "RunSandbox":
        if _aborted.is_set():
            raise Aborted("the batch was interrupted")
        with _active_lock:
            _active.add(self)
        become_subreaper()  # the grader adopts what escapes a run, to find and kill it
        for controller, limit in (("pids", self.limits.processes), ("memory", self.limits.memory_total)):
            if not self.full:
                self.unavailable[f"{controller} cgroup"] = "switched off by GRADER_ISOLATION=minimal"
                continue
            try:
                self.cgroups.append(_make_cgroup(controller, limit))
            except OSError as exc:
                self.unavailable[f"{controller} cgroup"] = str(exc)
        for name in ("scratch", "tmp", "home"):
            (self.work_dir / name).mkdir(exist_ok=True)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def environment(self) -> dict[str, str]:
        """Where a run may write: its own temp and home, not the instructor's."""
        return {
            "TMPDIR": str(self.work_dir / "tmp"),
            "HOME": str(self.work_dir / "home"),
            "IPYTHONDIR": str(self.work_dir / "home" / ".ipython"),
            "MPLCONFIGDIR": str(self.work_dir / "home" / ".matplotlib"),
            "GRADER_OUTPUT_LIMIT": str(self.limits.output),
        }

    def command(self, argv: list[str]) -> list[str]:
        """`argv`, started through the launcher with this run's protections."""
        launcher = Path(__file__).parent / "probe" / "_grader_sandbox.py"
        return [sys.executable, "-S", str(launcher), str(self.spec_file()), "--", *argv]

    def spec_file(self) -> Path:
        """The launcher's instructions for this run (also read by a forked run directly)."""
        rlimits = {
            "data": self.limits.memory,
            "cpu": int(self.limits.cpu_time),
            "fsize": self.limits.file_size,
            "core": 0,
        }
        if os.geteuid() != 0:  # counts all this user's processes: allow for those alive now
            rlimits["nproc"] = _user_processes() + self.limits.processes
        spec = {
            "work_dir": str(self.work_dir),
            "cgroups": [str(c.path) for c in self.cgroups],
            "rlimits": rlimits,
            "namespaces": self.namespaces,
            "hide": [str(p) for p in self.hide],
            "status_file": str(self.status_file),
        }
        spec_file = self.work_dir / "sandbox.json"
        spec_file.write_text(json.dumps(spec))
        return spec_file

    def status(self) -> dict:
        """What the launcher really applied (empty if it never got that far)."""
        try:
            return json.loads(self.status_file.read_text())
        except (OSError, ValueError):
            return {}

    def limits_hit(self) -> list[str]:
        """Limits the cgroups saw reached, named for the feedback."""
        hits = []
        for controller in self.cgroups:
            if _hit(controller):
                if controller.name == "pids":
                    hits.append(f"process limit of {self.limits.processes} processes alive at once reached")
                else:
                    hits.append(f"memory limit of {format_size(self.limits.memory_total)} for all processes together exceeded")
        return hits

    def sweep(self, root: int | None = None) -> None:
        """Kill every process of the run: the root's descendants, the cgroup's members, and
        orphans that escaped the root and came back to the grader (a subreaper)."""
        if root is not None:
            kill_descendants(root)
        kill_marked(os.getpid(), f"GRADER_EVIDENCE_DIR={self.work_dir / 'evidence'}\0".encode(), str(self.work_dir))
        for _ in range(100):
            members = [pid for c in self.cgroups for pid in _processes_in(c.path)]
            if not members:
                break
            for pid in members:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.01)

    def close(self) -> None:
        with _active_lock:
            _active.discard(self)
        self.sweep()
        for controller in self.cgroups:
            for _ in range(50):
                try:
                    controller.path.rmdir()
                    break
                except OSError:
                    time.sleep(0.02)  # the last members are still being reaped
        self.cgroups = []


def _user_processes() -> int:
    uid = os.getuid()
    total = 0
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if entry.isdigit():
            try:
                total += os.stat(f"/proc/{entry}").st_uid == uid
            except OSError:
                pass
    return total
