"""`grader doctor`: which protections against student code are really active here, and why
the others are not.

It does not guess from the platform: it starts a sandboxed Python exactly as a grading run
would, has it try what a hostile submission would try, and reports what happened.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from grader.execution import PROBE_DIR
from grader.sandbox import Limits, RunSandbox, format_size

_TRIES = r"""
import json, os, socket, sys
found = {"pid": os.getpid()}
found["interfaces"] = [name for _, name in socket.if_nameindex()]
for name, path in (("outside", sys.argv[1]), ("scratch", sys.argv[2])):
    try:
        with open(path, "w") as handle:
            handle.write("x")
        found[name] = "written"
    except OSError as exc:
        found[name] = exc.strerror
found["hidden"] = not os.path.exists(sys.argv[3])
print(json.dumps(found))
"""


@dataclass(frozen=True)
class Protection:
    name: str
    active: bool
    how: str  # how it is done, or why it is not


def diagnose() -> list[Protection]:
    limits = Limits()
    with tempfile.TemporaryDirectory(prefix="grader-doctor-") as work, \
            tempfile.TemporaryDirectory(prefix="grader-doctor-hidden-") as hidden:
        work_dir = Path(work)
        outside = Path(hidden) / "outside.txt"
        secret = Path(hidden) / "secret.txt"
        secret.write_text("another student's work")
        with RunSandbox(limits, work_dir, hide=[Path(hidden)]) as sandbox:
            command = sandbox.command([sys.executable, "-c", _TRIES, str(outside),
                                       str(work_dir / "scratch" / "x"), str(secret)])
            env = {**os.environ, "PYTHONPATH": str(PROBE_DIR)}
            result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
            status = sandbox.status()
            cgroups = {c.name for c in sandbox.cgroups}
            unavailable = dict(sandbox.unavailable)
    try:
        tried = json.loads(result.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        tried = {}
    failed = status.get("failed", {})
    namespaces = status.get("namespaces", [])
    rlimits = status.get("rlimits", [])
    root = os.geteuid() == 0

    def why(key: str, default: str) -> str:
        return failed.get(key) or unavailable.get(key) or default

    return [
        Protection("processes alive at once", "pids" in cgroups or "nproc" in rlimits,
                   f"pids cgroup, {limits.processes} at most" if "pids" in cgroups
                   else ("RLIMIT_NPROC for this user" if "nproc" in rlimits
                         else why("pids cgroup", "no pids cgroup, and RLIMIT_NPROC does not bind root"))),
        Protection("memory of all processes together", "memory" in cgroups,
                   f"memory cgroup, {format_size(limits.memory_total)}" if "memory" in cgroups
                   else why("memory cgroup", "no memory cgroup")),
        Protection("memory, CPU time and file size per process", {"data", "cpu", "fsize"} <= set(rlimits),
                   "RLIMIT_DATA, RLIMIT_CPU, RLIMIT_FSIZE" if rlimits else "resource limits could not be set"),
        Protection("no network", "network" in namespaces and tried.get("interfaces") == ["lo"],
                   "new network namespace with loopback only" if "network" in namespaces
                   else why("namespaces", "no network namespace")),
        Protection("read-only file system outside the run's directory",
                   bool(status.get("read_only")) and tried.get("outside") not in (None, "written"),
                   "mount namespace, everything remounted read-only" if status.get("read_only")
                   else why("filesystem", why("namespaces", "no mount namespace"))),
        Protection("other students' files and the output hidden", bool(tried.get("hidden")),
                   "covered by empty read-only mounts" if tried.get("hidden") else "no mount namespace"),
        Protection("processes of the run isolated and killed with it", "pid" in namespaces,
                   "PID namespace whose init ends with the run" if "pid" in namespaces
                   else ("child subreaper and a sweep of the process tree" if status.get("subreaper")
                         else why("subreaper", "only a sweep of the process tree"))),
        Protection("privileges dropped", bool(status.get("capabilities_dropped")),
                   "all capabilities dropped, no_new_privs" if status.get("capabilities_dropped")
                   else ("not needed: not root" if not root else why("capabilities", "capset failed"))),
        Protection("the run's own directory writable", tried.get("scratch") == "written",
                   "scratch copy of the submission" if tried.get("scratch") == "written"
                   else f"cannot write its scratch directory: {tried.get('scratch')}"),
    ]


def report() -> str:
    lines = [f"grader doctor: {sys.platform}, Python {sys.version.split()[0]}, "
             f"{'root' if os.geteuid() == 0 else 'user ' + str(os.geteuid())}"]
    for protection in diagnose():
        lines.append(f"  [{'on ' if protection.active else 'off'}] {protection.name}: {protection.how}")
    return "\n".join(lines)
