"""Execute a submission under observation and return what the probe and the engines reported.

A notebook runs cell by cell (by IPython in the runner, or in a Jupyter kernel); a script
runs statement by statement (see `_grader_runner`). Either way the unit of execution is small
enough that a question that hangs or crashes is stopped on its own. Every process of the run
carries the probe, which reports over the collector's socket, never through the notebook's
output; everything happens in a scratch copy, inside the sandbox, which sees none of the
instructor's files: not the other submissions, the output, the rubric or the grader.
"""

from __future__ import annotations

import os
import shutil
import site
import sys
from pathlib import Path

import grader
from grader.attribution.model import Attribution
from grader.common.text import readable
from grader.load.submission import Submission, SubmissionError, walk
from grader.probe._grader_sandbox import copy_tree
from grader.run.engine import Engine, EngineKind, drive
from grader.run.limits import Limits, format_size
from grader.run.plan import notebook_units, script_units
from grader.run.records import Observation
from grader.run.runner import RunnerEngine
from grader.run.sandbox import PROBE_DIR, RunSandbox, passed_environment


def probe_environment(sandbox: RunSandbox) -> dict[str, str]:
    """The environment of a run's root process: the probe on the path, reporting to the
    collector, temp and home inside the run, and of the grader's own environment only what
    `passed_environment` lets through."""
    env = passed_environment()
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", os.defpath)])
    env.update(
        PYTHONPATH=str(PROBE_DIR),
        PYTHONUNBUFFERED="1",
        PYTHONDONTWRITEBYTECODE="1",
        **sandbox.environment(),
    )
    return env


def execute(submission: Submission, attribution: Attribution, limits: Limits, questions: frozenset[str],
            protect: tuple[Path, ...] = (), engine: EngineKind = EngineKind.SHELL) -> Observation:
    """Run the submission in a scratch copy, under the sandbox, and collect what its processes
    reported. `protect`: paths the run must not see (the output directory, the rubric)."""
    original = (submission.folder or submission.path).resolve().parent
    with RunSandbox(limits, questions, covered_paths((original, *protect)), kept_paths()) as sandbox:
        path = _scratch_copy(submission, sandbox.scratch, attribution.script, limits)
        env = probe_environment(sandbox)
        runs: Engine
        if submission.kind == "script":
            units = script_units(submission, attribution)
            runs = RunnerEngine(path, "statements", limits, env, sandbox, regions={str(path): attribution.regions})
        else:
            units = notebook_units(submission, attribution)
            if engine is EngineKind.KERNEL:
                from grader.run.kernel import KernelEngine  # imports nbclient: only when asked for

                runs = KernelEngine(path, limits, env, sandbox)
            else:
                runs = RunnerEngine(path, "cells", limits, env, sandbox)
        outcomes = drive(runs, units, limits)
        collector = sandbox.finish()
        rejected = tuple(collector.rejected)
        if collector.rejections > len(rejected):
            rejected += (f"{collector.rejections - len(rejected)} more records dropped",)
        return Observation(tuple(collector.records), tuple(outcomes), sandbox.limits_hit(), rejected)


def _scratch_copy(submission: Submission, scratch: Path, script: str, limits: Limits) -> Path:
    """The run works on a copy: the original can be neither changed nor deleted. A script's
    copy is the text attribution made runnable (sentences typed among the code blanked).
    A folder too big for the run's workspace is refused before anything is copied."""
    if submission.folder is not None:
        entries = list(walk(submission.folder))
        size = sum(entry.stat(follow_symlinks=False).st_size for entry in entries)
        if len(entries) >= limits.files or size >= limits.disk:
            raise SubmissionError(f"{readable(str(submission.folder))}: the folder holds {len(entries)} files of "
                                  f"{format_size(size)}, more than a run may have ({limits.files} files, "
                                  f"{format_size(limits.disk)})")
        copy_tree(str(submission.folder), str(scratch))
        path = scratch / submission.path.relative_to(submission.folder)
    else:
        path = scratch / submission.path.name
        shutil.copy2(submission.path, path)
    if submission.kind == "script" and script != submission.text:
        path.unlink()
        path.write_text(script, encoding="utf-8")
    return path


# the system itself: all a run sees of the machine (read-only), with what `kept_paths` puts back
_SYSTEM = {Path(p) for p in ("/bin", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/sbin",
                             "/sys", "/usr")}


def covered_paths(private: tuple[Path, ...]) -> list[Path]:
    """What a run must not see: every top-level directory but the system's (homes, /root,
    /tmp, /var, /run with its sockets, /opt, /srv, /work, /autograder, ...), and each
    `private` path and the folder around it wherever they are (the submissions, other
    sections, the output, earlier results, the rubric), and the grader's own install: an
    allow-list, as bubblewrap's users write one, not a list of secrets to hide."""
    package = Path(grader.__file__).resolve().parent
    paths = [Path("/", entry) for entry in sorted(os.listdir("/"))] + [package, Path.home(), Path("/sys/fs/cgroup")]
    if (package.parent / "pyproject.toml").exists():
        paths.append(package.parent)  # a checkout: the examples, the model solution
    for path in private:
        path = path.resolve()
        paths += [path, path.parent]
    covered: list[Path] = []
    for path in paths:
        if path.is_symlink() or not path.is_dir():
            continue
        path = path.resolve()
        if path != Path("/") and path not in _SYSTEM and path not in covered:
            covered.append(path)
    return covered


def kept_paths() -> list[Path]:
    """What a run needs inside what is covered: the interpreter, its packages (wherever a path
    file put them), the probe."""
    paths = [Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable).parent, PROBE_DIR,
             *(Path(p) for p in site.getsitepackages()), Path(site.getusersitepackages()),
             *(Path(p) for p in sys.path if p.endswith(("site-packages", "dist-packages")))]
    kept: list[Path] = []
    for path in paths:
        for form in (path.absolute(), path.resolve()):
            if form.is_dir() and form not in kept:
                kept.append(form)
    return kept
