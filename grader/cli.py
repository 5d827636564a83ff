"""The `grader` command: `grade` for an instructor's batch, `check` for a student's self-check,
`review` for the instructor's page, `gradescope` for one submission inside Gradescope,
`assign` for the students' kit, and `doctor`, which says which protections against student
code this machine allows.

Exit codes: 0 when the batch completed (whatever the students scored), 1 from `check` when
points were missed, 2 when the arguments or the rubric are unusable (nothing was run), 130
when Ctrl-C stopped a batch (every finished result kept).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from dataclasses import replace
from pathlib import Path

from grader.analysis import similarity
from grader.batch.cache import Cache
from grader.batch.executors import DaskExecutor, Executor, LocalExecutor
from grader.batch.grade_all import Progress, grade_all
from grader.batch.settings import Settings
from grader.common.text import readable, terminal
from grader.gradebook import publish
from grader.gradebook.publish import Missing
from grader.gradebook.store import Gradebook, GradebookError
from grader.grading.results import Status
from grader.grading.rubric import DEFAULT_RUBRIC, Rubric, RubricError, load_rubric
from grader.load.discover import find_submissions
from grader.load.submission import SubmissionError, load
from grader.reports import canvas, feedback_md, gradescope, table
from grader.run import doctor
from grader.run.engine import EngineKind
from grader.run.limits import LIMIT_NAMES, Limits, format_size, limit_value

# Gradescope's results directory; tests and other hosts point it elsewhere.
RESULTS_DIR = Path(os.environ.get("GRADER_RESULTS_DIR") or "/autograder/results")


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "doctor":
        print(doctor.report())
        return 0
    if args.command == "review":
        return _review(args)
    if args.command == "assign":
        return _assign(args)
    try:
        rubric = load_rubric(args.rubric)
    except RubricError as exc:
        print(f"grader: error: {terminal(str(exc))}", file=sys.stderr)
        if args.command == "gradescope":  # Gradescope shows the student results.json or nothing
            gradescope.write_document(gradescope.failure(f"the rubric cannot be used: {readable(str(exc))}"), args.results)
        return 2
    chosen = {name: getattr(args, name) for name in LIMIT_NAMES if getattr(args, name) is not None}
    limits = replace(rubric.limits, **chosen)
    if args.command == "grade":
        return _grade(args, rubric, limits)
    if args.command == "gradescope":
        return _gradescope(args, rubric, limits)
    return _check(args, rubric, limits)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="grader", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    grade = commands.add_parser("grade", help="grade files and directories of submissions")
    grade.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    grade.add_argument("--out", type=Path, default=Path("grading-results"), help="output directory (default: grading-results)")
    grade.add_argument("--jobs", type=_positive_int, default=os.cpu_count() or 1, help="submissions graded at once (default: one per CPU)")
    grade.add_argument("--force", action="store_true", help="grade everything again, ignoring cached results")
    grade.add_argument("--executor", choices=("local", "dask"), default="local",
                       help="where to grade: here (local) or on a dask.distributed cluster")
    grade.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="the dask scheduler, with --executor dask")
    grade.add_argument("--canvas-roster", type=Path, metavar="CSV",
                       help="a Canvas roster (Student, ID, SIS User ID, Section): also write OUT/canvas.csv")
    grade.add_argument("--canvas-assignment-id", default="", metavar="ID", help="the Canvas assignment's ID")
    grade.add_argument("--missing", choices=[m.value for m in Missing], default=Missing.BLANK.value,
                       help="canvas.csv: roster students with no submission get a blank (default) or 0")
    grade.add_argument("--gradebook", type=Path, metavar="FILE",
                       help="the SQLite gradebook of results and overrides (default: OUT/gradebook.sqlite)")
    grade.add_argument("--template", type=Path, metavar="FILE",
                       help="the notebook handed out to students: its cells are never counted as copying")
    review = commands.add_parser("review", help="review and change marks in the browser (a page on 127.0.0.1)")
    review.add_argument("out", type=Path, metavar="OUT", help="the output directory of `grader grade`")
    review.add_argument("--gradebook", type=Path, metavar="FILE", help="default: OUT/gradebook.sqlite")
    review.add_argument("--port", type=int, default=0, help="the port on 127.0.0.1 (default: any free one)")
    gradescope = commands.add_parser("gradescope", help="grade one submission into Gradescope's results.json")
    gradescope.add_argument("submission", type=Path, nargs="?", default=Path("/autograder/submission"),
                            help="the submission's file or directory (default: /autograder/submission)")
    gradescope.add_argument("--results", type=Path, default=RESULTS_DIR / "results.json",
                            help=f"where to write (default: {RESULTS_DIR / 'results.json'}; "
                                 "the directory from $GRADER_RESULTS_DIR if set)")
    check = commands.add_parser("check", help="self-check one submission; exit 0 when every check it can run passed")
    check.add_argument("file", type=Path, metavar="FILE", help="a notebook, a script, or a directory holding one")
    commands.add_parser("doctor", help="say which protections against student code work on this machine")
    assign = commands.add_parser("assign", help="build the kit students check their work with (no hidden details)")
    assign.add_argument("kit_rubric", type=Path, nargs="?", default=DEFAULT_RUBRIC, metavar="RUBRIC",
                        help="the instructor's rubric (default: the shipped one)")
    assign.add_argument("--out", type=Path, default=Path("student-kit"), help="where to write it (default: student-kit)")
    assign.add_argument("--no-template", action="store_true", help="no notebook template with the question headers")
    defaults = Limits()
    for sub in (grade, check, gradescope):
        sub.add_argument("--rubric", type=Path, default=DEFAULT_RUBRIC, help="YAML rubric (default: the shipped one)")
        sub.add_argument("--engine", type=EngineKind, choices=list(EngineKind), default=EngineKind.SHELL,
                         help="how notebooks run: IPython in a plain process (shell, fast) or a Jupyter kernel")
        limits = sub.add_argument_group("limits (default: the rubric's, else these)")
        limits.add_argument("--timeout", type=_limit("timeout"), help=f"wall seconds per question ({defaults.timeout:g})")
        limits.add_argument("--submission-timeout", type=_limit("submission_timeout"), help=f"wall seconds per submission ({defaults.submission_timeout:g})")
        limits.add_argument("--memory", type=_limit("memory"), help=f"memory per process ({format_size(defaults.memory)})")
        limits.add_argument("--memory-total", type=_limit("memory_total"), help=f"memory of all processes together ({format_size(defaults.memory_total)})")
        limits.add_argument("--processes", type=_limit("processes"), help=f"processes alive at once ({defaults.processes})")
        limits.add_argument("--output-limit", dest="output", type=_limit("output"), help=f"output kept per question ({format_size(defaults.output)})")
        limits.add_argument("--cpu-time", type=_limit("cpu_time"), help=f"CPU seconds per process ({defaults.cpu_time:g})")
        limits.add_argument("--file-size", type=_limit("file_size"), help=f"largest file written ({format_size(defaults.file_size)})")
        limits.add_argument("--disk", type=_limit("disk"), help=f"all files a run writes together ({format_size(defaults.disk)})")
        limits.add_argument("--files", type=_limit("files"), help=f"files and directories a run may create ({defaults.files})")
        limits.add_argument("--output-total", type=_limit("output_total"), help=f"output kept of all processes together ({format_size(defaults.output_total)})")
    return parser


def _limit(name: str):  # type: ignore[no-untyped-def]
    """argparse's type for limit `name`: the same values a rubric's `limits:` takes."""
    def parse(text: str) -> float | int:
        try:
            return limit_value(name, text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    return parse


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _grade(args: argparse.Namespace, rubric: Rubric, limits: Limits) -> int:
    try:
        discovery = find_submissions(args.paths, unpack_into=args.out / "unpacked")
    except SubmissionError as exc:
        print(f"grader: error: {terminal(str(exc))}", file=sys.stderr)
        return 2
    submissions = discovery.submissions
    if not submissions:
        print(f"grader: error: no .ipynb or .py submissions in {terminal(', '.join(map(str, args.paths)))}", file=sys.stderr)
        _print_skipped(discovery.skipped, sys.stderr)
        return 2
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"grader: error: {args.out}: cannot create the output directory: {exc.strerror}", file=sys.stderr)
        return 2
    if args.canvas_assignment_id and not args.canvas_roster:
        print("grader: error: --canvas-assignment-id needs --canvas-roster CSV", file=sys.stderr)
        return 2
    try:
        if args.canvas_roster:  # unusable: say so before anything runs
            roster = canvas.read_roster(args.canvas_roster)
            columns = canvas.assignment_columns(list(roster[0]) if roster else [])
            if args.canvas_assignment_id and columns and not any(f"({args.canvas_assignment_id})" in c for c in columns):
                print(f"grader: warning: {terminal(str(args.canvas_roster))} has no column for assignment "
                      f"{terminal(args.canvas_assignment_id)} (its assignments: {terminal(', '.join(columns))}); "
                      "canvas.csv gets a new column", file=sys.stderr)
        shared = _shared_text(rubric, args.template)
        book = Gradebook(args.gradebook or args.out / "gradebook.sqlite")
    except (canvas.RosterError, SubmissionError, GradebookError) as exc:
        print(f"grader: error: {terminal(str(exc))}", file=sys.stderr)
        return 2
    if args.executor == "dask":
        if not args.scheduler:
            print("grader: error: --executor dask needs --scheduler tcp://HOST:PORT", file=sys.stderr)
            return 2
        executor: Executor = DaskExecutor(args.scheduler)
    else:
        executor = LocalExecutor(args.jobs)
    batch = Settings(rubric, limits, protect=(args.out.resolve(), book.path.resolve()), engine=args.engine)
    progress = Progress(len(submissions))
    warm = threading.Thread(target=similarity.prepare, daemon=True)  # while the grader mostly waits
    warm.start()
    try:
        outcome = grade_all(submissions, batch, executor, Cache(args.out / ".cache", read=not args.force), progress)
    finally:
        progress.close()
        executor.close()
    warm.join()
    publish.record(book, outcome.results, dict(submissions), rubric, discovery.skipped,
                   similarity.find_pairs(outcome.results, shared), args.canvas_roster, args.canvas_assignment_id,
                   Missing(args.missing))
    published = publish.publish(book, args.out)
    if published.unmatched:
        print(f"grader: {len(published.unmatched)} submission(s) match no roster row, listed in "
              f"{args.out / 'canvas-unmatched.txt'}: " + ", ".join(terminal(r.student) for r in published.unmatched),
              file=sys.stderr)
    print(table.render(published.results, rubric))
    _print_skipped(discovery.skipped, sys.stdout)
    written = "results.json, grades.csv, summary.html, feedback/, gradescope/, " + (
        "canvas.csv, canvas-unmatched.txt, " if args.canvas_roster else "") + f"and the gradebook {book.path.name}"
    print(f"\n{outcome.graded} graded, {outcome.cached} from the cache (--force grades all again). "
          f"Wrote {args.out}/: {written}; marks are changed with `grader review {args.out}`")
    if outcome.interrupted:
        print(f"grader: interrupted: kept the {len(outcome.results)} finished of {len(submissions)} submissions; "
              "run the same command again to grade the rest", file=sys.stderr)
        return 130
    return 0


def _shared_text(rubric: Rubric, template: Path | None) -> tuple[str, ...]:
    """What every student was given, so never a sign of copying: the prompts, and the
    cells of the instructor's template notebook or script."""
    given = [question.prompt for question in rubric.questions]
    if template is not None:
        given.extend(cell.source for cell in load("template", template).cells)
    return tuple(given)


def _assign(args: argparse.Namespace) -> int:
    from grader.kit import assign as kit

    try:
        rubric = load_rubric(args.kit_rubric)
        written = kit.build(rubric, args.out, template=not args.no_template)
    except RubricError as exc:
        print(f"grader: error: {terminal(str(exc))}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"grader: error: {args.out}: cannot write the kit: {exc.strerror}", file=sys.stderr)
        return 2
    print(f"Wrote the student kit: {', '.join(str(p) for p in written)}")
    return 0


def _review(args: argparse.Namespace) -> int:
    path = args.gradebook or args.out / "gradebook.sqlite"
    if not path.is_file():
        print(f"grader: error: {terminal(str(path))}: no gradebook; grade first with `grader grade ... --out {terminal(str(args.out))}`",
              file=sys.stderr)
        return 2
    from grader.gradebook.review_app.app import serve

    try:
        return serve(Gradebook(path), args.out, args.port)
    except (GradebookError, RubricError, canvas.RosterError) as exc:
        print(f"grader: error: {terminal(str(exc))}", file=sys.stderr)
        return 2


def _print_skipped(skipped: list, stream) -> None:  # type: ignore[no-untyped-def]
    if skipped:
        print(f"\nSkipped {len(skipped)} entr{'y' if len(skipped) == 1 else 'ies'} (not graded):", file=stream)
        for entry in skipped:
            print(f"  {terminal(entry.path)}: {entry.reason}", file=stream)


def _gradescope(args: argparse.Namespace, rubric: Rubric, limits: Limits) -> int:
    """Gradescope's `run_autograder` calls this: always a results file, even on failure."""
    try:
        outcome = grade_all([("submission", args.submission)], Settings(rubric, limits, engine=args.engine))
        if outcome.interrupted or not outcome.results:
            raise RuntimeError("grading was interrupted")
        [result] = outcome.results
        gradescope.write(result, args.results)
    except BaseException as exc:  # a crash, Ctrl-C, SIGTERM as SystemExit: still a results file
        gradescope.write_document(gradescope.failure(f"{type(exc).__name__}: {readable(str(exc))[:2000]}"), args.results)
        print(f"grader: error: {terminal(str(exc))[:2000]}; wrote {terminal(str(args.results))}", file=sys.stderr)
        return 1
    print(f"score {result.score:g}/{result.max_score:g}; wrote {terminal(str(args.results))}")
    return 0


def _check(args: argparse.Namespace, rubric: Rubric, limits: Limits) -> int:
    if not args.file.exists():
        print(f"grader: error: {terminal(str(args.file))}: no such file or directory", file=sys.stderr)
        return 2
    name = terminal(args.file.name if args.file.is_dir() else args.file.stem)
    outcome = grade_all([(name, args.file)], Settings(rubric, limits, engine=args.engine))
    if outcome.interrupted:
        return 130
    [result] = outcome.results
    print(terminal(feedback_md.render(result, rubric.assignment), lines=True))
    full = result.status is Status.GRADED and result.score >= result.max_score - result.withheld_points
    return 0 if full else 1


if __name__ == "__main__":
    sys.exit(main())
