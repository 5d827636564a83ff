"""Fixtures; the helpers the tests share are in tests/helpers.py."""

from __future__ import annotations

import os

import pytest

from grader.grading.rubric import DEFAULT_RUBRIC, Rubric, load_rubric


@pytest.fixture(scope="session")
def rubric() -> Rubric:
    return load_rubric(DEFAULT_RUBRIC)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`root` tests need what only root has (every protection on, a memory cgroup): as
    another user they are skipped, saying so; CI runs the suite both ways."""
    if os.geteuid() == 0:
        return
    for item in items:
        if item.get_closest_marker("root") is not None:
            item.add_marker(pytest.mark.skip(reason="needs root (CI runs the suite as root too)"))
