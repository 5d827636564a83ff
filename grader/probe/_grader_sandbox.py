"""Start a run's root process (kernel or script runner) inside the protections the OS allows.

Usage: ``python -S _grader_sandbox.py SPEC.json -- COMMAND...`` (-S: the probe must not load
into the launcher itself).

The grader writes SPEC (limits, cgroups to join, paths to keep writable or to hide) and puts
this launcher in front of the command. Each protection is applied if possible and recorded
in SPEC's ``status_file``, so `grader doctor` and the tests can say what is really active:

* cgroups (processes alive at once, memory in total), joined before anything else runs;
* resource limits per process (data memory, CPU seconds, file size; processes per user when
  not root);
* new mount, network and PID namespaces (as root, or in a user namespace): no network, the
  whole file system read-only except the run's own directory, a private /tmp-like scratch,
  a minimal /dev, other students' files and the grader's output hidden, and a tiny init
  that reaps orphans and takes every process of the run with it when it ends;
* all capabilities dropped and no_new_privs, so none of this can be undone from inside;
* otherwise a child subreaper, so that daemonised grandchildren stay findable and killable.

Standard library only: it runs before the probe, in the student's interpreter.
"""

from __future__ import annotations

import ctypes
import fcntl
import json
import os
import resource
import signal
import socket
import struct
import sys

CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x00020000, 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_NOATIME, MS_NODIRATIME, MS_BIND, MS_MOVE, MS_REC = 32, 1024, 2048, 4096, 8192, 16384
MS_PRIVATE, MS_RELATIME, MS_STRICTATIME = 1 << 18, 1 << 21, 1 << 24
PR_SET_PDEATHSIG, PR_CAPBSET_DROP, PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS = 1, 24, 36, 38
_MOUNT_FLAGS = {"nosuid": MS_NOSUID, "nodev": MS_NODEV, "noexec": MS_NOEXEC, "noatime": MS_NOATIME,
                "nodiratime": MS_NODIRATIME, "relatime": MS_RELATIME, "strictatime": MS_STRICTATIME}
DEVICES = ("null", "zero", "full", "random", "urandom")

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"{what}: {os.strerror(error)}")


def _prctl(option: int, value: int) -> None:
    _check(_libc.prctl(option, ctypes.c_ulong(value), 0, 0, 0), f"prctl({option})")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    encode = lambda text: text.encode() if text is not None else None  # noqa: E731
    _check(_libc.mount(encode(source), encode(target), encode(fstype), ctypes.c_ulong(flags), encode(data)),
           f"mount {target}")


def _write(path: str, text: str) -> None:
    with open(path, "w") as handle:
        handle.write(text)


def _join_cgroups(paths: list[str], status: dict) -> None:
    joined = []
    for path in paths:
        try:
            _write(os.path.join(path, "cgroup.procs"), str(os.getpid()))
            joined.append(path)
        except OSError as exc:
            status.setdefault("failed", {})[f"cgroup {path}"] = exc.strerror
    status["cgroups"] = joined


def _set_limits(limits: dict, status: dict) -> None:
    names = {"data": resource.RLIMIT_DATA, "cpu": resource.RLIMIT_CPU, "fsize": resource.RLIMIT_FSIZE,
             "nproc": resource.RLIMIT_NPROC, "core": resource.RLIMIT_CORE}
    applied = []
    for name, value in limits.items():  # the grader sends "nproc" only when it is not root
        hard = value + 1 if name == "cpu" else value  # SIGXCPU at the soft limit, not SIGKILL
        try:
            resource.setrlimit(names[name], (value, hard))
            applied.append(name)
        except (ValueError, OSError) as exc:
            status.setdefault("failed", {})[f"rlimit {name}"] = str(exc)
    status["rlimits"] = applied


def _unshare(status: dict) -> bool:
    """New mount, network and PID namespaces; in a user namespace when not root."""
    flags = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID
    uid, gid = os.getuid(), os.getgid()
    if os.geteuid() != 0:
        flags |= CLONE_NEWUSER
    if _libc.unshare(flags) != 0:
        status.setdefault("failed", {})["namespaces"] = os.strerror(ctypes.get_errno())
        return False
    if flags & CLONE_NEWUSER:
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"0 {uid} 1")
        _write("/proc/self/gid_map", f"0 {gid} 1")
    _loopback_up()  # ipykernel's forked children reach their kernel over 127.0.0.1
    status["namespaces"] = ["mount", "network", "pid"] + (["user"] if flags & CLONE_NEWUSER else [])
    return True


def _loopback_up() -> None:
    """Bring up `lo` in the new network namespace: loopback only, no way out."""
    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(sock, siocgifflags, request))[1]
        fcntl.ioctl(sock, siocsifflags, struct.pack("16sH14x", b"lo", flags | iff_up))


def _mount_points() -> list[tuple[str, int]]:
    points = []
    with open("/proc/self/mountinfo") as handle:
        for line in handle:
            fields = line.split()
            target = fields[4].encode().decode("unicode_escape")
            options = fields[5].split(",")
            points.append((target, sum(_MOUNT_FLAGS.get(option, 0) for option in options)))
    return points


def _inside(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent.rstrip("/") + "/")


def _build_filesystem(spec: dict, status: dict) -> None:
    """Read-only everything but the run's directory; minimal /dev; hidden paths."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    work = spec["work_dir"]
    staging = os.path.join(work, ".dev")
    os.makedirs(staging, exist_ok=True)
    _mount("tmpfs", staging, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755,size=1m")
    for device in DEVICES:
        node = os.path.join(staging, device)
        open(node, "w").close()
        _mount(f"/dev/{device}", node, None, MS_BIND)
    for index, name in enumerate(("stdin", "stdout", "stderr")):
        os.symlink(f"/proc/self/fd/{index}", os.path.join(staging, name))
    os.symlink("/proc/self/fd", os.path.join(staging, "fd"))
    os.mkdir(os.path.join(staging, "shm"))
    _mount("tmpfs", os.path.join(staging, "shm"), "tmpfs", MS_NOSUID | MS_NODEV, f"size={spec.get('shm_bytes', 64 << 20)}")
    _mount(staging, "/dev", None, MS_MOVE)
    for path in spec.get("hide", []):
        if os.path.isdir(path) and not _inside(work, path):
            _mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, "size=4k,mode=755")
    _mount(work, work, None, MS_BIND | MS_REC)  # its own mount: stays writable below
    keep = {"/proc", "/dev/shm", work}
    for target, flags in _mount_points():
        if target in keep or _inside(target, work) or _inside(target, "/proc"):
            continue
        try:
            _mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | flags)
        except OSError:
            pass  # a mount we may not touch stays as it is (it is listed in status)
    os.chdir(os.getcwd())  # the old working directory still points into the read-only mount
    status["read_only"] = True
    status["hidden"] = [p for p in spec.get("hide", []) if os.path.isdir(p)]


def _drop_capabilities(status: dict) -> None:
    for capability in range(64):
        if _libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0 and ctypes.get_errno() == 22:
            break  # EINVAL: past the last capability this kernel knows

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                    ("inheritable", ctypes.c_uint32)]

    header, data = Header(0x20080522, 0), (Data * 2)()
    if _libc.capset(ctypes.byref(header), data) == 0:
        status["capabilities_dropped"] = True
    _prctl(PR_SET_NO_NEW_PRIVS, 1)


def _init(child: int) -> int:
    """PID 1 of the run's namespace: reap orphans, pass signals on, leave with the child."""
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda s, _f: os.kill(child, s))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # an interrupt reaches the whole group itself
    while True:
        try:
            pid, code = os.wait()
        except ChildProcessError:
            return 0
        except InterruptedError:
            continue
        if pid == child:
            return os.waitstatus_to_exitcode(code) % 256


def enter(spec: dict) -> None:
    """Put the calling process inside the protections; it returns only in the process that
    is to run the student's code (with namespaces, two forks deeper: a launcher that stays
    outside and an init that is PID 1 inside wait and exit with it)."""
    status: dict = {}
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # the grader gone: nothing of the run survives it
    _join_cgroups(spec.get("cgroups", []), status)
    namespaced = spec.get("namespaces", True) and sys.platform.startswith("linux") and _unshare(status)
    if namespaced:
        init = os.fork()  # the first child of a new PID namespace is its PID 1
        if init:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            for signum in (signal.SIGTERM, signal.SIGHUP):
                signal.signal(signum, lambda s, _f: os.kill(init, s))
            while True:
                try:
                    os._exit(os.waitstatus_to_exitcode(os.waitpid(init, 0)[1]) % 256)
                except InterruptedError:
                    continue
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        try:
            _build_filesystem(spec, status)
        except OSError as exc:
            status.setdefault("failed", {})["filesystem"] = str(exc)
    else:
        try:
            _prctl(PR_SET_CHILD_SUBREAPER, 1)
            status["subreaper"] = True
        except (OSError, AttributeError) as exc:
            status.setdefault("failed", {})["subreaper"] = str(exc)
    _set_limits(spec.get("rlimits", {}), status)
    try:
        _drop_capabilities(status)
    except OSError as exc:
        status.setdefault("failed", {})["capabilities"] = str(exc)
    if spec.get("status_file"):
        _write(spec["status_file"], json.dumps(status))
    if namespaced:
        child = os.fork()
        if child:
            os._exit(_init(child))
        # ipykernel would take the namespace's init (PID 1) for an orphaning and quit;
        # the init's parent-death signal already ends the kernel with the grader
        if "JPY_PARENT_PID" in os.environ:
            os.environ["JPY_PARENT_PID"] = "1"


def main(argv: list[str]) -> int:
    spec_path, command = argv[0], argv[argv.index("--") + 1 :]
    with open(spec_path) as handle:
        enter(json.load(handle))
    os.execvpe(command[0], command, os.environ)
    return 127


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
