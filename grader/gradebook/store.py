"""The gradebook: every graded result and every instructor override, in one SQLite file.

An instructor reads the text answers and the flagged cases and changes some marks; a mark
changed in a CSV would be lost on the next run. Here a re-grade replaces the grader's own
result and keeps every override, as nbgrader's gradebook keeps manual marks. An override
remembers the hash of the submission it was made on: if the student's file has changed since,
the override still applies and is flagged stale, so the instructor looks again. Overrides are
never deleted: a new one for the same target retires the old, and the history stays.

`finalize` is the one place where overrides and the late policy meet a result; every export
is written from its output.
"""

from __future__ import annotations

import getpass
import json
import math
import sqlite3
from collections import defaultdict
from contextlib import closing
from dataclasses import asdict, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from grader.grading.results import CheckResult, Override, QuestionResult, Status, SubmissionResult
from grader.load.discover import canvas_identity

SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    student TEXT PRIMARY KEY,   -- gradebook.key(result): whose the overrides are
    digest TEXT,                -- of the submission's bytes (submission.content_digest)
    graded_at TEXT NOT NULL,
    result TEXT NOT NULL        -- the grader's own result, as JSON
);
CREATE TABLE IF NOT EXISTS overrides (
    id INTEGER PRIMARY KEY,
    student TEXT NOT NULL,
    question TEXT NOT NULL,
    check_name TEXT NOT NULL DEFAULT '',   -- '' : the whole question
    points REAL,                           -- NULL: a comment only
    comment TEXT NOT NULL DEFAULT '',      -- to the student
    reason TEXT NOT NULL DEFAULT '',       -- why, for the instructors
    author TEXT NOT NULL,
    at TEXT NOT NULL,
    digest TEXT,                           -- of the submission when the override was made
    active INTEGER NOT NULL DEFAULT 1      -- 0: replaced or cleared, kept as history
);
CREATE INDEX IF NOT EXISTS overrides_target ON overrides (student, question, check_name, active);
CREATE TABLE IF NOT EXISTS batch (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class GradebookError(Exception):
    """The gradebook cannot be used; the message names the file and what is wrong."""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def key(result: SubmissionResult) -> str:
    """Whose a result is, for its overrides: the Canvas user ID when the file name carries one
    (a display name can be taken: another file may sort first, or fake a Canvas name; two
    students may share one), else the student's name."""
    identity = canvas_identity(Path(result.path).name)
    return f"canvas:{identity.user}" if identity else result.student


def whoami() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "instructor"


class Gradebook:
    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with closing(self._connect()) as db, db:
                db.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise GradebookError(f"{path}: cannot open the gradebook: {exc}") from None

    def _connect(self) -> sqlite3.Connection:
        """A connection per operation: the review page serves requests from several threads."""
        db = sqlite3.connect(self.path, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        return db

    def store(self, graded: list[tuple[SubmissionResult, str | None]]) -> None:
        """(result, digest of its submission) pairs, in one transaction: a re-grade replaces
        the grader's own results and touches no override."""
        now = _now()
        with closing(self._connect()) as db, db:
            db.executemany("INSERT INTO results (student, digest, graded_at, result) VALUES (?, ?, ?, ?) "
                           "ON CONFLICT (student) DO UPDATE SET digest = excluded.digest, "
                           "graded_at = excluded.graded_at, result = excluded.result",
                           [(key(result), digest, now, json.dumps(asdict(result))) for result, digest in graded])

    def results(self, students: list[str]) -> list[SubmissionResult]:
        """The grader's own results of these students (`key`s), in this order (those never
        graded left out)."""
        with closing(self._connect()) as db:
            rows = dict(db.execute("SELECT student, result FROM results").fetchall())
        return [SubmissionResult.from_dict(json.loads(rows[s])) for s in students if s in rows]

    def set_override(self, student: str, question: str, check: str | None = None, points: float | None = None,
                     comment: str = "", author: str | None = None, reason: str = "") -> None:
        """New points and/or a comment for a question (or one of its checks): the latest wins."""
        if points is not None and not math.isfinite(points):
            raise ValueError(f"points must be a number, not {points}")
        with closing(self._connect()) as db, db:
            row = db.execute("SELECT digest FROM results WHERE student = ?", (student,)).fetchone()
            db.execute("UPDATE overrides SET active = 0 WHERE student = ? AND question = ? AND check_name = ?",
                       (student, question, check or ""))
            db.execute("INSERT INTO overrides (student, question, check_name, points, comment, reason, author, at, "
                       "digest) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (student, question, check or "", points, comment, reason, author or whoami(), _now(),
                        row[0] if row else None))

    def clear_override(self, student: str, question: str, check: str | None = None) -> None:
        """Back to the grader's mark; the old override stays in the history."""
        with closing(self._connect()) as db, db:
            db.execute("UPDATE overrides SET active = 0 WHERE student = ? AND question = ? AND check_name = ?",
                       (student, question, check or ""))

    def overrides(self) -> dict[str, list[Override]]:
        """Student (`key`) -> the overrides in force, oldest first; stale if the submission changed since."""
        with closing(self._connect()) as db:
            rows = db.execute(
                "SELECT o.student, o.question, o.check_name, o.points, o.comment, o.reason, o.author, o.at, "
                "o.digest IS NOT r.digest FROM overrides o LEFT JOIN results r ON r.student = o.student "
                "WHERE o.active = 1 ORDER BY o.id").fetchall()
        found: dict[str, list[Override]] = defaultdict(list)
        for student, question, check, points, comment, reason, author, at, stale in rows:
            found[student].append(Override(question, check or None, points, comment, reason, author, at, bool(stale)))
        return dict(found)

    def history(self, student: str) -> list[tuple[Override, bool]]:
        """Every override ever made for the student, with whether it is in force."""
        with closing(self._connect()) as db:
            rows = db.execute("SELECT question, check_name, points, comment, reason, author, at, active FROM overrides "
                              "WHERE student = ? ORDER BY id", (student,)).fetchall()
        return [(Override(q, c or None, p, m, r, a, t), bool(active)) for q, c, p, m, r, a, t, active in rows]

    def put(self, key: str, value: object) -> None:
        with closing(self._connect()) as db, db:
            db.execute("INSERT OR REPLACE INTO batch (key, value) VALUES (?, ?)", (key, json.dumps(value)))

    def get(self, key: str, default: Any = None) -> Any:
        """A value `put` for the batch (JSON: what `publish.record` wrote), or `default`."""
        with closing(self._connect()) as db:
            row = db.execute("SELECT value FROM batch WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default


def finalize(result: SubmissionResult, overrides: list[Override], late_penalty: float = 0.0) -> SubmissionResult:
    """The result every export shows: the instructor's overrides applied (a check's points,
    then a whole question's), and the late policy's penalty taken off the total."""
    identity = canvas_identity(Path(result.path).name)
    late = bool(identity and identity.late)
    if result.status is not Status.GRADED:
        return replace(result, late=late)
    by_question: dict[str, list[Override]] = defaultdict(list)
    for override in overrides:  # of this result's `key`
        by_question[override.question].append(override)
    questions = tuple(_apply(question, by_question.get(question.id, [])) for question in result.questions)
    total = round(sum(q.score for q in questions), 2)
    penalty = round(min(total, late_penalty * result.max_score), 2) if late else 0.0
    score = round(total - penalty, 2)
    return replace(result, questions=questions, score=score, late=late, penalty=penalty,
                   auto_score=result.score if score != result.score else None)


def _apply(question: QuestionResult, overrides: list[Override]) -> QuestionResult:
    if not overrides:
        return question
    checks = []
    for check in question.checks:
        mine = [o for o in overrides if o.check == check.name and o.points is not None]
        checks.append(_set_check(check, mine[-1].points) if mine else check)  # type: ignore[arg-type]
    score = round(sum(c.score for c in checks), 2)
    whole = [o for o in overrides if o.check is None and o.points is not None]
    if whole:
        score = round(min(max(whole[-1].points or 0.0, 0.0), question.max_score), 2)
    return replace(question, checks=tuple(checks), score=score, overrides=tuple(overrides),
                   auto_score=question.score if score != question.score else None)


def _set_check(check: CheckResult, points: float) -> CheckResult:
    score = round(min(max(points, 0.0), check.max_score), 2)
    return replace(check, score=score, passed=score >= check.max_score)
