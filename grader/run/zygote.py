"""The grader's side of `probe/_grader_zygote.py`: start it once, ask it for runs.

Shared by every thread of a batch: requests go out under a lock, and a reader thread hands
each reply to the run that waits for it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from itertools import count
from pathlib import Path

from grader.run.sandbox import PROBE_DIR, passed_environment


class Run:
    def __init__(self) -> None:
        self.started = threading.Event()
        self.ended = threading.Event()
        self.pid = 0
        self.code: int | None = None

    def wait(self) -> int:
        self.ended.wait()
        return self.code if self.code is not None else -9


class Zygote:
    def __init__(self) -> None:
        env = passed_environment()  # its children's /proc/self/environ shows this one
        env["PYTHONPATH"] = str(PROBE_DIR)
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "_grader_zygote"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, env=env, start_new_session=True,
        )
        assert self.process.stdout is not None and self.process.stdin is not None  # both are pipes
        ready = self.process.stdout.readline()
        if not ready.startswith(b'{"ready"'):
            raise OSError("the pre-imported interpreter did not start")
        self.lock = threading.Lock()
        self.runs: dict[int, Run] = {}
        self.ids = count()
        threading.Thread(target=self._read, daemon=True, name="grader-zygote").start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            message = json.loads(line)
            run = self.runs.get(message.get("id"))
            if run is None:
                continue
            if "pid" in message:
                run.pid = message["pid"]
                run.started.set()
            if "exit" in message:
                run.code = message["exit"]
                self.runs.pop(message["id"], None)
                run.ended.set()
        for run in list(self.runs.values()):  # the zygote died: nothing more will come
            run.started.set()
            run.ended.set()

    def start(self, instructions: dict, env: dict[str, str], cwd: Path) -> Run:
        """`instructions`: the launcher's and the runner's (`RunSandbox.instructions`)."""
        run = Run()
        with self.lock:
            request_id = next(self.ids)
            self.runs[request_id] = run
            body = json.dumps({**instructions, "env": env, "cwd": str(cwd)}).encode()
            assert self.process.stdin is not None
            try:
                self.process.stdin.write(json.dumps({"id": request_id, "bytes": len(body)}).encode() + b"\n" + body)
                self.process.stdin.flush()
            except (BrokenPipeError, ValueError):
                self.runs.pop(request_id, None)
                raise OSError("the pre-imported interpreter is gone") from None
        run.started.wait()
        if run.pid <= 0:
            raise OSError("the pre-imported interpreter is gone")
        return run

    @property
    def alive(self) -> bool:
        return self.process.poll() is None


_zygote: Zygote | None = None
_zygote_lock = threading.Lock()


def zygote() -> Zygote | None:
    """The shared zygote, started on first use; None where forking is not the way (not
    Linux, or GRADER_ZYGOTE=0), and runs start a fresh interpreter instead."""
    global _zygote
    if not sys.platform.startswith("linux") or os.environ.get("GRADER_ZYGOTE") == "0":
        return None
    with _zygote_lock:
        if _zygote is None or not _zygote.alive:
            try:
                _zygote = Zygote()
            except OSError:
                return None
        return _zygote
