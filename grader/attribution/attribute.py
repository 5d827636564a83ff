"""Decide which question every cell, line and sentence of a submission belongs to.

Real students mark their questions in every way there is: `Q1.`, `Q.No-01`, `#Answer1`,
`Ans 1 :`, a bare `6.`, `**Question 1**`, `<h3>Q1</h3>`, nbgrader/otter metadata, the question
restated in a string inside a code cell, the question's text with no number at all, or
nothing, the answers simply in order. An instructor grades what the question asks wherever it
was answered, so attribution finds the questions in five passes (1 in `markers`, 2 to 4 in
`regions`, 5 and the assembly here):

1. markers: metadata, a header with a number, or a restated prompt (which wins over a number
   that disagrees with it: renumbered work), in markdown, raw cells, comments and strings;
2. regions: everything after a marker belongs to it until the next marker;
3. shape: when the regions' shapes contradict their numbers (code only under a text question,
   the last code question missing), the header numbers are shifted to fit (renumbered work);
4. order: when fewer than half of the questions are marked, cells are matched to the
   questions by order and shape (text, text, code, text, code, code);
5. claims: a code question with no code takes its neighbour's code that does what it asks
   and not what the neighbour asks (four processes written under Q5's pool, no Q6 header).

A text answer is the prose of its region with the question's own prompt removed, so copying
the question earns nothing; code found only in a raw cell, a markdown fence or a string is run
for a code question that has no other code, with a note that says so.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from difflib import SequenceMatcher

from grader.attribution.markers import (
    ANSWER_LABEL,
    TAGS,
    Line,
    Marker,
    Prompts,
    code_in_text,
    find_markers,
    lines_of_cell,
)
from grader.attribution.model import Asked, Attribution, Found, Origin, Piece
from grader.attribution.regions import fall_back_on_order, fit_shapes, split_regions
from grader.common.syntax import code_calls, source_lines
from grader.load.submission import Cell, CellKind, Submission, SubmissionKind


def attribute(submission: Submission, asked: Sequence[Asked]) -> Attribution:
    cells = submission.cells
    prompts = Prompts(asked)
    lines: list[Line] = []
    runnable: list[str | None] = []
    for cell in cells:
        cell_lines, code = lines_of_cell(cell)
        lines.extend(cell_lines)
        runnable.append(code)
    markers = find_markers(lines, cells, asked, prompts)
    regions = split_regions(lines, markers, asked)
    labels = fit_shapes(regions, asked)
    line_question: list[str | None] = [None] * len(lines)
    found: dict[str, Found] = {}
    for region, label in zip(regions, labels):
        for i in range(region.start, region.end):
            line_question[i] = label
        if label is not None and label not in found:
            found[label] = region.how if label == region.label else Found.SHAPE

    asked_ids = [q.id for q in asked]
    marked = len(set(found) & set(asked_ids))
    if marked * 2 < len(asked_ids) and Found.METADATA not in found.values():
        unasked = {i for region in regions if region.start in markers and markers[region.start][0] is None
                   for i in range(region.start, region.end)}  # under a header of a question not asked
        line_question, found = fall_back_on_order(cells, lines, line_question, found, asked, unasked)

    return _assemble(submission, asked, lines, line_question, markers, found, runnable)


def _assemble(submission: Submission, asked: Sequence[Asked], lines: list[Line],
              line_question: list[str | None], markers: dict[int, tuple[Marker | None, str]],
              found: dict[str, Found], runnable: list[str | None]) -> Attribution:
    cells = submission.cells
    prose: dict[str, list[str]] = {q.id: [] for q in asked}
    notes: dict[str, list[str]] = {q.id: [] for q in asked}
    cell_questions: list[str | None] = []
    pieces: list[Piece] = []
    names = _cell_names(submission)
    by_cell: dict[int, list[int]] = {}
    for i, line in enumerate(lines):
        by_cell.setdefault(line.cell, []).append(i)
    current: str | None = None
    for cell in cells:
        indices = by_cell.get(cell.index, [])
        code_lines = [i for i in indices if not lines[i].prose and lines[i].text.strip()]
        question = line_question[code_lines[0]] if code_lines else (line_question[indices[0]] if indices else current)
        if indices:
            current = line_question[indices[-1]]
        cell_questions.append(question)
        for i in indices:
            q = line_question[i]
            if q in prose and lines[i].prose:
                prose[q].append(markers[i][1] if i in markers else lines[i].text)
        code = runnable[cell.index]
        if code is not None:
            pieces.append(Piece(cell.index, question, code, Origin.CODE_CELL, names[cell.index]))
        if cell.kind is CellKind.CODE and code != cell.source and question in notes:
            if code is None and _typed_prose(cell):
                notes[question].append(f"{names[cell.index]} holds prose, not code: read as the text answer")
            elif code is not None:
                notes[question].append(f"{names[cell.index]} mixes sentences into its code: "
                                       "the sentences were read as text, the rest was run")

    # code only where code does not run: run it, as an instructor would try it (a script runs
    # as a whole, so this is for notebooks)
    has_code = {p.question for p in pieces}
    for ask in asked:
        if not ask.asks_code or ask.id in has_code or submission.kind is not SubmissionKind.NOTEBOOK:
            continue
        for cell in cells:
            rows = [lines[i].text for i in by_cell.get(cell.index, []) if line_question[i] == ask.id and lines[i].prose]
            found_code = code_in_text(rows) if rows else None
            if not found_code:
                continue
            origin = {CellKind.MARKDOWN: Origin.MARKDOWN, CellKind.RAW: Origin.RAW}.get(cell.kind, Origin.STRING)
            pieces.append(Piece(cell.index, ask.id, found_code, origin, names[cell.index]))
            notes[ask.id].append(f"the only code for {ask.id.upper()} was in a {origin.value} "
                                 f"({names[cell.index]}): it was run as the answer")
    pieces.sort(key=lambda piece: piece.cell)
    if submission.kind is SubmissionKind.NOTEBOOK:
        pieces = _claim_code(pieces, asked, notes, found)
        for piece in pieces:
            if piece.origin.runs_as_written:
                cell_questions[piece.cell] = piece.question

    every_prompt = [q.prompt for q in asked]  # another question's prompt pasted in is no answer either
    answers = {ask.id: strip_prompt(prose[ask.id], every_prompt) for ask in asked}
    for ask in asked:
        found.setdefault(ask.id, Found.MISSING)
    regions: tuple[tuple[int, int, str | None], ...] = ()
    script = ""
    if submission.kind is SubmissionKind.SCRIPT:
        regions = _script_regions(submission, lines, line_question)
        script = _runnable_script(submission, runnable)
    return Attribution(
        cell_questions=tuple(cell_questions), pieces=tuple(pieces), answers=answers,
        code={q.id: "\n".join(p.source for p in pieces if p.question == q.id) for q in asked}, found=found,
        notes={q: tuple(parts) for q, parts in notes.items()}, regions=regions, script=script,
    )


def _claim_code(pieces: list[Piece], asked: Sequence[Asked], notes: dict[str, list[str]],
                found: dict[str, Found]) -> list[Piece]:
    """A code question with no code of its own takes the code that does what it asks from the
    question before or after it, where that code does not do what its own question asks
    (four processes written under Q5's pool, with no Q6 header; Q5's pool under Q4's text)."""
    order = [q.id for q in asked]
    for position, q in enumerate(asked):
        if not q.asks_code or not q.calls or any(p.question == q.id for p in pieces):
            continue
        neighbours = {order[i] for i in (position - 1, position + 1) if 0 <= i < len(order)}
        for index, piece in enumerate(pieces):
            owner = next((a for a in asked if a.id == piece.question), None)
            if owner is None or owner.id not in neighbours or not code_calls(piece.source, q.calls):
                continue
            if owner.asks_code and (not owner.calls or code_calls(piece.source, owner.calls) or not any(
                    other.question == owner.id and other is not piece and code_calls(other.source, owner.calls)
                    for other in pieces)):
                continue  # the owner's only answer stays its own, however wrong
            pieces[index] = Piece(piece.cell, q.id, piece.source, piece.origin, piece.label)
            notes[q.id].append(f"{piece.label}, under {owner.id.upper()}, does what {q.id.upper()} asks:"
                               f" it was credited to {q.id.upper()}")
            if found.get(q.id, Found.MISSING) == Found.MISSING:
                found[q.id] = Found.SHAPE
    return pieces


def _typed_prose(cell: Cell) -> bool:
    return any(row.strip() and not row.lstrip().startswith(("#", "'", '"')) for row in cell.source.splitlines())


def _runnable_script(submission: Submission, runnable: list[str | None]) -> str:
    """The script as it runs: sentences typed among its code become blank lines, so the rest
    parses and keeps its line numbers."""
    rows = source_lines(submission.text)
    for cell, code in zip(submission.cells, runnable):
        if cell.kind is not CellKind.CODE or code == cell.source:
            continue
        replacement = source_lines(code or "")
        for offset in range(cell.end_line - cell.line + 1):
            rows[cell.line - 1 + offset] = replacement[offset] if offset < len(replacement) else ""
    return "\n".join(rows) + "\n"


def _cell_names(submission: Submission) -> list[str]:
    """Each cell as the student sees it: "code cell 3 (`def worker():`)" counts only code
    cells and quotes the cell's first line, so it can be found; a script's line."""
    if submission.kind is SubmissionKind.SCRIPT:
        return [f"line {cell.line}" for cell in submission.cells]
    counts: dict[str, int] = {}
    names = []
    for cell in submission.cells:
        counts[cell.kind] = counts.get(cell.kind, 0) + 1
        first = next((line.strip() for line in cell.source.splitlines() if line.strip()), "")
        shown = first if len(first) <= 40 else first[:37] + "..."
        names.append(f"{cell.kind} cell {counts[cell.kind]}" + (f" (`{shown}`)" if shown else ""))
    return names


def _script_regions(submission: Submission, lines: list[Line],
                    line_question: list[str | None]) -> tuple[tuple[int, int, str | None], ...]:
    """(first line, last line, question) spans of the script, for crediting running code."""
    total = max(len(source_lines(submission.text)), 1)
    per_line: list[str | None] = [None] * (total + 2)
    current: str | None = None
    cell_of_line = {}
    for i, line in enumerate(lines):
        cell = submission.cells[line.cell]
        cell_of_line[cell.line + line.offset] = i
    for number in range(1, total + 1):
        if number in cell_of_line:
            current = line_question[cell_of_line[number]]
        per_line[number] = current
    spans: list[tuple[int, int, str | None]] = []
    for number in range(1, total + 1):
        question = per_line[number]
        if spans and spans[-1][2] == question:
            spans[-1] = (spans[-1][0], number, question)
        else:
            spans.append((number, number, question))
    return tuple(spans)


_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


def _normal(text: str) -> str:
    return " ".join(_NOT_ALNUM.sub(" ", TAGS.sub(" ", text.lower())).split())


def strip_prompt(lines: list[str], prompts: Sequence[str]) -> str:
    """The answer without the questions: drops each sentence that repeats one of the prompts."""
    wanted = [_normal(prompt) for prompt in prompts if prompt.strip()]
    kept: list[str] = []
    for line in lines:
        if not line.strip():
            kept.append(line)
            continue
        line = ANSWER_LABEL.sub("", line)
        sentences = _SENTENCE_END.split(line)
        survivors = [s for s in sentences if not _repeats_any(_normal(s), wanted)]
        kept.append(" ".join(survivors))
    return "\n".join(kept).strip()


_SENTENCE_END = re.compile(r"(?<=[.?!:])\s+")


def _repeats_any(sentence: str, prompts: list[str]) -> bool:
    return bool(sentence) and any(_repeats(sentence, prompt) for prompt in prompts)


def _repeats(sentence: str, prompt: str) -> bool:
    if not sentence or not prompt:
        return False
    if len(sentence) >= 12 and sentence in prompt:
        return True
    if not 0.66 <= len(sentence) / len(prompt) <= 1.5:
        return False  # lengths this far apart cannot reach the ratio: no need to compare
    matcher = SequenceMatcher(None, sentence, prompt)
    # difflib's cheap upper bounds first: most sentences fail them, and ratio() is costly
    return matcher.quick_ratio() >= 0.8 and matcher.ratio() >= 0.8
