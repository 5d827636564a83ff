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

from grader.scoring import SubmissionResult
from grader.submission import canvas_identity
from grader.text import csv_row

ROSTER_COLUMNS = ("Student", "ID", "SIS User ID", "Section")


class RosterError(Exception):
    """The roster cannot be used; the message names the file and what is wrong."""


def read_roster(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise RosterError(f"{path}: cannot read the roster: {exc}") from None
    header = set(rows[0]) if rows else set()
    missing = [column for column in ("Student", "ID") if column not in header]
    if missing:
        raise RosterError(f"{path}: the roster has no column {', '.join(missing)} (expected {', '.join(ROSTER_COLUMNS)})")
    return [row for row in rows if (row.get("Student") or "").strip() != "Points Possible"]


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
    unmatched = []
    for result in results:
        name = Path(result.path).name
        identity = canvas_identity(name) or canvas_identity(result.student)
        row = (by_id.get(identity[1]) if identity else None) or by_submission.get(_simple(result.student)) \
            or by_name.get(_simple(identity[0] if identity else result.student))
        if row is None:
            unmatched.append(result)
        else:
            matched[row["ID"].strip()] = result
    return matched, unmatched


def write(results: list[SubmissionResult], roster: list[dict[str, str]], assignment: str,
          assignment_id: str, max_score: float, path: Path) -> list[SubmissionResult]:
    """Write the gradebook; return the results that match no roster row."""
    matched, unmatched = match(results, roster)
    column = f"{assignment} ({assignment_id})" if assignment_id else assignment
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(csv_row([*ROSTER_COLUMNS, column]))
        writer.writerow(csv_row(["Points Possible", "", "", "", max_score]))
        for row in roster:  # a name is the student's own (Canvas lets them edit it): no formulas
            result = matched.get(row["ID"].strip())
            score = result.score if result is not None and result.status == "graded" else None
            writer.writerow(csv_row([row.get(c, "") for c in ROSTER_COLUMNS] + [score]))
    return unmatched
