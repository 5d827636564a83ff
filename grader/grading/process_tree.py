"""The processes of one question as the reports draw them: each with its parent, its role,
and what it printed or sent back, cut to a few lines."""

from __future__ import annotations

from grader.common.text import clip
from grader.evidence.model import Process, QuestionEvidence
from grader.grading.results import ProcessView, Role
from grader.run.records import ProcessKey


def process_tree(view: QuestionEvidence, output_chars: int = 600) -> tuple[ProcessView, ...]:
    """The processes of the question, each with its parent and its own output."""
    texts = view.output_by_process()
    writers = set(texts)
    parents = {_parent(c, view) for c in view.children}
    roots = [view.processes[key] for key in sorted(view.roots) if key in writers or key in parents]
    returned_by: dict[ProcessKey, list[str]] = {}
    for task in view.tasks:
        returned_by.setdefault(task.key, []).extend(task.values)
    shown = []
    for process in [*roots, *sorted(view.children, key=lambda p: p.pid)]:
        parent = None if process.key in view.roots else _parent(process, view)
        role = (Role.MAIN if process.key in view.roots else Role.POOL_WORKER if process.pool_worker
                else Role.PROCESS if process.name else Role.FORKED)
        text = texts.get(process.key, "")
        returned = returned_by.get(process.key, [])[:50]
        if returned:
            text += f"returned {', '.join(returned)}\n"
        if len(text) > output_chars:
            text = text[:output_chars] + "\n..."
        name = clip(process.name, 100) if process.name is not None else None  # a name the student chose
        shown.append(ProcessView(str(process.key), process.pid, None if parent is None else str(parent), role, name,
                                 process.exit_code, text))
    return tuple(shown)


def _parent(process: Process, view: QuestionEvidence) -> ProcessKey | None:
    """The process that started it, if the run knows it (a PID means a process within one start)."""
    key = ProcessKey(process.start, process.parent_pid)
    return key if key in view.processes else None
