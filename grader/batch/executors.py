"""Where submissions are graded: threads on this machine, or a dask.distributed cluster.

One interface, so the batch does not care: `run(batch, todo)` yields (index, result) as each
submission finishes, `cancel()` drops what has not started. Each worker grades with the same
sandbox; a cluster's workers need the grader installed and the submissions on a file system
they share with this machine.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Protocol

from grader.batch.settings import Settings
from grader.grading.pipeline import grade
from grader.grading.results import SubmissionResult

Todo = list[tuple[int, str, Path]]  # (index in the batch, student, path)


def grade_one(batch: Settings, student: str, path: Path) -> SubmissionResult:
    """The unit of work, the same wherever it runs."""
    return grade(student, path, batch.rubric, batch.limits, batch.protect, batch.engine)


class Executor(Protocol):
    def run(self, batch: Settings, todo: Todo) -> Iterator[tuple[int, SubmissionResult]]: ...

    def cancel(self) -> None: ...

    def close(self) -> None: ...


class LocalExecutor:
    """`jobs` submissions at once, each in a thread that waits on its own sandboxed run."""

    def __init__(self, jobs: int) -> None:
        self.pool = ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="grade")

    def run(self, batch: Settings, todo: Todo) -> Iterator[tuple[int, SubmissionResult]]:
        futures = {self.pool.submit(grade_one, batch, student, path): index for index, student, path in todo}
        for future in as_completed(futures):
            yield futures[future], future.result()  # grade() turns every failure into a result

    def cancel(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)

    def close(self) -> None:
        self.pool.shutdown(wait=True)


class DaskExecutor:
    """The batch on an existing dask.distributed cluster (`pip install grader[dask]`)."""

    def __init__(self, scheduler: str) -> None:
        try:
            from distributed import Client
        except ImportError:
            raise SystemExit("grader: error: --executor dask needs the dask extra: pip install 'grader[dask]'") from None
        self.client = Client(scheduler)
        self.futures: list = []

    def run(self, batch: Settings, todo: Todo) -> Iterator[tuple[int, SubmissionResult]]:
        from distributed import as_completed as dask_completed

        indexes = {}
        for index, student, path in todo:
            future = self.client.submit(grade_one, batch, student, path, pure=False, key=f"grade-{index}-{student}")
            indexes[future.key] = index
            self.futures.append(future)
        for future in dask_completed(self.futures):
            yield indexes[future.key], future.result()

    def cancel(self) -> None:
        self.client.cancel(self.futures)

    def close(self) -> None:
        self.client.close()
