"""Containment for one submission's runs, on whatever this machine allows.

A submission gets a control directory of the grader's own (mode 700: the scratch copy it
hands over, the probe's socket, the kernel's connection files), its own cgroups where they
can be created (processes alive at once, memory in total), a user ID of its own when the
grader is root, and a launcher (`probe/_grader_sandbox.py`) that applies the rest from
inside: namespaces, a file system of the run's own, resource limits, dropped capabilities.
The launcher's instructions go on stdin, never through a file the run could change, and what
comes back comes over the collector's socket (`collector.py`). When the run ends, `close()`
kills every process it left, found through the cgroup and the process tree.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import site
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import IO

import grader
from grader.probe._grader_proctree import become_subreaper, kill_descendants, kill_marked, reap_adopted
from grader.run.collector import Collector
from grader.run.limits import MIB, Limit, Limits

PROBE_DIR = Path(__file__).parents[1] / "probe"  # the probe and the launcher: on every run's path, read-only


def passed_environment() -> dict[str, str]:
    """The few variables of the grader's environment a run gets: no tokens, keys or
    passwords of the instructor's shell reach student code (its /proc/self/environ included)."""
    keep = ("PATH", "LANG", "LANGUAGE", "TZ", "TERM")
    return {k: v for k, v in os.environ.items() if k in keep or k.startswith("LC_")}


def probe_environment(sandbox: RunSandbox) -> dict[str, str]:
    """The environment of a run's root process: the probe on the path, reporting to the
    collector, temp and home inside the run, and of the grader's own environment only what
    `passed_environment` lets through."""
    env = passed_environment()
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", os.defpath)])
    env.update(
        PYTHONPATH=str(PROBE_DIR),
        PYTHONUNBUFFERED="1",
        PYTHONDONTWRITEBYTECODE="1",
        **sandbox.environment(),
    )
    return env


# the system itself: all a run sees of the machine (read-only), with what `kept_paths` puts back
_SYSTEM = {Path(p) for p in ("/bin", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/sbin",
                             "/sys", "/usr")}


def covered_paths(private: tuple[Path, ...]) -> list[Path]:
    """What a run must not see: every top-level directory but the system's (homes, /root,
    /tmp, /var, /run with its sockets, /opt, /srv, /work, /autograder, ...), and each
    `private` path and the folder around it wherever they are (the submissions, other
    sections, the output, earlier results, the rubric), and the grader's own install: an
    allow-list, as bubblewrap's users write one, not a list of secrets to hide."""
    package = Path(grader.__file__).resolve().parent
    paths = [Path("/", entry) for entry in sorted(os.listdir("/"))] + [package, Path.home(), Path("/sys/fs/cgroup")]
    if (package.parent / "pyproject.toml").exists():
        paths.append(package.parent)  # a checkout: the examples, the model solution
    for path in private:
        path = path.resolve()
        paths += [path, path.parent]
    covered: list[Path] = []
    for path in paths:
        if path.is_symlink() or not path.is_dir():
            continue
        path = path.resolve()
        if path != Path("/") and path not in _SYSTEM and path not in covered:
            covered.append(path)
    return covered


def kept_paths() -> list[Path]:
    """What a run needs inside what is covered: the interpreter, its packages (wherever a path
    file put them), the probe."""
    paths = [Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable).parent, PROBE_DIR,
             *(Path(p) for p in site.getsitepackages()), Path(site.getusersitepackages()),
             *(Path(p) for p in sys.path if p.endswith(("site-packages", "dist-packages")))]
    kept: list[Path] = []
    for path in paths:
        for form in (path.absolute(), path.resolve()):
            if form.is_dir() and form not in kept:
                kept.append(form)
    return kept


# --- cgroups --------------------------------------------------------------------------------

_ids = count()


@dataclass(frozen=True)
class _Controller:
    name: str  # "pids" or "memory"
    path: Path  # the run's cgroup directory
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
    return _Controller(controller, path, events)


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

_active: set[RunSandbox] = set()
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



_uids_in_use: set[int] = set()
_RUN_UIDS = 1_800_000_000  # far above any real user; each grader process gets 100 of its own


def _take_uid() -> int:
    """A user ID that no other run of this grader uses now (as root only)."""
    base = _RUN_UIDS + (os.getpid() % 100_000) * 100
    with _active_lock:
        uid = next(u for u in range(base, base + 100) if u not in _uids_in_use)
        _uids_in_use.add(uid)
    return uid


_CONTROL_PREFIX = "grader-run-"
_RUN_FILES = 1024  # open files per process of a run; the grader keeps more for itself


def _raise_own_file_limit() -> None:
    """Every run holds a few of the grader's descriptors (its connections, its cgroups):
    a class graded in parallel needs more than the usual 1,024."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, 65536), hard))
        except (ValueError, OSError):
            pass
_prepared = False


def remove_tree(path: Path) -> None:
    """Remove a directory tree, which cannot make this fail: Python's rmtree first (no
    process to start), and where it cannot (a run left 100,000 nested directories, or
    directories it may not enter), rm, which walks any depth without recursion."""
    if not os.path.lexists(path):
        return
    try:
        shutil.rmtree(path)
        return
    except (OSError, RecursionError):
        pass
    if shutil.which("rm"):
        subprocess.run(["rm", "-rf", "--one-file-system", "--", str(path)],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)


def _prepare_grader() -> None:
    """Once per grader process, before its first run: more files of its own, a short switch
    interval (a new process of a run waits for the collector's answer to its hello: the
    thread that answers must get the interpreter within a fraction of a millisecond, not
    Python's 5 ms), and what a killed grader left behind removed."""
    global _prepared
    if _prepared:
        return
    _prepared = True
    _raise_own_file_limit()
    sys.setswitchinterval(min(sys.getswitchinterval(), 0.0001))
    _sweep_stale()


def _sweep_stale() -> None:
    """Control directories and cgroups left by a grader that was killed (SIGKILL, power):
    a re-run removes them, so nothing of a student stays behind."""
    for entry in Path(tempfile.gettempdir()).glob(f"{_CONTROL_PREFIX}*-*"):
        owner = entry.name[len(_CONTROL_PREFIX):].split("-", 1)[0]
        try:
            mine = entry.lstat().st_uid == os.geteuid()
        except OSError:
            continue
        if mine and owner.isdigit() and not os.path.exists(f"/proc/{owner}"):
            remove_tree(entry)
    for controller in ("pids", "memory"):
        parent = _own_cgroup(controller)
        for entry in parent.glob("grader-*-*") if parent is not None and parent.is_dir() else []:
            owner = entry.name.split("-")[1]
            if owner.isdigit() and not os.path.exists(f"/proc/{owner}"):
                try:
                    entry.rmdir()
                except OSError:
                    pass


class RunSandbox:
    """The protections of one submission's runs. Use as a context manager around them.

    `cover`: paths the run must not see (other submissions, the output, the grader, homes,
    temp directories); `keep`: paths inside those that the run needs, put back read-only
    (the interpreter, its packages, the probe)."""

    def __init__(self, limits: Limits, questions: frozenset[str], cover: list[Path], keep: list[Path]) -> None:
        self.limits = limits
        self.questions = questions
        self.cover = cover
        self.keep = keep
        # GRADER_ISOLATION=minimal: only resource limits and a subreaper, as on a machine that
        # allows nothing more (for debugging, and for testing that fallback)
        self.full = os.environ.get("GRADER_ISOLATION", "full") != "minimal"
        self.namespaces = self.full and sys.platform.startswith("linux")
        self.uid: int | None = None
        self.cgroups: list[_Controller] = []
        self.unavailable: dict[str, str] = {}
        self.control = Path()
        self.collector: Collector | None = None
        self.pid_namespace = False  # the launcher made one (the whole run dies with its init)

    def __enter__(self) -> RunSandbox:  # noqa: PYI034  # never subclassed
        if _aborted.is_set():
            raise Aborted("the batch was interrupted")
        _prepare_grader()
        self.control = Path(tempfile.mkdtemp(prefix=f"{_CONTROL_PREFIX}{os.getpid()}-"))
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
        if os.geteuid() == 0 and self.namespaces:
            self.uid = _take_uid()
        for name in ("scratch", "tmp", "home", "sock", "kernel", "conn", "stage"):
            (self.control / name).mkdir()
        for name in ("sock", "conn"):
            (self.control / name).chmod(0o755)  # the run's user may look up, not change
        self.collector = Collector(self.control / "sock", self.questions, self.limits.output,
                                   self.limits.output_total, self.limits.processes)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @property
    def scratch(self) -> Path:
        return self.control / "scratch"

    @property
    def kernel_dir(self) -> Path:
        """Where a kernel binds its sockets: the one place outside the workspace the run writes."""
        return self.control / "kernel"

    @property
    def connection_dir(self) -> Path:
        """Where the grader writes a kernel's connection files: the run reads, never writes."""
        return self.control / "conn"

    def open_kernel_dir(self) -> None:
        """Before a kernel starts: the directory where it binds its sockets is its user's."""
        if self.uid is not None:
            os.chown(self.kernel_dir, self.uid, self.uid)
            os.chmod(self.kernel_dir, 0o700)

    def seal_kernel_dir(self) -> None:
        """Once the kernel has bound its sockets: the run may no longer add, remove or replace
        anything in the one host directory it could write (no disk filled, no socket swapped
        for a symlink the grader would follow)."""
        if self.uid is not None:
            os.chown(self.kernel_dir, 0, 0)
            os.chmod(self.kernel_dir, 0o755)

    def give(self, path: Path) -> None:
        """A file the grader wrote for the run to read (a kernel's connection file)."""
        if self.uid is not None:
            os.chown(path, self.uid, self.uid)

    def environment(self) -> dict[str, str]:
        """Where a run may write: its own temp and home, not the instructor's."""
        home = self.control / "home"
        return {
            "TMPDIR": str(self.control / "tmp"),
            "HOME": str(home),
            "IPYTHONDIR": str(home / ".ipython"),
            "MPLCONFIGDIR": str(home / ".matplotlib"),
            "GRADER_PROBE_SOCKET": self.collector.path if self.collector else "",
            "GRADER_OUTPUT_LIMIT": str(self.limits.output),
        }

    def command(self, argv: list[str]) -> list[str]:
        """`argv`, started through the launcher with this run's protections (its
        instructions on stdin: `stdin()`)."""
        launcher = PROBE_DIR / "_grader_sandbox.py"
        return [sys.executable, "-S", str(launcher), "--", *argv]

    def instructions(self, cwd: Path, runner: dict | None = None) -> dict:
        """What the launcher applies (and, for a runner, what it runs)."""
        rlimits = {
            "data": self.limits.memory,
            "cpu": int(self.limits.cpu_time),
            "fsize": self.limits.file_size,
            "core": 0,
            "nofile": _RUN_FILES,
        }
        if self.uid is not None:  # the run's own user: its processes are all the user has
            rlimits["nproc"] = self.limits.processes + 2
        elif os.geteuid() != 0:  # counts all this user's processes: allow for those alive now
            rlimits["nproc"] = _user_processes() + self.limits.processes
        spec = {
            "cgroups": [str(c.path) for c in self.cgroups],
            "rlimits": rlimits,
            "namespaces": self.namespaces,
            "uid": self.uid,
            "control": str(self.control),
            "root": str(self.control.parent),
            "stage": str(self.control / "stage"),
            "cwd": str(cwd),
            "cover": [str(p) for p in self.cover],
            "keep": [str(p) for p in self.keep] + [str(self.control / "sock"), str(self.control / "conn")],
            "writable": [str(self.kernel_dir)],
            "disk": self.limits.disk,
            "files": self.limits.files,
            "shm_bytes": 64 * MIB,
            "socket": self.collector.path if self.collector else "",
        }
        return {"sandbox": spec, "runner": runner}

    def stdin(self, instructions: dict) -> IO[bytes]:
        """The instructions as a file with no name: nothing of the run can open or change it."""
        handle = tempfile.TemporaryFile()  # noqa: SIM115  # the caller's `with` closes it
        handle.write(json.dumps(instructions).encode())
        handle.seek(0)
        return handle

    def status(self) -> dict:
        """What the launcher really applied (empty if it never got that far)."""
        return dict(self.collector.status) if self.collector else {}

    def limits_hit(self) -> tuple[Limit, ...]:
        """Limits the cgroups saw reached."""
        return tuple(Limit.PROCESSES if controller.name == "pids" else Limit.MEMORY_TOTAL
                     for controller in self.cgroups if _hit(controller))

    def sweep(self, root: int | None = None) -> None:
        """Kill every process of the run: the root's descendants, the cgroup's members, and
        orphans that escaped the root and came back to the grader (a subreaper)."""
        self.pid_namespace = self.pid_namespace or "pid" in self.status().get("namespaces", [])
        if root is not None and not self.pid_namespace:  # else the root's end takes the namespace with it
            kill_descendants(root)
        if not self.pid_namespace:  # else the namespace's init takes every process with it
            marker = f"GRADER_PROBE_SOCKET={self.control / 'sock' / 'probe.sock'}\0".encode()
            kill_marked(os.getpid(), marker, str(self.control))
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

    def finish(self) -> Collector:
        """The run is over (the engines swept its processes): the collector reads the rest."""
        collector, self.collector = self.collector, None
        assert collector is not None
        collector.close()
        return collector

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
        if self.uid is not None:  # the run's own user: what of it the grader adopted, it reaps
            reap_adopted(self.uid)
        if self.collector is not None:
            self.collector.close()
        remove_tree(self.control)
        with _active_lock:
            _uids_in_use.discard(self.uid or -1)  # its processes are gone: free for the next run


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
