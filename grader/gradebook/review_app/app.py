"""`grader review OUT`: the instructor's page for reading answers and changing marks.

A Flask app on 127.0.0.1 over the gradebook. It shows the class, and one question across the
class in answer groups (`grader.analysis.groups`): each answer's text, or its code with the process tree
the grader observed, with the automatic mark and its reasons; points and a comment can be set
for one answer or a whole group at once. Every change goes to the gradebook and then
`publish.publish` writes every export again, so the files never disagree with the page.

The answers are student-written HTML and JavaScript: Jinja2 escapes them all, and a strict
Content-Security-Policy allows only this app's own script and style. The page is bound to
loopback and every request needs the token printed with the URL (compared in constant time);
the Host header must be loopback too, so that a web page elsewhere cannot reach the app
through DNS rebinding.
"""

from __future__ import annotations

import hmac
import math
import re
import secrets
import sys
import threading
from pathlib import Path

from flask import Flask, abort, redirect, render_template, request, send_file, url_for

from grader.analysis.groups import SPREADS, Group, group_question
from grader.common.text import report_name, scrub
from grader.gradebook import publish
from grader.gradebook.store import Gradebook, key, whoami
from grader.grading.results import Status, SubmissionResult
from grader.grading.rubric import Rubric
from grader.reports.html import tree

LOOPBACK = ("127.0.0.1", "localhost")


class Review:
    """What the pages show: the published results, and the groups of each question (kept
    until the next change, since grouping text may load a model)."""

    def __init__(self, book: Gradebook, out: Path, use_model: bool = True) -> None:
        self.book, self.out, self.use_model = book, out, use_model
        self.lock = threading.Lock()
        self._groups: dict[tuple[str, float], list[Group]] = {}
        self.refresh()

    def refresh(self, changed: frozenset[str] | None = None) -> None:
        """After a change to `changed` students: publish again; the groups stay, made of the
        grader's own marks."""
        published = publish.publish(self.book, self.out, changed)
        self.results: list[SubmissionResult] = [scrub(r) for r in published.results]
        self.rubric: Rubric = published.rubric
        self.absent = published.absent
        self.pairs = published.pairs
        self.by_student = {r.student: r for r in self.results}
        self.own = published.own  # before overrides: what groups are made of

    def asks_code(self, question: str) -> bool:
        return any(q.asks_code for q in self.rubric.questions if q.id == question)

    def groups(self, question: str, spread: float) -> list[Group]:
        if (question, spread) not in self._groups:
            self._groups[(question, spread)] = group_question(self.own, question, self.asks_code(question),
                                                              self.use_model, spread)
        return self._groups[(question, spread)]


def _show(text: object) -> str:
    """Student text as every report shows it: no control or bidi characters (then escaped)."""
    return scrub(str(text))


def create_app(book: Gradebook, out: Path, token: str, use_model: bool = True) -> Flask:
    app = Flask(__name__)
    author = whoami()  # the overrides are recorded as made by the user running the page
    app.config["MAX_CONTENT_LENGTH"] = 1 << 20
    app.jinja_env.autoescape = True  # every template, whatever its name: answers are student HTML
    app.jinja_env.filters["show"] = _show
    state = Review(book, out, use_model)

    @app.before_request
    def guard() -> None:
        host = (request.host or "").rsplit(":", 1)[0].strip("[]")
        if host not in LOOPBACK:
            abort(403)
        if request.endpoint in ("static", "report_css", "favicon"):
            return  # no secret in a style sheet or a script
        given = request.args.get("token") or request.form.get("token") or ""
        if not hmac.compare_digest(given.encode(), token.encode()):
            abort(403)

    @app.after_request
    def headers(response):  # type: ignore[no-untyped-def]
        response.headers["Content-Security-Policy"] = (
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"  # the token is in the URL
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.context_processor
    def helpers() -> dict:
        return {"token": token, "tree": tree, "report_name": report_name, "rubric": state.rubric,
                "show": _show,
                "by_id": lambda questions: {q.id: q for q in questions}}

    @app.get("/report.css")
    def report_css():  # type: ignore[no-untyped-def]
        """The reports' own style sheet, so the page and the feedback files look alike."""
        return send_file(Path(__file__).parents[2] / "reports" / "templates" / "style.css",
                         mimetype="text/css")

    @app.get("/favicon.ico")
    def favicon():  # type: ignore[no-untyped-def]
        return "", 204

    @app.get("/")
    def index():  # type: ignore[no-untyped-def]
        return render_template("class.html", results=state.results, absent=state.absent,
                               pairs=state.pairs, questions=state.rubric.questions)

    @app.get("/question/<question>")
    def question_page(question: str):  # type: ignore[no-untyped-def]
        asked = next((q for q in state.rubric.questions if q.id == question), None)
        if asked is None:
            abort(404)
        try:
            spread = float(request.args.get("spread", 0))
        except ValueError:
            abort(400)
        if spread not in SPREADS:
            abort(400)
        with state.lock:
            groups = state.groups(question, spread)
        answers = {r.student: next((q for q in r.questions if q.id == question), None) for r in state.results}
        at = SPREADS.index(spread)
        return render_template("question.html", asked=asked, groups=groups, answers=answers,
                               by_student=state.by_student, spread=spread, text=not state.asks_code(question),
                               error=request.args.get("error", "")[:300],
                               tighter=SPREADS[at - 1] if at > 0 else None,
                               looser=SPREADS[at + 1] if at + 1 < len(SPREADS) else None)

    @app.get("/similar")
    def similar():  # type: ignore[no-untyped-def]
        return render_template("similar.html", pairs=state.pairs)

    @app.post("/override")
    def override():  # type: ignore[no-untyped-def]
        question = request.form.get("question", "")
        students = [state.by_student[s] for s in request.form.getlist("student") if s in state.by_student]
        asked = next((q for q in state.rubric.questions if q.id == question), None)
        check = request.form.get("check") or None
        if asked is None or not students or (check is not None and check not in {c.title for c in asked.checks}):
            abort(400)
        anchor = re.sub(r"[^A-Za-z0-9_.-]", "", request.form.get("anchor", ""))[:200]
        spread = request.form.get("spread", "0")

        def back(error: str = ""):  # type: ignore[no-untyped-def]
            """To the question again, at the answer or group, with what was wrong if anything."""
            target = url_for("question_page", question=question, token=token, spread=spread, error=error or None)
            return redirect(target + (f"#{anchor}" if anchor else ""), code=303)

        top = next((c.points for c in asked.checks if c.title == check), asked.points) if check else asked.points
        points_text = request.form.get("points", "").strip()
        try:
            points = float(points_text) if points_text else None
        except ValueError:
            return back(f"Nothing saved: points {points_text[:40]!r} is not a number.")
        if points is not None and not (math.isfinite(points) and 0 <= points <= top):
            what = f"check '{check}'" if check else question.upper()
            return back(f"Nothing saved: points must be from 0 to {top:g} for {what}, not {points_text[:40]}.")
        comment = request.form.get("comment", "").strip()[:4000]
        reason = request.form.get("reason", "").strip()[:4000]
        graded = [r for r in students if r.status is Status.GRADED]  # an ungraded hand-in has no marks to change
        if not graded:
            abort(400)
        with state.lock:
            for result in graded:
                if request.form.get("clear"):
                    book.clear_override(key(result), question, check)
                elif points is not None or comment or reason:
                    book.set_override(key(result), question, check, points, comment, author, reason)
            state.refresh(frozenset(r.student for r in graded))
        return back()

    return app


def serve(book: Gradebook, out: Path, port: int = 0) -> int:
    """Serve until Ctrl-C; print the URL with its token."""
    import logging

    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a request log would print the token
    token = secrets.token_urlsafe(24)
    app = create_app(book, out, token)
    server = make_server("127.0.0.1", port, app, threaded=True)
    print(f"Review page: http://127.0.0.1:{server.port}/?token={token}\n"
          "Every change is saved to the gradebook and written to every export. Ctrl-C to stop.", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    print("Stopped.", file=sys.stderr)
    return 0

