"""What happened to a question's code, for the student: time-outs, a kernel that died, units
not run, and each limit it reached, named with its value."""

from __future__ import annotations

import signal

from grader.common.text import clip
from grader.evidence.model import Evidence, QuestionEvidence
from grader.probe._grader_wire import UnitStatus
from grader.run.limits import Limit, Limits


def run_notes(view: QuestionEvidence, evidence: Evidence, limits: Limits) -> tuple[str, ...]:
    """What happened to the question's code, naming any limit it hit: a student who made a
    fork bomb should read "process limit", not only "wrong answer"."""
    where = view.question.upper()
    notes = []
    troubled = False
    for unit in view.units:
        if unit.status is UnitStatus.TIMEOUT:
            notes.append(f"{unit.label}: time limit of {limits.timeout:g} s exceeded in {where}; "
                         "it was stopped and its processes were killed")
        elif unit.status is UnitStatus.DIED:
            notes.append(f"{unit.label}: the kernel (the process running it) died and was restarted")
        elif unit.status is UnitStatus.SKIPPED:
            notes.append(f"{unit.label}: not run, the time limit of {where} was already used up")
        elif unit.status is UnitStatus.NOT_RUN:
            notes.append(f"{unit.label}: not run: {clip(unit.error or '')}")
        troubled |= unit.status is not UnitStatus.OK
    texts = [unit.error or "" for unit in view.units] + [child.stderr[-2000:] for child in view.children]
    hits = []
    for pattern, limit in (("MemoryError", Limit.MEMORY), ("Resource temporarily unavailable", Limit.PROCESSES),
                           ("File too large", Limit.FILE_SIZE)):
        if any(pattern in text for text in texts):
            hits.append(limit)
            troubled = True
    if any(child.exit_code == -signal.SIGXCPU for child in view.children):
        hits.append(Limit.CPU_TIME)
    if any(question == view.question for question, _ in evidence.cut):
        hits.append(Limit.OUTPUT)
    if troubled or any(child.exit_code not in (0, None) for child in view.children):
        hits.extend(evidence.limits_hit)  # the cgroups cannot say which question: the troubled ones
    notes.extend(f"{hit.describe(limits)} in {where}" + ("; the rest was cut" if hit is Limit.OUTPUT else "")
                 for hit in hits)
    return tuple(dict.fromkeys(notes))
