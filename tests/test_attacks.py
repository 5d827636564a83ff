"""Attacks by a student who has read the grader's code, one family of issue 8 at a time.

Each test runs the attack as a real submission, in the real sandbox, with both engines where
the engine matters, and fails if the protection breaks. Everything is bounded: short time
limits, a handful of processes, files of a few MiB.
"""

from __future__ import annotations

import ctypes
import json
import os
import socket
import threading
import time
from pathlib import Path

import pytest

from grader.attribution.attribute import attribute
from grader.evidence.model import Evidence
from grader.evidence.read import read_evidence
from grader.grading.pipeline import asked
from grader.grading.review import Review
from grader.load.submission import load
from grader.run.engine import EngineKind
from grader.run.execute import execute
from grader.run.limits import MIB, Limits
from grader.run.sandbox import kept_paths
from tests.helpers import EXAMPLES, grade_path, leftovers, write_notebook

ENGINES = list(EngineKind)
QUESTIONS = frozenset({"q1", "q2", "q3", "q4", "q5", "q6"})


def run(tmp_path: Path, rubric, cells: list[tuple[str, str]], engine: EngineKind = EngineKind.SHELL, timeout: float = 5,
        protect: tuple[Path, ...] = (), **limits) -> Evidence:
    folder = tmp_path / "class"
    folder.mkdir(exist_ok=True)
    path = write_notebook(folder / "attack.ipynb", cells)
    submission = load("attack", path)
    return read_evidence(execute(submission, attribute(submission, asked(rubric)), Limits(timeout=timeout, **limits),
                                 QUESTIONS, protect, engine))


def side_by_side(tmp_path: Path, rubric, codes: dict[str, str], stagger: float = 0.0, timeout: float = 5
                 ) -> dict[str, Evidence]:
    """Each student's one Q3 cell, graded at the same time (started `stagger` s apart, in
    order) through the same grader process and zygote."""
    results: dict[str, Evidence] = {}

    def grade_one(name: str) -> None:
        results[name] = run(tmp_path / name, rubric, [("md", "Q3."), ("code", codes[name])], timeout=timeout)

    threads = []
    for name in codes:
        (tmp_path / name).mkdir(exist_ok=True)
        threads.append(threading.Thread(target=grade_one, args=(name,)))
        threads[-1].start()
        time.sleep(stagger)
    for thread in threads:
        thread.join()
    return results


def printed(evidence: Evidence) -> str:
    return "".join(evidence.processes[key].stdout for key in sorted(evidence.roots))


def report(evidence: Evidence) -> dict:
    """The JSON the attack printed last."""
    return json.loads([line for line in printed(evidence).splitlines() if line.startswith("{")][-1])


# --- 1. the grader never writes or reads through a path the run controls --------------------

PLANT = """import os, json
planted = []
for folder in [os.getcwd(), os.environ["TMPDIR"], os.environ["HOME"], os.path.dirname(os.environ["GRADER_PROBE_SOCKET"]),
               *[os.path.join(os.path.dirname(os.path.dirname(os.environ["GRADER_PROBE_SOCKET"])), d) for d in ("kernel", "conn", "")]]:
    for name in ["sandbox.json", "kernel.log", "kernel-1.json", "kernel-2.json", "units.jsonl", "runner.json", "x.jsonl"]:
        for kind in ("link", "fifo"):
            path = os.path.join(folder, name if kind == "link" else name + ".fifo")
            try:
                os.symlink({target!r}, path) if kind == "link" else os.mkfifo(path)
                planted.append(path)
            except OSError:
                pass
print(json.dumps({{"planted": len(planted)}}))
"""


@pytest.mark.parametrize("engine", ENGINES)
def test_planted_symlinks_and_fifos_change_no_host_file_and_stall_nothing(tmp_path, rubric, engine):
    target = tmp_path / "host-file.txt"
    target.write_text("the instructor's\n")
    evidence = run(tmp_path, rubric, [("md", "Q3."), ("code", PLANT.format(target=str(target))),
                                      ("code", "import os\nos._exit(3)  # the grader restarts the run"),
                                      ("md", "Q5."), ("code", "print('after the restart')")], engine,
                   submission_timeout=25)  # a stall would leave the last cell not run
    assert report(evidence)["planted"] > 0
    assert "after the restart" in printed(evidence)
    assert target.read_text() == "the instructor's\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["class", "host-file.txt"]
    assert [u.status for u in evidence.units][-1] == "ok"


FORGED_NUMBERS = """import json, os, socket
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(os.environ["GRADER_PROBE_SOCKET"])
s.send(b'{"k": "hello", "how": "fork"}'); s.recv(1)
for text in ('{"k": "exit", "code": NaN}', '{"k": "reaped", "child": 1e400, "code": Infinity}',
             '{"k": "child", "child": 99999999999999999999999, "name": "x"}', '[' * 100000, '{"k": "task"}',
             '{"k": "write", "stream": "stdout", "text": 5}'):
    s.send(text.encode())
print("sent")
"""


def test_forged_numbers_never_reach_the_results(tmp_path, rubric):
    path = write_notebook(tmp_path / "nan.ipynb", [("md", "Q3."), ("code", FORGED_NUMBERS)])
    out = tmp_path / "out"
    from grader.cli import main

    assert main(["grade", str(path), "--out", str(out), "--timeout", "5"]) == 0

    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} in results.json")

    document = json.loads((out / "results.json").read_text(), parse_constant=refuse)
    [entry] = document["submissions"]
    assert entry["status"] == "graded"
    assert any("contradict" in flag["reason"] for flag in entry["review"])


# --- 2. the run has no privileges, and no host socket ----------------------------------------

PRIVILEGES = """import json, os, socket
found = {{"uid": os.getuid(), "euid": os.geteuid()}}
for name, path in (("proc_sys", "/proc/sys/kernel/hostname"), ("core_pattern", "/proc/sys/kernel/core_pattern")):
    try:
        with open(path, "w") as handle:
            handle.write("owned")
        found[name] = "written"
    except OSError as exc:
        found[name] = exc.strerror
try:
    open("/etc/shadow").read()
    found["shadow"] = "read"
except OSError as exc:
    found["shadow"] = exc.strerror
found["root_home"] = sorted(os.listdir("/root")) if os.path.isdir("/root") else []
try:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect({socket_path!r})
    found["socket"] = "connected"
except OSError as exc:
    found["socket"] = exc.strerror
print(json.dumps(found))
"""


@pytest.mark.parametrize("engine", ENGINES)
def test_the_run_has_no_privileges_and_reaches_no_host_socket(tmp_path, rubric, engine):
    host = socket.socket(socket.AF_UNIX)
    host.bind(str(tmp_path / "host.sock"))
    host.listen(1)
    os.chmod(tmp_path / "host.sock", 0o777)
    with host:
        found = report(run(tmp_path, rubric, [("md", "Q3."), ("code", PRIVILEGES.format(socket_path=str(tmp_path / "host.sock")))],
                           engine))
    assert found["uid"] != 0 and found["euid"] != 0
    assert found["proc_sys"] != "written" and found["core_pattern"] != "written"
    assert found["shadow"] != "read"
    # an empty cover, but for the way to the interpreter kept inside it
    kept = {p.relative_to("/root").parts[0] for p in kept_paths() if Path("/root") in p.parents}
    assert set(found["root_home"]) <= kept
    assert found["socket"] != "connected"


TERMINALS = """import glob, json, os, stat
found = {"before": sorted(os.listdir("/dev/pts")) if os.path.isdir("/dev/pts") else []}
try:
    leader, follower = os.openpty()
    found["own"] = os.ttyname(follower)
except OSError as exc:
    found["own"] = exc.strerror
found["after"] = sorted(os.listdir("/dev/pts")) if os.path.isdir("/dev/pts") else []
found["written"] = []
for path in glob.glob("/dev/pts/[0-9]*") + ["/dev/tty", "/dev/console"]:
    if path == found["own"] or not os.path.exists(path) or not stat.S_ISCHR(os.stat(path).st_mode):
        continue  # a name with no terminal behind it (in the run's own /dev, a plain file it could make)
    try:
        with open(path, "w") as terminal:
            terminal.write("forged")
        found["written"].append(path)
    except OSError:
        pass
print(json.dumps(found))
"""


def test_the_runs_terminals_are_its_own_and_no_other_is_reachable(tmp_path, rubric):
    """The run has a devpts of its own (`!cmd` in a kernel needs a terminal): it sees no
    terminal of the host or of another run, and can write to none but those it opened."""
    host_leader, host_follower = os.openpty()  # a terminal of the grader's side, which must stay out of sight
    try:
        found = report(run(tmp_path, rubric, [("md", "Q3."), ("code", TERMINALS)]))
    finally:
        os.close(host_leader)
        os.close(host_follower)
    assert set(found["before"]) <= {"ptmx"}, found  # nothing of the host's
    assert found["written"] == [], found
    if found["own"].startswith("/dev/pts/"):  # where the mount is allowed: numbered from 0, its own
        assert found["own"] == "/dev/pts/0" and set(found["after"]) == {"ptmx", "0"}, found


# --- 3. students do not see each other --------------------------------------------------------

LOOK_AROUND = """import glob, json, os, time
own = os.path.dirname(os.path.dirname(os.environ["GRADER_PROBE_SOCKET"]))
open(os.path.join(os.environ["TMPDIR"], "mine-{name}"), "w").write("x")
open("/dev/shm/mine-{name}", "w").write("x")
time.sleep(1.5)
seen = []
for pattern in ("/tmp/*", "/tmp/*/*", "/dev/shm/*", os.environ["TMPDIR"] + "/*", "/var/tmp/*", {others!r} + "/*"):
    seen += [path for path in glob.glob(pattern) if not path.startswith(own)]
with open("/proc/sysvipc/shm") as handle:
    segments = handle.read().splitlines()[1:]
print(json.dumps({{"seen": sorted(seen), "segments": len(segments), "host": __import__("socket").gethostname()}}))
"""


def test_concurrent_runs_see_neither_each_other_nor_the_hosts_ipc(tmp_path, rubric):
    others = tmp_path / "other-section"
    others.mkdir()
    (others / "secret.ipynb").write_text("another section's work")
    libc = ctypes.CDLL(None, use_errno=True)
    segment = libc.shmget(0x6772_6472, 4096, 0o1600)  # IPC_CREAT: a segment of the host's
    try:
        results = side_by_side(tmp_path, rubric, {name: LOOK_AROUND.format(name=name, others=str(others))
                                                  for name in ("alice", "bob")})
    finally:
        if segment >= 0:
            libc.shmctl(segment, 0, None)  # IPC_RMID
    for name, other in (("alice", "bob"), ("bob", "alice")):
        found = report(results[name])
        assert not [path for path in found["seen"] if other in path or "secret" in path or "grader-run-" in path]
        assert found["segments"] == 0
        assert found["host"] == "grader"


# --- 4. one submission cannot stall or sink the batch ------------------------------------------

DEEP_AND_MANY = """import os
base = os.getcwd()
path = base
for depth in range(1500):
    path = os.path.join(path, "d")
    os.mkdir(path)
made = 0
try:
    for number in range(100000):
        open(os.path.join(base, f"f{number}"), "w").close()
        made += 1
except OSError as exc:
    print("files stopped:", exc.strerror, made)
try:
    with open(os.path.join(base, "big"), "wb") as handle:
        for _ in range(64):
            handle.write(b"x" * (1 << 20))
except OSError as exc:
    print("bytes stopped:", exc.strerror)
"""


@pytest.mark.parametrize("engine", ENGINES)
def test_deep_trees_many_files_and_big_writes_are_bounded_and_leave_nothing(tmp_path, rubric, engine):
    before = {p.name for p in Path("/tmp").glob("grader-run-*")}
    evidence = run(tmp_path, rubric, [("md", "Q3."), ("code", DEEP_AND_MANY)], engine, timeout=20,
                   files=5000, disk=32 * MIB)
    text = printed(evidence)
    assert "files stopped: No space left on device" in text
    assert "bytes stopped: No space left on device" in text
    assert {p.name for p in Path("/tmp").glob("grader-run-*")} - before == set()


FLOOD = """import multiprocessing, sys

def flood(number):
    for _ in range(8):
        sys.stdout.write(str(number) * (1 << 20))
        sys.stderr.write("e" * (1 << 20))

if __name__ == "__main__":
    workers = [multiprocessing.Process(target=flood, args=(n,)) for n in range(6)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    raise ValueError("m" * ({error_mib} << 20))
"""


@pytest.mark.parametrize("engine", ENGINES)
def test_output_of_all_processes_and_a_huge_exception_are_bounded(tmp_path, rubric, engine):
    limits = {"output": 1 * MIB, "output_total": 4 * MIB}
    # a kernel's reply carries the message twice (value and traceback) in one frame, which may
    # not pass 16 MiB: bigger, and the kernel's connection is dropped (a test of its own below)
    code = FLOOD.format(error_mib=20 if engine == "shell" else 5)
    evidence = run(tmp_path, rubric, [("md", "Q6."), ("code", code)], engine, timeout=30, **limits)
    kept = sum(len(write.text) for write in evidence.writes)
    assert 0 < kept <= 4 * MIB
    assert evidence.cut
    [unit] = evidence.units
    assert unit.status == "error" and "ValueError" in unit.error and len(unit.error) <= 4000


# --- 6. evidence the student's code cannot forge ------------------------------------------------

FORGE_POOL = """import _grader_probe, os, socket
_grader_probe.emit("pool_worker")
_grader_probe.emit("task", values=["1", "4", "9", "16", "25"], inputs=["1", "2", "3", "4", "5"], q="q5")
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(os.environ["GRADER_PROBE_SOCKET"])
s.send(b'{"k": "hello", "how": "fork"}'); s.recv(1)
s.send(b'{"k": "task", "values": ["1", "4", "9", "16", "25"], "inputs": ["1", "2", "3", "4", "5"], "q": "q5"}')
from multiprocessing import Pool
print([1, 4, 9, 16, 25])
"""


@pytest.mark.parametrize("engine", ENGINES)
def test_pool_results_forged_from_the_main_process_earn_nothing(tmp_path, rubric, engine):
    path = write_notebook(tmp_path / "forger.ipynb", [("md", "Q5."), ("code", FORGE_POOL)])
    result = grade_path(path, rubric, engine=engine)
    [q5] = [q for q in result.questions if q.id == "q5"]
    assert [c.name for c in q5.checks if c.score > 0] == ["runs without errors"]
    assert Review.EVIDENCE_REJECTED in {flag.reason for flag in result.review}


FORGE_CHILDREN = """import os, socket, json
# a forked child claims units, tasks for the root and children it never started
if os.fork() == 0:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(os.environ["GRADER_PROBE_SOCKET"])
    s.send(b'{"k": "hello", "how": "root"}'); s.recv(1)
    for record in ({"k": "unit", "n": 0, "status": "ok"}, {"k": "child", "child": 1, "name": "Process-9", "q": "q6"},
                   {"k": "reaped", "child": 1, "code": 0}, {"k": "sandbox", "status": {}}):
        s.send(json.dumps(record).encode())
    os._exit(0)
os.wait()
raise RuntimeError("this error must be seen")
"""


@pytest.mark.parametrize("engine", ENGINES)
def test_records_that_contradict_the_kernel_are_dropped_and_flagged(tmp_path, rubric, engine):
    evidence = run(tmp_path, rubric, [("md", "Q6."), ("code", FORGE_CHILDREN)], engine)
    [unit] = evidence.units
    assert unit.status == "error" and "this error must be seen" in unit.error
    assert len(evidence.roots) == 1
    assert not [p for p in evidence.processes.values() if p.name == "Process-9"]
    assert evidence.rejected


FAKE_PID = """import multiprocessing, os
os.getpid = lambda: 4242
os.getppid = lambda: 4141

def work():
    print("Worker process ID:", os.getpid())

if __name__ == "__main__":
    print("Main process ID:", os.getpid())
    p = multiprocessing.Process(target=work)
    p.start()
    p.join()
"""


@pytest.mark.parametrize("engine", ENGINES)
def test_a_patched_getpid_prints_a_pid_the_kernel_does_not_know(tmp_path, rubric, engine):
    path = write_notebook(tmp_path / "fake.ipynb", [("md", "Q3."), ("code", FAKE_PID)])
    result = grade_path(path, rubric, engine=engine)
    [q3] = [q for q in result.questions if q.id == "q3"]
    [pids] = [c for c in q3.checks if c.kind == "real_pids"]
    assert not pids.passed and "4242" in pids.feedback + (pids.detail or "")


def test_a_disarmed_watchdog_does_not_outlive_the_time_limit(tmp_path, rubric):
    code = "import _grader_runner\n_grader_runner._watchdog.arm = lambda seconds: None\nwhile True:\n    pass\n"
    # kept from outside: else the unit would run on to the process's wall limit, and the next not at all
    evidence = run(tmp_path, rubric, [("md", "Q3."), ("code", code), ("md", "Q5."), ("code", "print('next')")],
                   timeout=3, submission_timeout=20)
    assert [u.status for u in evidence.units] == ["timeout", "ok"]
    assert "next" in printed(evidence)
    assert leftovers() == []


HIDE_ERROR = """import _grader_probe
_grader_probe.emit("unit", n=0, status="ok")
raise ValueError("hidden?")
"""


def test_a_forged_outcome_cannot_hide_an_exception(tmp_path, rubric):
    evidence = run(tmp_path, rubric, [("md", "Q3."), ("code", HIDE_ERROR)])
    [unit] = evidence.units
    assert unit.status == "error" and "hidden?" in unit.error
    assert evidence.rejected


def test_the_model_solution_sends_nothing_the_kernel_contradicts(tmp_path, rubric):
    for engine in ENGINES:
        result = grade_path(EXAMPLES / "model_solution.ipynb", rubric, engine=engine)
        assert result.score == 100
        assert Review.EVIDENCE_REJECTED not in {flag.reason for flag in result.review}


CONNECTIONS = """import os, socket
opened = []
try:
    for _ in range(2000):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.connect(os.environ["GRADER_PROBE_SOCKET"])
        opened.append(s)
except OSError as exc:
    print("stopped:", exc.strerror)
print("opened", len(opened))
"""


def test_a_flood_of_connections_costs_the_grader_a_bounded_number_of_files(tmp_path, rubric):
    evidence = run(tmp_path, rubric, [("md", "Q3."), ("code", CONNECTIONS), ("md", "Q5."), ("code", "print('still observed')")])
    assert "still observed" in printed(evidence)
    assert any("connections" in reason for reason in evidence.rejected)
    assert len(os.listdir("/proc/self/fd")) < 200  # the grader's own descriptors, back to normal


@pytest.mark.parametrize("engine", ENGINES)
def test_a_sandbox_that_cannot_be_built_runs_nothing(tmp_path, rubric, engine):
    """Fail closed: a workspace too small for the copy means no run at all, not a run outside
    the protections."""
    path = write_notebook(tmp_path / "big.ipynb", [("md", "Q3."), ("code", "print('ran')\n# " + "x" * 20000)])
    evidence = read_evidence(execute(load("big", path), attribute(load("big", path), asked(rubric)),
                                     Limits(timeout=5, disk=4096), QUESTIONS, (), engine))
    assert not evidence.writes
    assert [u.status for u in evidence.units] == ["not run"]
    if engine == "shell":
        assert "sandbox could not be built" in evidence.units[0].error


def test_a_folder_too_big_for_the_workspace_is_refused_with_its_reason(tmp_path, rubric):
    folder = tmp_path / "student"
    folder.mkdir()
    write_notebook(folder / "assignment.ipynb", [("md", "Q3."), ("code", "print(1)")])
    for number in range(60):
        (folder / f"data{number}.txt").write_text("x")
    result = grade_path(folder, rubric, files=50)
    assert result.status == "error" and "more than a run may have (50 files" in result.error


# --- the red team's second round ------------------------------------------------------------

KEYRING = """import ctypes, json, os
libc = ctypes.CDLL(None, use_errno=True)
found = {}
found["unshare"] = os.strerror(ctypes.get_errno()) if libc.unshare(0x10000000) else "allowed"  # a user namespace
found["cgroups"] = sorted(os.listdir("/sys/fs/cgroup"))
for name, number in (("keyctl", {"x86_64": 250, "aarch64": 219}), ("ptrace", {"x86_64": 101, "aarch64": 117})):
    result = libc.syscall(number[os.uname().machine], 0, -4, 0, 0)
    found[name] = os.strerror(ctypes.get_errno()) if result < 0 else "allowed"
print(json.dumps(found))
"""


@pytest.mark.parametrize("engine", ENGINES)
def test_keyrings_and_tracing_are_refused(tmp_path, rubric, engine):
    found = report(run(tmp_path, rubric, [("md", "Q3."), ("code", KEYRING)], engine))
    assert found == {"keyctl": "Operation not permitted", "ptrace": "Operation not permitted",
                     "unshare": "Operation not permitted", "cgroups": []}


@pytest.mark.slow
def test_a_forged_start_or_a_silenced_runner_does_not_stop_the_clock(tmp_path, rubric):
    code = ("import _grader_probe, _grader_runner, time\n_grader_probe.emit('start', n=10**6)\n"
            "_grader_runner._watchdog.arm(None)\n_grader_runner._watchdog.arm = lambda seconds: None\n"
            "_grader_probe._sock = None\ntime.sleep(60)\n")
    # kept from outside: else the unit would run on to the process's wall limit, and the next not at all
    evidence = run(tmp_path, rubric, [("md", "Q3."), ("code", code), ("md", "Q5."), ("code", "print('next')")],
                   timeout=3, submission_timeout=20)
    assert [u.status for u in evidence.units] == ["timeout", "ok"]
    assert "next" in printed(evidence)  # in a fresh process: the silenced one was killed


HIDE_SHELL = """import _grader_probe
real = _grader_probe.emit
_grader_probe.emit = lambda kind, **f: real(kind, **({**f, "status": "ok", "error": None} if kind == "unit" else f))
raise ValueError("hidden?")
"""
HIDE_KERNEL = """get_ipython()._showtraceback = lambda *args, **kwargs: None
raise ValueError("hidden?")
"""


@pytest.mark.parametrize("engine", ENGINES)
def test_a_patched_reporter_or_a_silenced_traceback_hides_no_exception(tmp_path, rubric, engine):
    code = HIDE_SHELL if engine == "shell" else HIDE_KERNEL
    [unit] = run(tmp_path, rubric, [("md", "Q3."), ("code", code)], engine).units
    assert unit.status == "error" and "hidden?" in unit.error


HIDE_CRASH = """import multiprocessing, _grader_probe

def fail(n):
    raise SystemExit(3)

if __name__ == "__main__":
    workers = [multiprocessing.Process(target=fail, args=(n,)) for n in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
        _grader_probe.emit("reaped", child=w.pid, code=0)
"""


def test_a_parent_cannot_say_its_crashed_children_exited_cleanly(tmp_path, rubric):
    evidence = run(tmp_path, rubric, [("md", "Q6."), ("code", HIDE_CRASH)])
    children = [p for p in evidence.processes.values() if p.name and p.name.startswith("Process")]
    assert len(children) == 4 and all(p.exit_code == 3 for p in children)


FAKE_FORKSERVER = """import multiprocessing, os, _grader_probe

def work():
    _grader_probe._hello("forkserver")  # claim to be a forkserver, so a child's claims widen
    if os.fork() == 0:
        _grader_probe.emit("mp", name="Process-2", mp_parent=4242)
        print("Worker process ID: 4242")
        os._exit(0)
    os.wait()

if __name__ == "__main__":
    p = multiprocessing.Process(target=work)
    p.start()
    p.join()
"""


def test_how_a_process_started_is_the_kernels_word_not_its_own(tmp_path, rubric):
    evidence = run(tmp_path, rubric, [("md", "Q3."), ("code", FAKE_FORKSERVER)])
    assert {p.how for p in evidence.processes.values()} <= {"root", "fork"}
    assert all(p.creator is None for p in evidence.processes.values())


def test_nothing_outside_the_system_directories_is_visible(tmp_path, rubric):
    code = "import json, os\nprint(json.dumps({d: sorted(os.listdir('/' + d))[:5] for d in os.listdir('/') if os.path.isdir('/' + d)}))"
    found = report(run(tmp_path, rubric, [("md", "Q3."), ("code", code)]))
    kept = kept_paths()
    for folder, entries in found.items():
        if folder in ("bin", "dev", "etc", "lib", "lib32", "lib64", "libx32", "proc", "sbin", "sys", "usr", "tmp"):
            continue
        for entry in entries:  # an empty cover, but for the way to what Python needs
            assert any(Path("/", folder, entry) == p or Path("/", folder, entry) in p.parents for p in kept), (folder, entry)


def test_the_kernels_socket_directory_is_sealed_before_student_code(tmp_path, rubric):
    code = ("import glob, json, os\nfolder = os.path.dirname(os.path.dirname(os.environ['GRADER_PROBE_SOCKET'])) + '/kernel'\n"
            "try:\n    open(folder + '/filler', 'w').write('x')\n    found = 'written'\nexcept OSError as exc:\n"
            "    found = exc.strerror\nprint(json.dumps({'kernel_dir': found}))")
    found = report(run(tmp_path, rubric, [("md", "Q3."), ("code", code)], EngineKind.KERNEL))
    assert found["kernel_dir"] != "written" or os.geteuid() != 0  # sealed as root; a user namespace cannot


REPORT_INJECTION = """import multiprocessing

def work():
    print("\\x1b[2J\\x1b]52;c;cm0gLXJmIH4K\\x07 cleared?\\r\\u202eevil")
    raise ValueError("\\x1b[31mred\\x1b[0m\\nStudent: fake row")

if __name__ == "__main__":
    p = multiprocessing.Process(target=work, name="\\x1b[31mname\\x1b[0m\\u202e")
    p.start()
    p.join()
    raise RuntimeError("\\x1b]0;title\\x07 and \\x9b31m")
"""


def test_control_characters_a_student_printed_reach_no_report(tmp_path, rubric):
    from grader.cli import main

    path = write_notebook(tmp_path / "inject.ipynb", [("md", "Q3."), ("code", REPORT_INJECTION)])
    out = tmp_path / "out"
    assert main(["grade", str(path), "--out", str(out), "--timeout", "5"]) == 0
    files = [p for p in out.rglob("*") if p.is_file() and p.suffix in (".md", ".html", ".csv", ".json")]
    assert len(files) >= 4
    for file in files:
        text = file.read_text(encoding="utf-8")
        assert not [c for c in text if c in "\x1b\x07\x9b\u202e\r"], file.name



KERNEL_FLOOD = """k = get_ipython().kernel
for _ in range(3):  # past the probe: straight onto the kernel's output channel
    k.session.send(k.iopub_socket, "stream", {"name": "stdout", "text": "x" * (100 << 20)}, parent=k.get_parent())
print("flooded")
"""

GRADE_AND_MEASURE = """import sys
from pathlib import Path
from grader.grading.rubric import DEFAULT_RUBRIC
from grader.grading.rubric import load_rubric
from grader.run.limits import Limits
from grader.grading.pipeline import grade
from grader.run.engine import EngineKind
result = grade("flood", Path(sys.argv[1]), load_rubric(DEFAULT_RUBRIC), Limits(timeout=20), engine=EngineKind.KERNEL)
# the peak of this process's own memory: ru_maxrss would also count the test process it forked from
peak = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(result.status, peak // 1024)
"""


@pytest.mark.slow
def test_a_kernel_flooding_its_output_channel_costs_the_grader_bounded_memory(tmp_path):
    import subprocess
    import sys

    path = write_notebook(tmp_path / "flood.ipynb", [("md", "Q3."), ("code", KERNEL_FLOOD)])
    done = subprocess.run([sys.executable, "-c", GRADE_AND_MEASURE, str(path)], capture_output=True, text=True,
                          timeout=120, cwd=Path(__file__).parent.parent)
    status, peak_mib = done.stdout.split()[-2:]
    assert status == "graded"
    assert int(peak_mib) < 250, peak_mib  # three 100 MiB messages would be 300 MiB and more


FORGE_ALL_OUTCOMES = """import json, time, _grader_probe, _grader_runner
for n in range(3):  # every unit "done" at once, the watchdog off, the runner's own reports broken
    if n:
        _grader_probe.emit("start", n=n)
    _grader_probe.emit("unit", n=n, status="ok")
_grader_runner._watchdog.arm(None)
_grader_runner._watchdog.arm = lambda seconds: None
json.JSONEncoder = None
time.sleep(60)
"""


def test_outcomes_forged_for_every_unit_end_the_run_instead_of_freeing_it(tmp_path, rubric):
    """Once every unit has an outcome the runner gets only a grace period (the rule itself:
    test_protocols.py::test_outcomes_forged_for_every_unit_leave_the_runner_only_a_grace_period)."""
    evidence = run(tmp_path, rubric, [("md", "Q3."), ("code", FORGE_ALL_OUTCOMES), ("md", "Q5."), ("code", "pass"),
                                      ("md", "Q6."), ("code", "pass")], timeout=5)
    assert len(evidence.units) == 3
    assert leftovers() == []  # its sleeping process was killed with the run


VICTIM = "SECRET = '" + "Q" * 1000 + "'\nimport time\ntime.sleep(1.5)\n"  # a run of 1,000 Q
ATTACKER = """import re, time
time.sleep(0.3)
wanted, found = re.compile(rb"Q{1000}"), False  # no run of 1,000 Q of its own in memory
with open("/proc/self/maps") as maps, open("/proc/self/mem", "rb", 0) as memory:
    for line in maps:
        start, end = (int(x, 16) for x in line.split()[0].split("-"))
        if "r" not in line.split()[1] or end - start > 1 << 28:
            continue
        try:
            memory.seek(start)
            found = found or wanted.search(memory.read(end - start)) is not None
        except (OSError, ValueError, OverflowError):
            pass
print("found" if found else "clean")
"""


@pytest.mark.slow
def test_a_run_finds_no_other_students_code_in_the_memory_it_inherited(tmp_path, rubric):
    for _ in range(3):  # side by side, through the same zygote: the victim's request first
        results = side_by_side(tmp_path, rubric, {"victim": VICTIM, "attacker": ATTACKER}, stagger=0.2, timeout=10)
        assert "clean" in printed(results["attacker"])


@pytest.mark.slow
def test_a_kernel_reply_too_big_to_receive_ends_the_run_not_the_batch(tmp_path, rubric):
    evidence = run(tmp_path, rubric, [("md", "Q3."), ("code", 'raise ValueError("m" * (40 << 20))'),
                                      ("md", "Q5."), ("code", "print('after')")], EngineKind.KERNEL, timeout=5,
                   submission_timeout=60)
    assert "submission's time limit" not in (evidence.units[-1].error or "")  # the run ended, not waited out
    assert evidence.units[0].status != "ok"
    assert all(len(u.error or "") <= 4000 for u in evidence.units)
