"""Find and kill a process's descendants, used both by the grader and inside a script's run.

Reads /proc because every process of a student's run must be found, including children of
children that multiprocessing never heard of.
"""

from __future__ import annotations

import os
import signal


def _states() -> list[tuple[int, bytes, int]]:
    """(PID, state, parent's PID) of every process, from /proc/PID/stat."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        # the command name may hold spaces and parentheses: fields resume after the last ')'
        fields = stat[stat.rfind(b")") + 2 :].split()
        found.append((int(entry), fields[0], int(fields[1])))
    return found


def _parents() -> dict[int, int]:
    # a zombie is already dead, only waiting for its parent
    return {pid: parent for pid, state, parent in _states() if state != b"Z"}


def dead_children() -> list[int]:
    """This process's children that have ended and wait to be reaped."""
    me = os.getpid()
    return [pid for pid, state, parent in _states() if state == b"Z" and parent == me]


def descendants(pid: int) -> list[int]:
    """All living descendants of ``pid``, children first. Never those of init or of the
    kernel's PID 0: a bad PID must not turn a cleanup into killing the machine."""
    if pid <= 1 or not os.path.isdir("/proc"):
        return []
    children: dict[int, list[int]] = {}
    for child, parent in _parents().items():
        children.setdefault(parent, []).append(child)
    found: list[int] = []
    frontier = [pid]
    while frontier:
        current = frontier.pop()
        for child in children.get(current, []):
            found.append(child)
            frontier.append(child)
    return found


def kill_descendants(pid: int) -> int:
    """SIGKILL every descendant of ``pid`` (repeated, so children forked meanwhile die too)."""
    killed = 0
    for _ in range(5):
        found = descendants(pid)
        if not found:
            break
        for child in found:
            try:
                os.kill(child, signal.SIGKILL)
                killed += 1
            except OSError:
                pass
    return killed


def become_subreaper() -> bool:
    """Orphans of this process's descendants come back to it instead of going to init."""
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        return False


def kill_marked(pid: int, marker: bytes, directory: str) -> list[int]:
    """SIGKILL the descendants of `pid` that belong to a run: their environment holds
    `marker`, or their working directory lies in the run's `directory` (a forked run never
    execs, so its environment block still reads as its zygote's). Reap those that are
    `pid`'s own children (orphans it adopted as a subreaper)."""
    killed = []
    for child in descendants(pid):
        try:
            cwd = os.readlink(f"/proc/{child}/cwd")
            with open(f"/proc/{child}/environ", "rb") as handle:
                environ = handle.read()
        except OSError:
            continue
        if marker in environ or cwd == directory or cwd.startswith(directory.rstrip("/") + "/"):
            try:
                os.kill(child, signal.SIGKILL)
                killed.append(child)
            except OSError:
                pass
    for child in killed:
        try:
            os.waitpid(child, 0)
        except ChildProcessError:
            pass  # not our child: its own parent reaps it
    return killed


def reap_adopted(uid: int) -> None:
    """Reap this process's dead children that belong to `uid`: a run's processes orphaned when
    their parent was killed come to the grader, a subreaper, and each one left unreaped would
    count against that user's process limit, which the next run of the user ID inherits."""
    try:  # most of the time no child at all is dead: then nothing to look for
        if os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
            return
    except ChildProcessError:
        return
    for pid in dead_children():
        try:
            if os.stat(f"/proc/{pid}").st_uid == uid:
                os.waitpid(pid, os.WNOHANG)
        except OSError:
            continue  # gone meanwhile, or reaped by its Popen first
