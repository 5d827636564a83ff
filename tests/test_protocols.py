"""The grader's protocols, each on its own and without a student's run: the collector's rules
for the probe's records, reading evidence from typed records, the runner's watch and the
driver both engines share, and the zygote's replies. Each rule here is one a student who has
read the source would try to bend; the end-to-end attacks are in test_attacks.py."""

from __future__ import annotations

import io
import json
import socket
import subprocess
from types import SimpleNamespace

import pytest

from grader.evidence.read import read_evidence
from grader.probe._grader_wire import KIND, Kind, UnitStatus
from grader.run import zygote as zygote_module
from grader.run.collector import Collector
from grader.run.engine import Budget, End, Pass, drive
from grader.run.limits import Limits
from grader.run.records import (
    Became,
    Exited,
    Hello,
    How,
    MpRole,
    Named,
    Observation,
    ProcessKey,
    Reaped,
    Started,
    Stream,
    TaskDone,
    UnitReport,
    Written,
)
from grader.run.runner import GRACE, STARTUP, watch_limit
from grader.run.units import Unit, UnitOutcome

# --- the collector: what it accepts of the probe's records -----------------------------------


@pytest.fixture
def collector(tmp_path):
    sleepers = [subprocess.Popen(["sleep", "60"]) for _ in range(2)]  # live PIDs for /proc to describe
    collector = Collector(tmp_path, frozenset({"q3", "q5"}), output_limit=100, output_total=1000)
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    collector.new_start()

    def send(pid: int, kind: Kind | str, **fields: object) -> None:
        with collector.changed:
            collector._handle(pid, {KIND: kind, **fields}, ours)

    collector.send = send  # type: ignore[attr-defined]
    collector.root_pid, collector.child_pid = sleepers[0].pid, sleepers[1].pid  # type: ignore[attr-defined]
    yield collector
    collector.close()
    ours.close()
    theirs.close()
    for sleeper in sleepers:
        sleeper.kill()
        sleeper.wait()


def test_the_first_hello_is_the_root_and_only_it_reports_units(collector):
    root, child = collector.root_pid, collector.child_pid
    collector.send(root, Kind.HELLO, how="fork", q=None)
    collector.send(child, Kind.HELLO, how="root", q="q3")  # a claim: the kernel's word decides
    hellos = [r for r in collector.records if isinstance(r, Hello)]
    assert [h.how for h in hellos] == [How.ROOT, How.EXEC]  # `sleep` has its own command line
    collector.send(child, Kind.START, n=0)
    collector.send(child, Kind.UNIT, n=0, status="ok")
    assert collector.units == {} and collector.started is None
    assert "a 'start' record from a process other than the run's main process" in collector.rejected


def test_units_start_in_order_and_each_reports_once_the_worse_report_counting(collector):
    root = collector.root_pid
    collector.send(root, Kind.HELLO, how="root")
    collector.send(root, Kind.START, n=1)  # out of order: no start can move the clock
    assert collector.started is None
    collector.send(root, Kind.START, n=0)
    collector.send(root, Kind.UNIT, n=0, status="fine")  # not a status the runner reports
    collector.send(root, Kind.UNIT, n=0, status="not run")  # the grader's word, never the runner's
    assert collector.units == {}
    collector.send(root, Kind.UNIT, n=0, status="error", error="ZeroDivisionError")
    collector.send(root, Kind.UNIT, n=0, status="ok")  # a second report: forged
    assert collector.units[0].status is UnitStatus.ERROR
    collector.send(root, Kind.UNIT, n=5, status="ok")  # not running
    assert set(collector.units) == {0} and collector.next_unit == 1
    assert {"a unit started out of order", "a unit record with an unknown status",
            "two outcomes reported for one unit; the worse one counts",
            "an outcome for a unit that is not running"} <= set(collector.rejected)


def test_records_from_strangers_or_of_no_kind_are_dropped_and_named(collector):
    root, child = collector.root_pid, collector.child_pid
    collector.send(child, Kind.WRITE, stream="stdout", text="hi", q="q3")  # never said hello
    collector.send(root, Kind.HELLO, how="root")
    collector.send(root, "teleport")
    collector.send(root, Kind.TASK, values=["1"], inputs=["1"], q="q5")  # the main process computes no pool task
    collector.send(root, Kind.CHILD, child=-4, name="Process-1", q="q3")
    collector.send(root, Kind.WRITE, stream="stdin", text="x", q="q3")
    assert not [r for r in collector.records if not isinstance(r, Hello)]
    assert collector.rejected == [
        "a 'write' record from a process that never said hello", "a record of unknown kind 'teleport'",
        "a 'task' record from the run's main process", "a 'child' record without a valid PID",
        "a malformed write record"]


def test_writes_of_one_process_join_into_one_record_and_stop_at_the_output_limit(collector):
    root = collector.root_pid
    collector.send(root, Kind.HELLO, how="root")
    for _ in range(30):
        collector.send(root, Kind.WRITE, stream="stdout", text="0123456789", q="q3", thread=True)
    collector.send(root, Kind.WRITE, stream="stdout", text="Q5 text", q="q5", thread=True)
    writes = [r for r in collector.records if isinstance(r, Written)]
    assert [(w.question, len(w.text)) for w in writes] == [("q3", 100), ("q5", 7)]  # 100: the per-question limit
    assert sum(1 for r in collector.records if type(r).__name__ == "Cut") == 1


def test_a_question_the_rubric_does_not_have_is_no_question(collector):
    root = collector.root_pid
    collector.send(root, Kind.HELLO, how="root", q="q99")
    collector.send(root, Kind.WRITE, stream="stdout", text="x", q="q99")
    assert [r.question for r in collector.records if isinstance(r, (Hello, Written))] == [None, None]


# --- evidence: what the records prove -------------------------------------------------------

ROOT, CHILD, OTHER = ProcessKey(1, 10), ProcessKey(1, 11), ProcessKey(1, 12)


def _observe(*records) -> Observation:
    base = (Hello(ROOT, How.ROOT, None, None, 1), Hello(CHILD, How.FORK, "q3", ROOT, 10),
            Hello(OTHER, How.FORK, "q3", ROOT, 10))
    return Observation((*base, *records), (UnitOutcome("q3", "cell 1", UnitStatus.OK),))


def test_a_child_belongs_to_the_question_its_parent_started_it_in_and_takes_its_name():
    evidence = read_evidence(_observe(Started(ROOT, CHILD, "Process-1", "q5"),
                                      Written(CHILD, Stream.STDOUT, None, True, ["hello\n"])))
    child = evidence.processes[CHILD]
    assert (child.question, child.name, child.stdout) == ("q5", "Process-1", "hello\n")
    assert [(w.question, w.text) for w in evidence.writes] == [("q5", "hello\n")]
    assert evidence.roots == frozenset({ROOT}) and evidence.rejected == ()


def test_a_process_cannot_speak_for_a_child_it_did_not_start():
    evidence = read_evidence(_observe(Started(OTHER, CHILD, "Process-9", "q5"), Reaped(OTHER, CHILD, 0),
                                      Exited(CHILD, 1)))
    child = evidence.processes[CHILD]
    assert (child.question, child.name, child.exit_code) == ("q3", None, 1)
    assert evidence.rejected == ("claimed to be the parent of a process it did not start",)


def test_the_parents_word_on_an_exit_wins_unless_it_hides_a_crash():
    killed = read_evidence(_observe(Reaped(ROOT, CHILD, -9), Exited(CHILD, 0)))
    assert killed.processes[CHILD].exit_code == -9  # the parent also knows deaths by signal
    hidden = read_evidence(_observe(Reaped(ROOT, CHILD, 0), Exited(CHILD, 3)))
    assert hidden.processes[CHILD].exit_code == 3
    assert hidden.rejected == ("a parent said a child that failed exited cleanly",)


def test_a_forkserver_child_is_its_requesters_and_pool_roles_come_from_records():
    server, worker = ProcessKey(1, 20), ProcessKey(1, 21)
    evidence = read_evidence(_observe(
        Hello(server, How.FORKSERVER, None, ROOT, 10), Hello(worker, How.FORK, None, server, 20),
        Started(ROOT, worker, "ForkServerPoolWorker-1", "q5"), Named(worker, "ForkServerPoolWorker-1", 10),
        Became(worker, MpRole.POOL_WORKER), TaskDone(worker, None, ("1", "4"), ("1", "2"))))
    process = evidence.processes[worker]
    assert (process.creator, process.parent_pid, process.pool_worker, process.question) == (10, 10, True, "q5")
    assert evidence.processes[server].is_helper
    assert [(t.question, t.values) for t in evidence.tasks] == [("q5", ("1", "4"))]


def test_pids_compare_only_within_one_start_of_the_root():
    again = ProcessKey(2, 10)  # the same PID after a restart: another process
    evidence = read_evidence(Observation((Hello(ROOT, How.ROOT, None, None, 1), Hello(again, How.ROOT, None, None, 1),
                                          Hello(ProcessKey(2, 11), How.FORK, "q5", again, 10)), ()))
    assert evidence.roots == frozenset({ROOT, again})
    assert evidence.for_question("q5").children[0].key == ProcessKey(2, 11)
    assert str(again) == "2/10"


# --- the runner's watch and the driver ------------------------------------------------------


def _state(**fields):
    return SimpleNamespace(**{"started": None, "units": {}, "next_unit": 0, "settled_at": 100.0, **fields})


UNITS = [Unit("q3", "cell 1"), Unit("q3", "cell 2"), Unit("q5", "cell 3")]


def test_a_unit_is_timed_from_its_start_against_what_its_question_has_left():
    budget = Budget(Limits(timeout=10))
    state = _state(started=(1, 200.0), units={0: UnitReport(UnitStatus.OK, None, 4.0)}, next_unit=1)
    assert watch_limit(state, UNITS, budget, finish=1e9) == (1, 200.0 + 6.0 + GRACE)  # 10 s less the 4 spent


def test_a_runner_that_never_says_start_is_timed_anyway():
    budget = Budget(Limits(timeout=10))
    assert watch_limit(_state(), UNITS, budget, finish=1e9) == (0, 100.0 + STARTUP + 10 + GRACE)
    silent = _state(units={0: UnitReport(UnitStatus.OK, None, 1.0)}, next_unit=1, settled_at=150.0)
    assert watch_limit(silent, UNITS, budget, finish=1e9) == (1, 150.0 + 9.0 + GRACE)


def test_outcomes_forged_for_every_unit_leave_the_runner_only_a_grace_period():
    forged = {n: UnitReport(UnitStatus.OK, None, 0.0) for n in range(3)}
    state = _state(units=forged, next_unit=3, settled_at=300.0)
    assert watch_limit(state, UNITS, Budget(Limits(timeout=10)), finish=1e9) == (3, 300.0 + GRACE)
    assert watch_limit(state, UNITS, Budget(Limits(timeout=10)), finish=301.0) == (3, 301.0)  # the wall comes first


class _Script:
    """An engine whose passes are given: each finishes `n` units with `status`, then ends so."""

    def __init__(self, *passes: tuple[int, UnitStatus, End, str]) -> None:
        self.passes, self.seen = list(passes), []

    def one_pass(self, units, done, budget):
        n, status, end, reason = self.passes.pop(0)
        self.seen.append((len(done), len(units)))
        return Pass([UnitOutcome(u.question, u.label, status) for u in units[:n]], end, reason)


def test_the_driver_restarts_for_the_rest_marks_a_death_and_stops_when_told():
    units = [Unit("q3", f"cell {n}") for n in range(5)]
    engine = _Script((1, UnitStatus.TIMEOUT, End.RESTART, ""), (1, UnitStatus.OK, End.DIED, "killed"),
                     (0, UnitStatus.OK, End.STOPPED, "the sandbox could not be built"))
    outcomes = drive(engine, units, Limits())
    assert [o.status for o in outcomes] == [UnitStatus.TIMEOUT, UnitStatus.OK, UnitStatus.DIED,
                                            UnitStatus.NOT_RUN, UnitStatus.NOT_RUN]
    assert outcomes[2].error == "killed" and outcomes[4].error == "the sandbox could not be built"
    assert engine.seen == [(0, 5), (1, 4), (3, 2)]  # each pass gets the units after those done


def test_a_pass_that_finishes_nothing_is_not_started_again_and_again():
    units = [Unit("q3", "cell 1"), Unit("q3", "cell 2")]
    engine = _Script((0, UnitStatus.OK, End.RESTART, ""))  # a second pass would find the script empty
    outcomes = drive(engine, units, Limits())
    assert [(o.status, o.error) for o in outcomes] == [(UnitStatus.NOT_RUN, "its process ended before it")] * 2
    assert drive(_Script((2, UnitStatus.OK, End.DONE, "")), units, Limits())[1].status is UnitStatus.OK


def test_a_budget_is_per_question_and_a_timeout_uses_it_up():
    budget = Budget(Limits(timeout=10, submission_timeout=50))
    budget.charge("q3", 4.0)
    budget.charge("q5", 1.0, timed_out=True)
    assert (budget.seconds_for("q3"), budget.seconds_for("q5"), budget.seconds_for("q6")) == (6.0, 0.0, 10.0)
    assert budget.per_question() == {"q3": 6.0, "q5": 0.0}
    assert 0 < budget.until_deadline() <= 50 and "50 s" in budget.deadline_passed()


# --- the zygote: the grader's side of its replies -------------------------------------------


def _zygote_reading(lines: list[dict]) -> tuple[zygote_module.Zygote, dict[int, zygote_module.Run]]:
    """The grader's reader over a zygote that says `lines` and then dies."""
    fake = zygote_module.Zygote.__new__(zygote_module.Zygote)
    runs = {n: zygote_module.Run() for n in range(3)}
    fake.runs = dict(runs)
    fake.process = SimpleNamespace(stdout=io.BytesIO(b"".join(json.dumps(line).encode() + b"\n" for line in lines)))
    return fake, runs


def test_zygote_replies_start_and_end_the_runs_they_name_and_no_other():
    fake, runs = _zygote_reading([{"id": 0, "pid": 4321}, {"id": 7, "exit": 0}, {"id": 0, "exit": 3},
                                  {"id": 1, "pid": 99}])
    fake._read()
    assert (runs[0].pid, runs[0].wait()) == (4321, 3)
    assert runs[1].pid == 99 and runs[1].wait() == -9  # the zygote died before it reaped run 1
    assert runs[2].started.is_set() and runs[2].pid == 0  # never started: start() says the zygote is gone


def test_a_real_zygote_waits_for_requests_and_a_gone_one_refuses_runs(tmp_path):
    zygote = zygote_module.Zygote()
    assert zygote.alive and zygote.runs == {}
    assert zygote.process.stdin is not None
    zygote.process.stdin.close()  # the grader is done: the zygote quits
    assert zygote.process.wait(timeout=60) == 0
    with pytest.raises(OSError, match="gone"):
        zygote.start({}, {}, tmp_path)
    assert zygote.runs == {}  # nothing waits for a reply that cannot come
