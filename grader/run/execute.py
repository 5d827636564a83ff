"""Execute a submission under observation and return what the probe and the engines reported.

A notebook runs cell by cell (by IPython in the runner, or in a Jupyter kernel); a script
runs statement by statement (see `_grader_runner`). Either way the unit of execution is small
enough that a question that hangs or crashes is stopped on its own. Every process of the run
carries the probe, which reports over the collector's socket, never through the notebook's
output; everything happens in a scratch copy, inside the sandbox, which sees none of the
instructor's files: not the other submissions, the output, the rubric or the grader.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from grader.attribution.model import Attribution
from grader.common.text import readable
from grader.load.submission import Submission, SubmissionError, SubmissionKind, walk
from grader.probe._grader_sandbox import copy_tree
from grader.probe._grader_wire import Mode
from grader.run.engine import Engine, EngineKind, drive
from grader.run.limits import Limits, format_size
from grader.run.plan import notebook_units, script_units
from grader.run.records import Observation
from grader.run.runner import RunnerEngine
from grader.run.sandbox import RunSandbox, covered_paths, kept_paths, probe_environment


def execute(submission: Submission, attribution: Attribution, limits: Limits, questions: frozenset[str],
            protect: tuple[Path, ...] = (), engine: EngineKind = EngineKind.SHELL) -> Observation:
    """Run the submission in a scratch copy, under the sandbox, and collect what its processes
    reported. `protect`: paths the run must not see (the output directory, the rubric)."""
    original = (submission.folder or submission.path).resolve().parent
    with RunSandbox(limits, questions, covered_paths((original, *protect)), kept_paths()) as sandbox:
        path = _scratch_copy(submission, sandbox.scratch, attribution.script, limits)
        env = probe_environment(sandbox)
        runs: Engine
        if submission.kind is SubmissionKind.SCRIPT:
            units = script_units(submission, attribution)
            runs = RunnerEngine(path, Mode.STATEMENTS, limits, env, sandbox, regions={str(path): attribution.regions})
        else:
            units = notebook_units(attribution)
            if engine is EngineKind.KERNEL:
                from grader.run.kernel import KernelEngine  # imports nbclient: only when asked for

                runs = KernelEngine(path, env, sandbox)
            else:
                runs = RunnerEngine(path, Mode.CELLS, limits, env, sandbox)
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
    if submission.kind is SubmissionKind.SCRIPT and script != submission.text:
        path.unlink()
        path.write_text(script, encoding="utf-8")
    return path
