"""Grade many submissions at once, `jobs` at a time.

Each submission runs in its own kernel or process, so the grader's side is mostly waiting:
threads are enough to keep `jobs` runs going. Results come back in the order given, and a
submission that fails in any way is an `error` result, never a stopped batch.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from grader.rubric import Rubric
from grader.sandbox import Limits
from grader.scoring import SubmissionResult, grade


def grade_all(
    submissions: list[tuple[str, Path]],
    rubric: Rubric,
    limits: Limits,
    jobs: int,
    on_result: Callable[[SubmissionResult, int, int], None] | None = None,
    protect: tuple[Path, ...] = (),
    engine: str = "shell",
) -> list[SubmissionResult]:
    results: list[SubmissionResult | None] = [None] * len(submissions)
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {
            pool.submit(grade, student, path, rubric, limits, protect, engine): index
            for index, (student, path) in enumerate(submissions)
        }
        done = 0
        for future in as_completed(futures):
            index = futures[future]
            results[index] = future.result()  # grade() turns every failure into a result
            done += 1
            if on_result is not None:
                on_result(results[index], done, len(submissions))
    return [result for result in results if result is not None]


def print_progress(result: SubmissionResult, done: int, total: int) -> None:
    outcome = f"{result.score:g}/{result.max_score:g}" if result.status == "graded" else "error"
    print(f"[{done}/{total}] {result.student}: {outcome} ({result.seconds:.1f} s)", file=sys.stderr)
