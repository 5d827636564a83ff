"""A Canvas gradebook CSV to import, joined with the course roster.

Canvas imports `Student, ID, SIS User ID, Section, <Assignment> (<id>)` with a `Points
Possible` row first. Submissions are matched to roster rows by the Canvas user ID in the
bulk-download file name (`<name>_<userid>_<submissionid>_<original>`, `_LATE` allowed), else
by a `Submission` column of the roster, else by the student's name. Submissions matching no
row are returned (and listed by the caller), never dropped silently.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from grader.common.text import csv_row, terminal
from grader.grading.results import Status, SubmissionResult
from grader.grading.rubric import Rubric
from grader.load.discover import canvas_identity

ROSTER_COLUMNS = ("Student", "ID", "SIS User ID", "Section")
_IDENTITY = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")  # SIS Login ID: when the roster has it


class RosterError(Exception):
    """The roster cannot be used; the message names the file and what is wrong."""


def read_roster(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise RosterError(f"{path}: cannot read the roster: {exc.strerror}") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise RosterError(f"{path}: cannot read the roster: {exc}") from None
    header = set(rows[0]) if rows else set()
    missing = [column for column in ("Student", "ID") if column not in header]
    if missing:
        raise RosterError(f"{path}: the roster has no column {', '.join(missing)} (expected {', '.join(ROSTER_COLUMNS)})")
    rows = [{key: value or "" for key, value in row.items() if isinstance(key, str)} for row in rows]  # short or long rows
    return [row for row in rows if row.get("Student", "").strip() != "Points Possible"]


def _simple(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def match(results: list[SubmissionResult], roster: list[dict[str, str]]) -> tuple[dict[str, SubmissionResult], list[SubmissionResult]]:
    """Roster ID -> result, and the results that match nobody."""
    by_id = {row["ID"].strip(): row for row in roster}
    by_submission = {_simple(row.get("Submission") or ""): row for row in roster if row.get("Submission")}
    by_name = {}
    for row in roster:  # Canvas names files "lastfirst"; rosters say "First Last" or "Last, First"
        parts = re.split(r"[,\s]+", row["Student"].strip())
        by_name[_simple("".join(parts))] = row
        by_name[_simple("".join(reversed(parts)))] = row
    matched: dict[str, SubmissionResult] = {}
    unmatched: list[SubmissionResult] = []
    for result in results:
        name = Path(result.path).name
        identity = canvas_identity(name) or canvas_identity(result.student)
        found: dict[str, str] | None = (by_id.get(identity.user) if identity else None) \
            or by_submission.get(_simple(result.student)) \
            or by_name.get(_simple(identity.name if identity else result.student))
        if found is None:
            unmatched.append(result)
        else:
            matched[found["ID"].strip()] = result
    return matched, unmatched


_ASSIGNMENT_COLUMN = re.compile(r"^(?P<name>.*\S)\s*\((?P<id>\d+)\)$")


def assignment_columns(header: list[str]) -> list[str]:
    """The roster's columns that are assignments (Canvas writes `Name (id)`)."""
    return [c for c in header if _ASSIGNMENT_COLUMN.match(c.strip())]


def assignment_column(header: list[str], assignment: str, assignment_id: str) -> str:
    """The roster's own column for the assignment when its header names one: with an ID, the
    column of that ID; without, the one named like the assignment, else the only one. Otherwise
    a new column `<assignment> (<id>)`."""
    columns = [(c, _ASSIGNMENT_COLUMN.match(c.strip())) for c in assignment_columns(header)]
    if assignment_id:
        return next((c for c, found in columns if found and found.group("id") == assignment_id),
                    f"{assignment} ({assignment_id})")
    for column, found in columns:
        if found and _simple(found.group("name")) == _simple(assignment):
            return column
    return columns[0][0] if len(columns) == 1 else assignment


def write(results: list[SubmissionResult], roster: list[dict[str, str]], rubric: Rubric,
          assignment_id: str, zero_missing: bool, path: Path) -> tuple[list[SubmissionResult], list[dict[str, str]]]:
    """Write the gradebook, one row per roster student, and `canvas-unmatched.txt` beside it;
    return the results that match no roster row and the roster rows with no submission
    (left blank, or 0 with `zero_missing`)."""
    matched, unmatched = match(results, roster)
    header = list(roster[0]) if roster else []
    identity = [c for c in _IDENTITY if c in ROSTER_COLUMNS or c in header]
    column = assignment_column(header, rubric.assignment, assignment_id)
    absent = []
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(csv_row([*identity, column]))
        writer.writerow(csv_row(["Points Possible", *[""] * (len(identity) - 1), rubric.max_score]))
        for row in roster:  # a name is the student's own (Canvas lets them edit it): no formulas
            result = matched.get(row["ID"].strip())
            if result is None:
                absent.append(row)
            score = result.score if result is not None and result.status is Status.GRADED else None
            if result is None and zero_missing:
                score = 0
            writer.writerow(csv_row([row.get(c, "") for c in identity] + [score]))
    (path.parent / "canvas-unmatched.txt").write_text(
        "".join(f"{terminal(r.student)}\t{terminal(r.path)}\n" for r in unmatched), encoding="utf-8")
    return unmatched, absent
