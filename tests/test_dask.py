"""The dask executor grades the examples on a LocalCluster (loopback only) with the same
scores as the local executor."""

from __future__ import annotations

import json

import pytest

from grader.cli import main
from tests.helpers import EXAMPLES, EXPECTED

distributed = pytest.importorskip("distributed", reason="the dask extra is part of the test dependencies")


@pytest.mark.slow
def test_dask_grades_the_examples_like_the_local_executor(tmp_path):
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        out = tmp_path / "out"
        code = main(["grade", str(EXAMPLES), "--out", str(out), "--timeout", "4",
                     "--executor", "dask", "--scheduler", cluster.scheduler_address])
    assert code == 0
    entries = {e["student"]: e for e in json.loads((out / "results.json").read_text())["submissions"]}
    for student, expected in EXPECTED.items():
        assert {q["id"]: q["score"] for q in entries[student]["questions"]} == expected, student
    assert entries["invalid_file"]["status"] == "error"


def test_dask_without_a_scheduler_is_a_usage_error(tmp_path, capsys):
    assert main(["grade", str(EXAMPLES), "--out", str(tmp_path), "--executor", "dask"]) == 2
    assert "--scheduler" in capsys.readouterr().err
