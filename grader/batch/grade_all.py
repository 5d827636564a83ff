"""Grade a whole class: in parallel, with a progress bar, resumable, and safe to interrupt.

Each submission runs in its own processes, so the grader's side mostly waits: an executor
hands submissions to threads (or to a dask cluster, `executors.py`) and results come back as
they finish. A result is cached under the hash of everything it depends on (the submission's
content, the rubric, the limits, the engine, the grader's version), so a second run grades
only what changed. Ctrl-C stops the runs in progress and keeps every finished result.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from grader.batch.cache import Cache
from grader.batch.executors import Executor, LocalExecutor
from grader.batch.settings import Settings
from grader.common.text import readable, terminal
from grader.grading.results import Status, SubmissionResult
from grader.run import sandbox


@dataclass(frozen=True)
class BatchOutcome:
    results: list[SubmissionResult]  # in the order given; only those finished if interrupted
    graded: int  # graded now
    cached: int  # taken from the cache
    interrupted: bool


def grade_all(
    submissions: list[tuple[str, Path]],
    batch: Settings,
    executor: Executor | None = None,
    cache: Cache | None = None,
    on_result: Callable[[SubmissionResult, bool], None] | None = None,
) -> BatchOutcome:
    """`on_result(result, from_cache)` is called as each result arrives."""
    executor = executor or LocalExecutor(jobs=1)
    results: dict[int, SubmissionResult] = {}
    todo: list[tuple[int, str, Path]] = []
    keys: dict[int, str] = {}
    for index, (student, path) in enumerate(submissions):
        key = cache.key(path, batch) if cache else None
        hit = cache.get(key) if cache and key else None
        if hit is not None:
            results[index] = replace(hit, student=student, path=readable(str(path)))
            if on_result:
                on_result(results[index], True)
        else:
            todo.append((index, student, path))
            if key:
                keys[index] = key
    interrupted = False
    try:
        for index, result in executor.run(batch, todo):
            results[index] = result
            if cache and index in keys and _cacheable(result):
                cache.put(keys[index], result)
            if on_result:
                on_result(result, False)
    except KeyboardInterrupt:
        interrupted = True
        sandbox.abort_all()  # every run in progress is killed now, not at its time limit
        executor.cancel()
    ordered = [results[index] for index in sorted(results)]
    graded = len(results) - (len(submissions) - len(todo))
    return BatchOutcome(ordered, graded, len(submissions) - len(todo), interrupted)


def _cacheable(result: SubmissionResult) -> bool:
    """A grader fault may not happen again: do not keep its result."""
    return not result.fault


class Progress:
    """A progress bar on a terminal (done/total, ETA, errors); plain lines elsewhere."""

    def __init__(self, total: int, stream=sys.stderr) -> None:  # type: ignore[no-untyped-def]
        self.total, self.done, self.errors, self.stream = total, 0, 0, stream
        self.bar = None
        if stream.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, file=stream, unit="submission", dynamic_ncols=True)

    def __call__(self, result: SubmissionResult, from_cache: bool) -> None:
        self.done += 1
        self.errors += result.status is Status.ERROR
        if self.bar is not None:
            self.bar.set_postfix_str(f"errors={self.errors}", refresh=False)
            self.bar.update(1)
            return
        outcome = f"{result.score:g}/{result.max_score:g}" if result.status is Status.GRADED else "error"
        how = "cached" if from_cache else f"{result.seconds:.1f} s"
        print(f"[{self.done}/{self.total}] {terminal(result.student)}: {outcome} ({how})", file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
