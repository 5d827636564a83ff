"""The sandbox itself: what `grader doctor` reports, the fallback without namespaces or
cgroups, and that grader faults and re-runs never change a student's score."""

from __future__ import annotations

import os
import time

import pytest

from grader.cli import main
from grader.grading import pipeline
from grader.probe._grader_proctree import dead_children
from grader.run import doctor, sandbox
from grader.run.engine import EngineKind
from tests.helpers import EXAMPLES, Watch, grade_path, leftovers, scores, write_notebook

DAEMON = """import multiprocessing, os, time

def daemonise():
    if os.fork() == 0:
        os.setsid()  # a new session: out of the kernel's process group
        if os.fork() == 0:
            with open("/proc/self/comm", "w") as handle:
                handle.write("{marker}")
            time.sleep(600)
        os._exit(0)
    print("Worker process ID:", os.getpid())

if __name__ == "__main__":
    p = multiprocessing.Process(target=daemonise)
    p.start()
    p.join()
    time.sleep(0.5)  # long enough for the test to see the daemon
"""


def test_doctor_names_every_protection(capsys):
    assert main(["doctor"]) == 0
    report = capsys.readouterr().out
    for name in ("processes alive at once", "memory of all processes together", "no network",
                 "read-only file system", "privileges dropped", "the run's own directory writable"):
        assert name in report
    assert "[on ] the run's own directory writable" in report


@pytest.mark.root  # as root (as in CI) every protection must be on
def test_as_root_every_protection_is_on():
    off = [p for p in doctor.diagnose() if not p.active]
    assert off == []


def _dead_children_of_runs() -> list[int]:
    """This process's zombie children that a run's user ID owns."""
    base = sandbox._RUN_UIDS + (os.getpid() % 100_000) * 100
    return [pid for pid in dead_children() if base <= os.stat(f"/proc/{pid}").st_uid < base + 100]


@pytest.mark.root  # each run has a user ID of its own only as root
def test_a_long_batch_leaves_no_dead_processes_to_shrink_later_runs_process_limits(rubric):
    """A kernel run's namespace init, orphaned when its launcher is killed, comes to the grader (a
    subreaper). Left unreaped, each counted against the process limit of its user ID, which
    later runs reuse: after some 80 runs in one grader, a student's 40th process failed to start."""
    for engine in EngineKind:
        for _ in range(3):
            assert grade_path(EXAMPLES / "model_solution.ipynb", rubric, engine=engine).score == 100
    assert _dead_children_of_runs() == []


@pytest.mark.parametrize("crash", [False, True])
def test_minimal_isolation_still_grades_and_still_cleans_up(tmp_path, rubric, monkeypatch, crash):
    monkeypatch.setenv("GRADER_ISOLATION", "minimal")
    off = {p.name for p in doctor.diagnose() if not p.active}
    assert "no network" in off and "memory of all processes together" in off
    marker = f"daemon{os.getpid() % 100000}"
    notebook = (EXAMPLES / "model_solution.ipynb").read_text()
    code = DAEMON.format(marker=marker) + ("    os._exit(1)  # the run's own process dies too\n" if crash else "")
    path = write_notebook(tmp_path / "daemon.ipynb", [("md", "Q3."), ("code", code)])
    watch = Watch(marker)
    watch.start()
    result = grade_path(path, rubric)
    watch.stop()
    assert len(watch.seen) == 1  # the daemon really ran
    assert scores(result)["q3"] == (10 + 3 + 4 if crash else 20)  # a crash is not "ran cleanly"
    time.sleep(0.2)
    assert leftovers() == []
    assert scores(grade_path(EXAMPLES / "model_solution.ipynb", rubric)) == scores(
        grade_path(EXAMPLES / "dana" / "assignment.ipynb", rubric))
    assert notebook == (EXAMPLES / "model_solution.ipynb").read_text()


def test_daemonised_grandchild_is_killed_with_full_isolation(tmp_path, rubric):
    marker = f"daemon{os.getpid() % 100000}"
    path = write_notebook(tmp_path / "daemon.ipynb", [("md", "Q3."), ("code", DAEMON.format(marker=marker))])
    watch = Watch(marker)
    watch.start()
    assert scores(grade_path(path, rubric))["q3"] == 20
    watch.stop()
    assert len(watch.seen) == 1
    time.sleep(0.2)
    assert leftovers() == []


def test_a_grader_fault_is_an_error_not_a_wrong_answer(rubric, monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("the evidence directory vanished")

    monkeypatch.setattr(pipeline, "execute", broken)
    result = grade_path(EXAMPLES / "model_solution.ipynb", rubric)
    assert result.status == "error"
    assert "internal grader error" in result.error and "evidence directory vanished" in result.error
    assert result.questions == ()


def test_regrading_gives_the_same_scores(rubric):
    names = ["model_solution.ipynb", "made_up_pid.ipynb", "squares_in_parent.ipynb", "functions_with_main_block.py"]
    first = [scores(grade_path(EXAMPLES / name, rubric)) for name in names]
    second = [scores(grade_path(EXAMPLES / name, rubric)) for name in names]
    assert first == second


def test_a_dead_zygote_is_replaced_and_no_pid_0_is_ever_signalled(rubric):
    from grader.probe._grader_proctree import descendants
    from grader.run import zygote

    assert descendants(0) == [] and descendants(1) == []  # a cleanup never reaches the machine
    first = zygote.zygote()
    assert first is not None
    first.process.kill()
    first.process.wait()
    result = grade_path(EXAMPLES / "model_solution.ipynb", rubric)  # a new zygote takes over
    assert result.score == 100
    assert zygote.zygote() is not first
