"""Fixtures; the helpers the tests share are in tests/helpers.py."""

from __future__ import annotations

import pytest

from grader.cli import DEFAULT_RUBRIC
from grader.rubric import Rubric, load_rubric


@pytest.fixture(scope="session")
def rubric() -> Rubric:
    return load_rubric(DEFAULT_RUBRIC)
