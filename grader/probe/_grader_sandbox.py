"""Start a run's root process (kernel or script runner) inside the protections the OS allows.

Usage: ``python -S _grader_sandbox.py -- COMMAND...`` with the grader's instructions as JSON on
stdin (-S: the probe must not load into the launcher itself). Nothing of the instructions is
a file of the run: the launcher reads them before any student code exists, and the command
finds its own part of the same JSON on stdin after it.

Each protection is applied if possible, and what was applied is sent to the grader over the
probe's socket before the command starts, so `grader doctor` and the tests say what is
really active:

* cgroups (processes alive at once, memory in total), joined before anything else runs;
* new mount, network, PID, IPC and UTS namespaces (as root, or in a user namespace): no
  network, no System V IPC or host name shared with other runs, and a file system of its own:
  - the run's directory is a fresh tmpfs, limited in bytes and in files, holding a copy of
    the submission (gone with the namespace: nothing to clean up, even after a SIGKILL);
  - the temp directories, /run, the homes, the grader's install and output, the other
    submissions are covered by empty read-only mounts; only what Python needs is put back;
  - everything else, /proc/sys included, read-only; a minimal /dev, a private /dev/shm;
  - a tiny init that reaps orphans and takes every process of the run with it;
* as root, an unprivileged user ID of the run's own;
* resource limits per process (data memory, CPU seconds, file size, processes per user);
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
import shutil
import signal
import socket
import struct
import sys

CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x02000000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_NOATIME, MS_NODIRATIME, MS_BIND, MS_MOVE, MS_REC = 32, 1024, 2048, 4096, 8192, 16384
MS_PRIVATE, MS_RELATIME, MS_STRICTATIME = 1 << 18, 1 << 21, 1 << 24
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS = 1, 4, 24, 36, 38
_MOUNT_FLAGS = {"nosuid": MS_NOSUID, "nodev": MS_NODEV, "noexec": MS_NOEXEC, "noatime": MS_NOATIME,
                "nodiratime": MS_NODIRATIME, "relatime": MS_RELATIME, "strictatime": MS_STRICTATIME}
DEVICES = ("null", "zero", "full", "random", "urandom")
INSIDE_ID = 1000  # the run's user and group inside a user namespace
SANDBOX_FAILED = 76  # the exit code when the protections could not be built

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"{what}: {os.strerror(error)}")


def _prctl(option: int, value: int) -> None:
    _check(_libc.prctl(option, ctypes.c_ulong(value), 0, 0, 0), f"prctl({option})")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    encode = lambda text: text.encode() if text is not None else None
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
             "nproc": resource.RLIMIT_NPROC, "core": resource.RLIMIT_CORE, "nofile": resource.RLIMIT_NOFILE}
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
    """New mount, network, PID, IPC, UTS and cgroup namespaces; in a user namespace when not
    root (after joining the cgroups: the run sees them as its root, and no other run's)."""
    flags = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP
    uid, gid = os.getuid(), os.getgid()
    if os.geteuid() != 0:
        flags |= CLONE_NEWUSER
    if _libc.unshare(flags) != 0:
        status.setdefault("failed", {})["namespaces"] = os.strerror(ctypes.get_errno())
        return False
    if flags & CLONE_NEWUSER:
        _write("/proc/self/setgroups", "deny")
        # the grader's user is the run's, seen inside as an ordinary user, not as root: the
        # capabilities the new namespace gives are dropped before student code runs
        _write("/proc/self/uid_map", f"{INSIDE_ID} {uid} 1")
        _write("/proc/self/gid_map", f"{INSIDE_ID} {gid} 1")
    _loopback_up()  # ipykernel's forked children reach their kernel over 127.0.0.1
    socket.sethostname("grader")
    status["namespaces"] = ["mount", "network", "pid", "ipc", "uts", "cgroup"] + (["user"] if flags & CLONE_NEWUSER else [])
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


def _depth(path: str) -> int:
    return len([part for part in path.split("/") if part])


def _build_dev(spec: dict) -> str:
    """A minimal /dev of a few devices, a private /dev/shm, and a private staging directory
    where the paths to be put back wait while their surroundings are covered."""
    staging = spec["stage"]
    _mount("tmpfs", staging, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755,size=1m")
    for device in DEVICES:
        node = os.path.join(staging, device)
        open(node, "w").close()
        _mount(f"/dev/{device}", node, None, MS_BIND)
    for index, name in enumerate(("stdin", "stdout", "stderr")):
        os.symlink(f"/proc/self/fd/{index}", os.path.join(staging, name))
    os.symlink("/proc/self/fd", os.path.join(staging, "fd"))
    os.mkdir(os.path.join(staging, "pts"))
    try:  # terminals of the run's own (`!cmd` in a kernel, pexpect): a new devpts instance
        _mount("devpts", os.path.join(staging, "pts"), "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620")
        os.symlink("pts/ptmx", os.path.join(staging, "ptmx"))
    except OSError:
        pass  # without it a run has no terminal, as before: the shell engine needs none
    os.mkdir(os.path.join(staging, "shm"))
    _mount("tmpfs", os.path.join(staging, "shm"), "tmpfs", MS_NOSUID | MS_NODEV, f"size={spec['shm_bytes']}")
    os.mkdir(os.path.join(staging, ".stage"), 0o700)
    _mount(staging, "/dev", None, MS_MOVE)
    return "/dev/.stage"


def copy_tree(source: str, target: str, uid: int | None = None) -> None:
    """Copy a directory tree of any depth without recursion: files, directories and
    symlinks (as links, never followed); FIFOs, sockets and devices are left out. With
    `uid` (as root), every copy belongs to that user."""
    stack = [(source, target)]
    while stack:
        source_dir, target_dir = stack.pop()
        os.makedirs(target_dir, exist_ok=True)
        if uid is not None:
            os.lchown(target_dir, uid, uid)
        with os.scandir(source_dir) as entries:
            for entry in entries:
                destination = os.path.join(target_dir, entry.name)
                if entry.is_symlink():
                    os.symlink(os.readlink(entry.path), destination)
                elif entry.is_dir(follow_symlinks=False):
                    stack.append((entry.path, destination))
                    continue
                elif entry.is_file(follow_symlinks=False):
                    shutil.copy2(entry.path, destination, follow_symlinks=False)
                else:
                    continue
                if uid is not None:
                    os.lchown(destination, uid, uid)


def _workspace(spec: dict, stage: str) -> str:
    """The run's own tmpfs, limited in bytes and inodes, with the submission's copy and its
    temp and home at the same paths as on the grader's side."""
    workspace = os.path.join(stage, "workspace")
    os.mkdir(workspace)
    _mount("tmpfs", workspace, "tmpfs", MS_NOSUID | MS_NODEV,
           f"size={spec['disk']},nr_inodes={spec['files']},mode=1777")
    for name in ("scratch", "tmp", "home"):
        source = os.path.join(spec["control"], name)
        target = os.path.join(workspace, os.path.relpath(source, spec["root"]))
        copy_tree(source, target, spec.get("uid"))
    return workspace


def _layers(spec: dict) -> tuple[list[str], list[str]]:
    """The covers and the paths put back that matter: one inside another of its kind with
    nothing of the other kind between them changes nothing, and is left out."""
    root = spec["root"]
    covers = sorted({p for p in spec["cover"] if os.path.isdir(p) and not _inside(p, root)}, key=_depth)
    keeps = sorted({p for p in [*spec["keep"], *spec["writable"]] if os.path.isdir(p) and not _inside(root, p)},
                   key=_depth)

    def needed(path: str, same: list[str], other: list[str]) -> bool:
        outer = [o for o in same if o != path and _inside(path, o)]
        if not outer:
            return True
        nearest = max(outer, key=_depth)
        return any(_inside(between, nearest) and _inside(path, between) and between != nearest for between in other)

    return ([c for c in covers if needed(c, covers, [*keeps, root])],
            [k for k in keeps if needed(k, keeps, covers) or _inside(k, root) and not _inside(root, k)])


def _build_filesystem(spec: dict, status: dict) -> None:
    """A file system of the run's own: see the module's docstring."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    try:
        _mount("/proc/sys", "/proc/sys", None, MS_BIND | MS_REC)
        _mount(None, "/proc/sys", None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)
        status["proc_sys_read_only"] = True
    except OSError as exc:
        status.setdefault("failed", {})["/proc/sys"] = str(exc)
    stage = _build_dev(spec)
    root = spec["root"]
    covers, keeps = _layers(spec)
    # every path to put back waits, bound, in the staging directory: its original is still visible now
    staged = {}
    for index, path in enumerate(keeps):
        staged[path] = os.path.join(stage, str(index))
        os.mkdir(staged[path])
        _mount(path, staged[path], None, MS_BIND | MS_REC)
    staged[root] = _workspace(spec, stage)
    # shallow first: a deeper path is placed inside what covers its surroundings
    sealed = set()  # covers with nothing put back inside: read-only from the start
    for path in sorted([*covers, *staged], key=_depth):
        if path in staged:
            os.makedirs(path, exist_ok=True)  # inside a cover, or the workspace, made just before
            _mount(staged[path], path, None, MS_MOVE)
            continue
        empty = not any(_inside(kept, path) for kept in staged)
        try:
            _mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV | (MS_RDONLY if empty else 0), "size=64k,mode=755")
            if empty:
                sealed.add(path)
        except OSError as exc:
            status.setdefault("failed", {})[f"cover {path}"] = str(exc)
    for folder in os.listdir(stage):
        os.rmdir(os.path.join(stage, folder))  # each emptied by its move
    os.rmdir(stage)
    keep_open = {root, *spec["writable"], *sealed}
    put_back = [path for path in staged if path != root]
    for target, flags in _mount_points():
        if target in keep_open or _inside(target, "/proc") or _inside(target, "/dev"):
            continue
        shadowed = any(_inside(target, cover) and target != cover for cover in [*covers, root])
        if shadowed and not any(_inside(target, kept) for kept in put_back):
            continue  # under a cover or the workspace: out of sight already
        try:
            _mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | flags)
        except OSError:
            pass  # a mount we may not touch stays as it is (shadowed, or locked)
    os.chdir(spec["cwd"])
    status["read_only"] = True
    status["workspace"] = {"bytes": spec["disk"], "files": spec["files"]}
    status["hidden"] = covers


def _become(uid: int | None, status: dict) -> None:
    """As root: the run's own unprivileged user, with no groups."""
    if uid is None:
        return
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    # a change of user makes the process "not dumpable": its /proc files would stay root's and
    # the student's code could not even rename its own process, as it can under Jupyter
    _prctl(PR_SET_DUMPABLE, 1)
    status["uid"] = uid


def _drop_capabilities(uid: int | None, status: dict) -> None:
    """No capability is left, in any form, and none can come back (the bounding set goes
    first: dropping it needs a capability the change of user takes away)."""
    for capability in range(64):
        if _libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0 and ctypes.get_errno() == 22:
            break  # EINVAL: past the last capability this kernel knows
    _become(uid, status)

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                    ("inheritable", ctypes.c_uint32)]

    header, data = Header(0x20080522, 0), (Data * 2)()
    if _libc.capset(ctypes.byref(header), data) == 0:
        status["capabilities_dropped"] = True
    _prctl(PR_SET_NO_NEW_PRIVS, 1)
    try:
        _filter_system_calls(status)
    except OSError as exc:
        status.setdefault("failed", {})["seccomp"] = str(exc)


# system calls no student code needs, that reach past the run: the kernel keyrings (kept per
# user ID, shared with the next run of that ID), tracing and reading other processes' memory,
# eBPF, perf, userfaultfd and io_uring (the usual doors of kernel exploits), and new
# namespaces (a user namespace would give back every capability, nf_tables, unlimited tmpfs)
_DENIED = {
    # architecture, denied calls, (clone, clone3)
    "x86_64": (0xC000003E, (248, 249, 250, 101, 298, 321, 323, 425, 426, 427, 310, 311, 272, 308), (56, 435)),
    "aarch64": (0xC00000B7, (217, 218, 219, 117, 241, 280, 282, 425, 426, 427, 270, 271, 97, 268), (220, 435)),
}
_NAMESPACE_FLAGS = 0x7E020000  # CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET


def _filter_system_calls(status: dict) -> None:
    """A seccomp filter: the calls above fail with EPERM, clone with a namespace flag too,
    clone3 with ENOSYS (its flags are out of a filter's reach; the C library then falls back
    to clone); another architecture's calls, and x32's, are refused whole."""
    machine = os.uname().machine
    if machine not in _DENIED:
        status.setdefault("failed", {})["seccomp"] = f"no system call table for {machine}"
        return
    arch, numbers, (clone, clone3) = _DENIED[machine]
    allow, deny, missing = 0x7FFF0000, 0x00050000 | 1, 0x00050000 | 38  # ALLOW, ERRNO(EPERM), ERRNO(ENOSYS)
    load, jeq, jge, jset, ret = 0x20, 0x15, 0x35, 0x45, 0x06
    # [0] arch [1..2] wrong arch: deny [3] nr [4] x32: deny [5..] the list, clone3, clone
    program = [(load, 0, 0, 4), (jeq, 1, 0, arch), (ret, 0, 0, deny), (load, 0, 0, 0)]
    tail = len(numbers) + 2  # jumps to "deny", past the list, clone3 and clone
    program.append((jge, tail + 4, 0, 0x40000000))
    for index, number in enumerate(numbers):
        program.append((jeq, tail + 3 - index, 0, number))
    program.append((jeq, 0, 1, clone3))
    program.append((ret, 0, 0, missing))
    program.append((jeq, 0, 2, clone))
    program.append((load, 0, 0, 16))  # args[0], low 32 bits: clone's flags
    program.append((jset, 1, 0, _NAMESPACE_FLAGS))
    program += [(ret, 0, 0, allow), (ret, 0, 0, deny)]

    class Filter(ctypes.Structure):
        _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]

    class Program(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(Filter))]

    filters = (Filter * len(program))(*[Filter(*instruction) for instruction in program])
    prog = Program(len(program), filters)
    _check(_libc.prctl(22, 2, ctypes.byref(prog), 0, 0), "seccomp")  # PR_SET_SECCOMP, SECCOMP_MODE_FILTER
    status["seccomp"] = True


def _report(path: str, status: dict) -> None:
    """Tell the grader what was applied, and wait until it has read it: it takes this only
    before the run's first process says hello, when no student code has run yet."""
    import _grader_probe  # beside this file; the launcher's own copy, never installed in it
    from _grader_wire import KIND, Kind

    sock = _grader_probe.connect(path, {KIND: Kind.SANDBOX, "status": status})
    if sock is not None:  # else the grader will say that it never heard
        sock.close()


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
    uid = None
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
            uid = spec.get("uid")  # only inside a file system made for it
        except OSError as exc:  # half a file system: no student code runs in it
            status.setdefault("failed", {})["filesystem"] = str(exc)
            _report(spec["socket"], status)
            os._exit(SANDBOX_FAILED)
    else:
        try:
            _prctl(PR_SET_CHILD_SUBREAPER, 1)
            status["subreaper"] = True
        except (OSError, AttributeError) as exc:
            status.setdefault("failed", {})["subreaper"] = str(exc)
    _set_limits(spec.get("rlimits", {}), status)
    try:
        _drop_capabilities(uid, status)
    except OSError as exc:
        status.setdefault("failed", {})["capabilities"] = str(exc)
    _report(spec["socket"], status)
    if namespaced:
        child = os.fork()
        if child:
            os._exit(_init(child))
        # ipykernel would take the namespace's init (PID 1) for an orphaning and quit;
        # the init's parent-death signal already ends the kernel with the grader
        if "JPY_PARENT_PID" in os.environ:
            os.environ["JPY_PARENT_PID"] = "1"


def read_instructions() -> dict:
    """The grader's JSON on stdin, left where the command can read it again."""
    with os.fdopen(os.dup(0), "rb") as handle:
        instructions = json.loads(handle.read())
    os.lseek(0, 0, os.SEEK_SET)
    return instructions


def main(argv: list[str]) -> int:
    command = argv[argv.index("--") + 1 :]
    instructions = read_instructions()
    enter(instructions["sandbox"])
    if not instructions.get("runner"):  # a kernel: nothing more for it on stdin
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
    os.execvpe(command[0], command, os.environ)
    return 127


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
