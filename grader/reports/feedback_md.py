"""Per-student feedback in Markdown: what passed, what failed and why, what to do about it.

The same text is the student's self-check report on the terminal. Hidden checks show their
score and the rubric's message, never the observed details.
"""

from __future__ import annotations

import re
from pathlib import Path

from grader.common.text import readable, report_name
from grader.grading.results import Override, Status, SubmissionResult


def render(result: SubmissionResult, assignment: str) -> str:
    lines = [f"# {assignment}: feedback for {result.student}", ""]
    if result.status is Status.ERROR:
        lines += [f"**Could not be graded:** {result.error}", "",
                  f"Score: {result.score:g} / {result.max_score:g}", ""]
        return "\n".join(lines)
    later = result.withheld_points
    if later:
        lines += [(f"**Score: {result.score:g} / {result.max_score - later:g} on the checks run here**; "
                   f"{later:g} more points are in hidden checks your instructor grades after you hand in."), ""]
    else:
        lines += [f"**Score: {result.score:g} / {result.max_score:g}**", ""]
    if result.penalty:
        lines += [f"Handed in late: {result.penalty:g} points taken off by the late policy.", ""]
    elif result.late:
        lines += ["Handed in late.", ""]
    if result.review:
        lines += [f"{REVIEW_HEADING}:", ""] + [f"- {flag.detail}" for flag in result.review] + [""]
    for question in result.questions:
        lines += [f"## {question.id.upper()}: {question.score:g} / {question.max_score:g}", ""]
        lines += [f"Found by: {question.found.value}", ""]
        for override in question.overrides:
            lines += [_override_line(override, question.auto_score), ""]
        for note in question.notes:
            lines.append(f"> {note}")
        if question.notes:
            lines.append("")
        for check in question.checks:
            if check.withheld:
                lines.append(f"- [LATER] {check.name} ({check.max_score:g} points, a hidden check your instructor"
                             f" grades){': ' + check.feedback if check.feedback else ''}")
                continue
            mark = str(check.mark).upper()
            line = f"- [{mark}] {check.name} ({check.score:g}/{check.max_score:g})"
            if check.hidden:
                line += " (hidden check)"
            if check.feedback:
                line += f": {check.feedback}"
            lines.append(line)
            if check.shown_detail:
                lines.append(f"  - Observed: {check.shown_detail}")
        lines.append("")
        if question.answer:
            lines += ["What was read as your answer:", "", *[f"> {row}" for row in question.answer.splitlines()], ""]
        if question.code:
            fence = "`" * max(3, max(map(len, re.findall("`+", question.code)), default=0) + 1)
            lines += ["The code credited to this question:", "", f"{fence}python", question.code, fence, ""]
    return "\n".join(lines)


# Review flags are the instructor's, but a student reads them too (the feedback, a self-check)
REVIEW_HEADING = "Marks that rest on a guess (the instructor looks at these; a clear header per answer avoids them)"


def _override_line(override: Override, auto_score: float | None) -> str:
    """What the instructor changed, in the student's words: the mark and the comment."""
    parts = []
    if override.points is not None:
        parts.append(f"the instructor set {override.target} to {override.points:g} points"
                     + (f" (the grader gave {auto_score:g})" if auto_score is not None and override.check is None else ""))
    if override.comment:
        parts.append(f"comment: {override.comment}")
    return "**Instructor:** " + "; ".join(parts or ["reviewed"])


def write(result: SubmissionResult, assignment: str, directory: Path) -> Path:
    """`feedback/<report_name>.md`: a safe, unique, bounded name (`grader.common.text.report_name`)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{report_name(result.student)}.md"
    path.write_text(readable(render(result, assignment)), encoding="utf-8")
    return path
