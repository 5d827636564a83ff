"""Self-contained HTML: per-student feedback with the process tree the grader observed, and an
instructor's summary of the class. Readable offline: the CSS is inlined, no script, no CDN."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from grader.analysis.similarity import Pair
from grader.common.text import readable, report_name, scrub
from grader.grading.results import ProcessView, Status, SubmissionResult
from grader.grading.rubric import Rubric
from grader.load.discover import Skipped
from grader.reports import feedback_md

TEMPLATES = Path(__file__).parent / "templates"


@lru_cache(maxsize=1)
def _environment() -> Environment:
    environment = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["j2"]))
    environment.globals["css"] = Markup((TEMPLATES / "style.css").read_text(encoding="utf-8"))
    environment.globals["grade_class"] = lambda score, top: "full" if score >= top else ("part" if score > 0 else "none")
    environment.globals["tree"] = tree
    environment.globals["report_name"] = report_name
    environment.globals["by_id"] = lambda questions: {question.id: question for question in questions}
    environment.globals["review_heading"] = feedback_md.REVIEW_HEADING
    return environment


def tree(processes: tuple[ProcessView, ...]) -> Markup:
    keys = {p.key for p in processes}
    children: dict[str, list[ProcessView]] = defaultdict(list)
    roots = []
    for process in processes:
        if process.parent in keys:
            children[process.parent].append(process)
        else:
            roots.append(process)
    return Markup(_environment().get_template("tree.html.j2").render(roots=roots, children=children))


def feedback(result: SubmissionResult, assignment: str) -> str:
    return _environment().get_template("feedback.html.j2").render(result=result, assignment=assignment)


def summary(results: list[SubmissionResult], rubric: Rubric, skipped: Sequence[Skipped] = (),
            pairs: Sequence[Pair] = (), absent: Sequence[dict[str, str]] = ()) -> str:
    """`skipped`: the entries of the class directories that were not graded (`submission.Skipped`);
    `pairs`: similar submissions; `absent`: roster rows of students who handed nothing in."""
    graded = [r for r in results if r.status is Status.GRADED]
    scores = [r.score for r in graded]
    top = rubric.max_score or 1
    bins: list[dict[str, Any]] = []
    for tenth in range(10):
        low, high = top * tenth / 10, top * (tenth + 1) / 10
        count = sum(low <= s < high or (tenth == 9 and s == high) for s in scores)
        bins.append({"label": f"{low:g}–{high:g}", "count": count})
    questions = []
    failures: dict[tuple[str, str], list[str]] = defaultdict(list)
    for question in rubric.questions:
        answers = [q for r in graded for q in r.questions if q.id == question.id]
        questions.append({
            "id": question.id, "max_score": question.points,
            "pass_rate": sum(q.score >= q.max_score for q in answers) / len(answers) if answers else 0,
            "mean": statistics.mean(q.score for q in answers) if answers else 0,
        })
    for result in graded:
        for answered in result.questions:
            for outcome in answered.checks:
                if not outcome.passed:
                    failures[(answered.id, outcome.name)].append(result.student)
    common = sorted(failures.items(), key=lambda item: (-len(item[1]), item[0]))[:15]
    return _environment().get_template("summary.html.j2").render(
        assignment=rubric.assignment, max_score=rubric.max_score, graded=len(graded),
        errors=len(results) - len(graded), mean=statistics.mean(scores) if scores else 0,
        median=statistics.median(scores) if scores else 0, bins=bins,
        top=max((b["count"] for b in bins), default=0), questions=questions,
        failures=[{"question": q, "check": c, "students": s} for (q, c), s in common],
        error_list=[r for r in results if r.status is Status.ERROR],
        review_list=[r for r in graded if r.review],
        skipped=list(skipped), results=results, rubric_questions=[q.id for q in rubric.questions],
        pairs=[_pair_view(pair) for pair in pairs], absent=list(absent),
    )


def _pair_view(pair: Pair) -> dict:
    """A similar pair with each side cut into matched and unmatched pieces, each scrubbed
    (the offsets are the raw text's, so the text is cut before it is cleaned)."""
    return {"pair": pair, "sides": [[(scrub(text), matched) for text, matched in pair.pieces(side)]
                                    for side in (0, 1)]}


def write(results: list[SubmissionResult], rubric: Rubric, out: Path, skipped: Sequence[Skipped] = (),
          pairs: Sequence[Pair] = (), absent: Sequence[dict[str, str]] = (),
          students: Sequence[SubmissionResult] | None = None) -> None:
    """`feedback/<report_name>.html` per student (`grader.common.text.report_name`) of `students`
    (default: all), `summary.html`."""
    (out / "feedback").mkdir(parents=True, exist_ok=True)
    for result in results if students is None else students:
        (out / "feedback" / f"{report_name(result.student)}.html").write_text(
            readable(feedback(result, rubric.assignment)), encoding="utf-8")
    (out / "summary.html").write_text(readable(summary(results, rubric, skipped, pairs, absent)), encoding="utf-8")
