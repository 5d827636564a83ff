"""`grader doctor`: which protections against student code are really active here, and why
the others are not.

It does not guess from the platform: it starts a sandboxed Python exactly as a grading run
would, has it try what a hostile submission would try, and reports what happened.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from grader.run.limits import Limits, format_size
from grader.run.sandbox import RunSandbox, covered_paths, kept_paths, probe_environment

_TRIES = r"""
import json, os, socket, sys
found = {"pid": os.getpid(), "uid": os.getuid(), "host": socket.gethostname()}
found["interfaces"] = [name for _, name in socket.if_nameindex()]
for name, path in (("outside", sys.argv[1]), ("scratch", sys.argv[2]), ("proc_sys", "/proc/sys/kernel/hostname")):
    try:
        with open(path, "a") as handle:
            handle.write("")
        found[name] = "written"
    except OSError as exc:
        found[name] = exc.strerror
found["hidden"] = not os.path.exists(sys.argv[3])
try:
    open("/etc/shadow").close()
    found["shadow"] = "read"
except OSError as exc:
    found["shadow"] = exc.strerror
try:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(sys.argv[4])
    found["host_socket"] = "connected"
except OSError as exc:
    found["host_socket"] = exc.strerror
vfs = os.statvfs(".")
found["disk"] = vfs.f_blocks * vfs.f_frsize
print(json.dumps(found))
"""


@dataclass(frozen=True)
class Protection:
    name: str
    active: bool
    how: str  # how it is done, or why it is not


def diagnose() -> list[Protection]:
    limits = Limits()
    with tempfile.TemporaryDirectory(prefix="grader-doctor-hidden-") as hidden:
        outside = Path(hidden) / "outside.txt"
        secret = Path(hidden) / "secret.txt"
        secret.write_text("another student's work")
        host_socket = socket.socket(socket.AF_UNIX)
        host_socket.bind(str(Path(hidden) / "host.sock"))
        host_socket.listen(1)
        os.chmod(Path(hidden) / "host.sock", 0o777)
        with host_socket, RunSandbox(limits, frozenset(), cover=covered_paths((Path(hidden),)),
                                     keep=kept_paths()) as sandbox:
            command = sandbox.command([sys.executable, "-c", _TRIES, str(outside), str(sandbox.scratch / "x"),
                                       str(secret), str(Path(hidden) / "host.sock")])
            env = {**probe_environment(sandbox)}
            with sandbox.stdin(sandbox.instructions(sandbox.scratch)) as stdin:
                result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60,
                                        stdin=stdin, cwd=sandbox.scratch, check=False)
            status = sandbox.finish().status
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

    no_fs = why("filesystem", why("namespaces", "no mount namespace"))
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
        Protection("no System V IPC or host name shared with other runs", {"ipc", "uts"} <= set(namespaces),
                   "new IPC and UTS namespaces" if {"ipc", "uts"} <= set(namespaces)
                   else why("namespaces", "no IPC or UTS namespace")),
        Protection("read-only file system outside the run's directory",
                   bool(status.get("read_only")) and tried.get("outside") not in (None, "written"),
                   "mount namespace, everything remounted read-only" if status.get("read_only") else no_fs),
        Protection("/proc/sys read-only", tried.get("proc_sys") not in (None, "written"),
                   "bound read-only" if status.get("proc_sys_read_only") else why("/proc/sys", "not an unprivileged user")),
        Protection("own workspace, limited in size and files", bool(status.get("workspace")),
                   f"tmpfs of {format_size(limits.disk)} and {limits.files} files, gone with the run"
                   if status.get("workspace") else no_fs),
        Protection("other students, the output, the grader, homes and temp directories hidden",
                   bool(tried.get("hidden")),
                   "covered by empty read-only mounts" if tried.get("hidden") else no_fs),
        Protection("no host Unix socket reachable", tried.get("host_socket") not in (None, "connected"),
                   "temp directories and /run covered; an unprivileged user" if tried.get("host_socket") != "connected"
                   else "a socket in a hidden directory was reached"),
        Protection("an unprivileged user of the run's own", tried.get("uid", 0) != 0 and (not root or "uid" in status),
                   f"user ID {status['uid']}" if "uid" in status
                   else ("not root: the run is this user, in a user namespace" if not root else no_fs)),
        Protection("root-only files unreadable", tried.get("shadow") != "read",
                   "/etc/shadow: " + str(tried.get("shadow")) if tried.get("shadow") != "read" else "/etc/shadow was read"),
        Protection("processes of the run isolated and killed with it", "pid" in namespaces,
                   "PID namespace whose init ends with the run" if "pid" in namespaces
                   else ("child subreaper and a sweep of the process tree" if status.get("subreaper")
                         else why("subreaper", "only a sweep of the process tree"))),
        Protection("privileges dropped", bool(status.get("capabilities_dropped")),
                   "all capabilities dropped, no_new_privs" if status.get("capabilities_dropped")
                   else ("not needed: not root" if not root else why("capabilities", "capset failed"))),
        Protection("system calls that reach past the run refused", bool(status.get("seccomp")),
                   "seccomp filter: keyrings, ptrace, bpf, perf, userfaultfd, io_uring" if status.get("seccomp")
                   else why("seccomp", "no seccomp filter")),
        Protection("evidence the kernel vouches for", bool(status),
                   "records over a Unix socket the grader holds, each with the sender's PID from the kernel"
                   if status else "the launcher never reported"),
        Protection("the run's own directory writable", tried.get("scratch") == "written",
                   "scratch copy of the submission" if tried.get("scratch") == "written"
                   else f"cannot write its scratch directory: {tried.get('scratch')}"),
    ]


def report() -> str:
    lines = [(f"grader doctor: {sys.platform}, Python {sys.version.split()[0]}, "
              f"{'root' if os.geteuid() == 0 else 'user ' + str(os.geteuid())}")]
    for protection in diagnose():
        lines.append(f"  [{'on ' if protection.active else 'off'}] {protection.name}: {protection.how}")
    return "\n".join(lines)
