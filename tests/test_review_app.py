"""The review page: driven in a real headless Chromium (Playwright), and its guards.

The browser test needs Debian's Chromium (/usr/bin/chromium). `.ci/run` installs it and sets
GRADER_REQUIRE_BROWSER=1, so there a missing browser fails the test instead of skipping it.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import threading
from pathlib import Path

import pytest

from grader.cli import main
from grader.common.text import report_name
from grader.gradebook.review_app.app import create_app
from grader.gradebook.store import Gradebook
from tests.helpers import EXAMPLES, write_notebook

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
HOSTILE = '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">'


def _class(tmp_path: Path) -> Path:
    """Four students: two give one Q1 answer in the same words, one answers in hostile HTML."""
    class_dir = tmp_path / "class"
    class_dir.mkdir()
    model = (EXAMPLES / "model_solution.ipynb").read_bytes()
    (class_dir / "smithjane_1001_5001_a.ipynb").write_bytes(model)
    (class_dir / "doejohn_1002_5002_a.ipynb").write_bytes(model)
    (class_dir / "roeann_1003_5003_a.ipynb").write_bytes((EXAMPLES / "made_up_pid.ipynb").read_bytes())
    write_notebook(class_dir / "evil_1004_5004_a.ipynb", [
        ("md", "## Q1. What is multiprocessing?"),
        ("md", f"Many processes run at once. {HOSTILE}"),
        ("md", "## Q3"), ("code", "import multiprocessing\nprint('no process')"),
    ])
    return class_dir


def _roster(tmp_path: Path) -> Path:
    roster = tmp_path / "roster.csv"
    roster.write_text("Student,ID,SIS User ID,SIS Login ID,Section\nJane Smith,1001,S1,js,A\n"
                      "John Doe,1002,S2,jd,A\nAnn Roe,1003,S3,ar,A\nEve Il,1004,S4,ei,A\n")
    return roster


def _grade(class_dir: Path, out: Path, roster: Path, *extra: str) -> None:
    assert main(["grade", str(class_dir), "--out", str(out), "--canvas-roster", str(roster),
                 "--timeout", "5", *extra]) == 0


@pytest.fixture
def graded(tmp_path):
    class_dir, roster, out = _class(tmp_path), _roster(tmp_path), tmp_path / "out"
    _grade(class_dir, out, roster)
    return class_dir, roster, out


@pytest.fixture
def server(graded):
    from werkzeug.serving import make_server

    _, _, out = graded
    app = create_app(Gradebook(out / "gradebook.sqlite"), out, "sesame", use_model=False)
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.port}", graded
    httpd.shutdown()
    thread.join(10)


@pytest.mark.slow
def test_review_page_in_a_real_browser_overrides_persist_through_reload_and_regrade(server, tmp_path):
    if not os.path.exists(CHROMIUM):
        if os.environ.get("GRADER_REQUIRE_BROWSER"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    base, (class_dir, roster, out) = server
    jane, evil = report_name("smithjane"), report_name("evil")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        page = browser.new_page()
        page.goto(f"{base}/?token=sesame")
        assert "smithjane" in page.inner_text("#class")
        page.click("nav.top >> text=Q3")
        answer = page.locator(f"#a-{jane}")
        answer.locator(".answer-points").fill("12")
        answer.locator('input[name="comment"]').fill("Say why the child's PID differs.")
        answer.locator("button[type=submit]").first.click()
        page.wait_for_load_state()
        assert "12 / 20" in page.locator(f"#a-{jane}").inner_text()

        page.click("nav.top >> text=Q1")  # the group holding both model answers, marked at once
        group = page.locator(".group", has=page.locator(f"#a-{jane}"))
        assert group.locator("article.answer").count() >= 2
        group.locator(".group-points").fill("7")
        group.locator('.group-form input[name="comment"]').fill("Name the GIL.")
        group.locator(".group-form button").click()
        page.wait_for_load_state()
        page.keyboard.press("j")  # keyboard: the first answer is focused
        assert page.locator("article.answer.focused").count() == 1
        assert page.evaluate("window.pwned") is None  # the hostile answer is text, not script
        assert HOSTILE.split(">")[0] in page.locator(f"#a-{evil}").inner_text()
        page.screenshot(path=os.environ.get("GRADER_SCREENSHOT") or str(tmp_path / "q1.png"), full_page=True)

        page.reload()
        assert "7 / 10" in page.locator(f"#a-{jane}").inner_text()
        assert "Name the GIL." in page.locator(f"#a-{report_name('doejohn')}").inner_text()
        browser.close()

    _grade(class_dir, out, roster, "--force")  # a re-grade from scratch keeps every override
    grades = {row["student"]: row for row in csv.DictReader((out / "grades.csv").open())}
    assert grades["smithjane"]["q3"] == "12" and grades["smithjane"]["q1"] == "7" and grades["doejohn"]["q1"] == "7"
    assert float(grades["smithjane"]["total"]) == 100 - 8 - 3
    canvas = {row["ID"]: row for row in csv.DictReader((out / "canvas.csv").open())}
    assert canvas["1001"]["Multiprocessing Assignment"] == "89"
    document = json.loads((out / "results.json").read_text())
    jane_result = next(s for s in document["submissions"] if s["student"] == "smithjane")
    assert jane_result["score"] == 89 and jane_result["auto_score"] == 100
    assert json.loads((out / "gradescope" / f"{jane}.json").read_text())["score"] == 89
    assert "Say why the child" in (out / "feedback" / f"{jane}.md").read_text()
    assert "Name the GIL." in (out / "feedback" / f"{jane}.html").read_text()
    assert "(grader: 100)" in (out / "summary.html").read_text()


def test_every_request_needs_the_token_and_a_loopback_host(graded):
    _, _, out = graded
    client = create_app(Gradebook(out / "gradebook.sqlite"), out, "sesame", use_model=False).test_client()
    assert client.get("/").status_code == 403
    assert client.get("/?token=wrong").status_code == 403
    assert client.post("/override", data={"question": "q1", "student": "smithjane", "points": "0"}).status_code == 403
    assert client.get("/?token=sesame", headers={"Host": "evil.example:80"}).status_code == 403  # DNS rebinding
    page = client.get("/question/q1?token=sesame")
    assert page.status_code == 200
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert b"<script>window.pwned" not in page.data and b"&lt;script&gt;window.pwned" in page.data
    assert client.get("/question/nope?token=sesame").status_code == 404
    for number in ("x", "nan", "inf", "-1e999", "-3", "11"):  # Q1 has 10 points: said on the page, nothing saved
        typed = client.post("/override", data={"token": "sesame", "question": "q1", "student": "smithjane",
                                               "points": number, "anchor": "a-x"})
        assert typed.status_code == 303 and "Nothing+saved" in typed.headers["Location"]
        assert b"Nothing saved: points" in client.get(typed.headers["Location"]).data
    no_check = client.post("/override", data={"token": "sesame", "question": "q1", "student": "smithjane",
                                              "check": "no such check", "points": "1"})
    assert no_check.status_code == 400
    stranger = client.post("/override", data={"token": "sesame", "question": "q1", "student": "nobody", "points": "1"})
    assert stranger.status_code == 400
    assert Gradebook(out / "gradebook.sqlite").overrides() == {}
