"""The short table a batch prints on the terminal.

Every cell goes through `grader.common.text.terminal`: a student's name or error cannot move the
cursor, clear the screen or add a row of its own.
"""

from __future__ import annotations

from grader.common.text import terminal
from grader.grading.results import Status, SubmissionResult
from grader.grading.rubric import Rubric


def render(results: list[SubmissionResult], rubric: Rubric) -> str:
    ids = [question.id for question in rubric.questions]
    header = ["student", *ids, "total", "review", "status"]
    rows = [header]
    for result in results:
        scores = {question.id: question.score for question in result.questions}
        rows.append([terminal(cell) for cell in [
            result.student,
            *[f"{scores[i]:g}" if i in scores else "-" for i in ids],
            f"{result.score:g}/{result.max_score:g}",
            ", ".join(dict.fromkeys(flag.reason.short for flag in result.review)) or "-",
            result.status if result.status is Status.GRADED else f"error: {result.error}",
        ]])
    widths = [max(len(row[column]) for row in rows) for column in range(len(header) - 1)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1]
        for row in rows
    )
