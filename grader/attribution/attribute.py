"""Decide which question every cell, line and sentence of a submission belongs to.

Real students mark their questions in every way there is: `Q1.`, `Q.No-01`, `#Answer1`,
`Ans 1 :`, a bare `6.`, `**Question 1**`, `<h3>Q1</h3>`, nbgrader/otter metadata, the question
restated in a string inside a code cell, the question's text with no number at all, or
nothing, the answers simply in order. An instructor grades what the question asks wherever it
was answered, so this module finds the questions in five passes:

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

import ast
import enum
import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

from grader.common.syntax import calls_any, source_lines, without_magics
from grader.load.submission import Cell, Submission


class Found(str, enum.Enum):
    """How a question's answer was located: the review flags name the weak ones."""

    METADATA = "metadata"
    HEADER = "header"
    PROMPT = "prompt"
    SHAPE = "shape"  # a header number shifted to fit the answer's shape (renumbered work)
    ORDER = "order"
    MISSING = "missing"


@dataclass(frozen=True)
class Asked:
    """What attribution needs to know of a rubric question."""

    id: str
    prompt: str
    wants_code: bool
    calls: tuple[str, ...] = ()  # what its code is expected to call (from the rubric's code checks)

    @property
    def number(self) -> int | None:
        match = re.fullmatch(r"[a-z]*(\d+)", self.id, re.IGNORECASE)
        return int(match.group(1)) if match else None


class Origin(str, enum.Enum):
    """Where a piece of code was found: only a code cell's code runs in Jupyter."""

    CODE_CELL = "code cell"
    MARKDOWN = "markdown cell"
    RAW = "raw cell"
    STRING = "string"

    @property
    def runs_as_written(self) -> bool:
        return self is Origin.CODE_CELL


@dataclass(frozen=True)
class Piece:
    """Code to run for a question, in the order of the notebook."""

    cell: int
    question: str | None
    source: str
    origin: Origin
    label: str  # as the student sees it: "code cell 3", "markdown cell 2"


@dataclass(frozen=True)
class Attribution:
    cell_questions: tuple[str | None, ...]  # one per cell of the submission
    pieces: tuple[Piece, ...]  # the code to run, in order
    answers: dict[str, str]  # question -> its text answer, prompt removed
    code: dict[str, str]  # question -> the code credited to it
    found: dict[str, Found]
    notes: dict[str, tuple[str, ...]]  # question -> what attribution did that a reviewer should know
    regions: tuple[tuple[int, int, str | None], ...]  # scripts: (first line, last line, question)
    script: str = ""  # scripts: the text to run (sentences typed among the code blanked out)


# --- markers --------------------------------------------------------------------------------

_OPENING = r"^\s*(?:<[^>]{1,40}>\s*)*(?:#+\s*)?(?:[*_]{1,3}\s*)?(?:<[^>]{1,40}>\s*)*"
_LABEL = (  # "Q.No-01", "Question no. 1", "Problem 1"; "Ans 1", "#Answer1", "A1" (but "Ans: 1. ..." is a list)
    r"(?:(?:q(?:ue(?:s(?:tion)?s?)?)?|problem|exercise|part|task)\s*[.:\-]*\s*(?:no\s*\.?|number|#)?\s*[.:\-]*\s*"
    r"|(?:answer|ans|solution|sol)\s*[.\-=]*\s*(?:(?:no\s*\.?|#)\s*[.:\-=]*)?\s*|a(?=[.\-]?\d)[.\-]?)"
)
_NUMBER_END = r"(?![\w]|\.\d)"
# what ast.parse raises on text that is no Python: a syntax error, a NUL byte or a lone
# surrogate (ValueError), or nesting deeper than the parser goes (100,000 brackets)
_UNPARSABLE = (SyntaxError, ValueError, RecursionError, MemoryError)

_HEADER = re.compile(_OPENING + _LABEL + r"\(?0*(\d{1,2})\)?" + _NUMBER_END + r"\s*(?:[.):\-*_]|</[^>]{1,20}>)*\s*(.*)$",
                     re.IGNORECASE)
_BARE = re.compile(_OPENING + r"\(?0*(\d{1,2})\s*(?:[.)]|:|\s-)" + _NUMBER_END + r"\s*(?:[*_]|</[^>]{1,20}>)*\s*(.*)$")
_HEADER_PREFIX = re.compile(_OPENING + r"(?:" + _LABEL + r")?\(?\d{1,2}\)?" + _NUMBER_END + r"[\s.):\-*_]*", re.IGNORECASE)
_ANSWER_LABEL = re.compile(r"^\s*(?:[*_]{0,3})(?:answer|ans|solution|sol)\s*(?:[:.\-]+|=>|->)?\s*(?:[*_]{0,3})(?:\s*[:.\-]+)?\s*", re.IGNORECASE)
_TAGS = re.compile(r"<[^>]{0,200}>")


@dataclass(frozen=True)
class _Marker:
    question: str
    how: Found


@dataclass(frozen=True)
class _Line:
    """One line of a cell, as prose (markdown, comment, string) or as code."""

    cell: int
    offset: int
    text: str
    prose: bool
    runs: bool = False  # prose that is also code (a string assigned to a name)


_HEAD_CHARS = 200


def _head(line: str) -> str:
    """The start of a line as the header patterns read it: bounded, with runs of spaces and of
    punctuation collapsed, so that no line can make the patterns backtrack for long."""
    return _REPEATED.sub(r"\1\1", _SPACES.sub(" ", line[:_HEAD_CHARS]))


_SPACES = re.compile(r"\s+")
_REPEATED = re.compile(r"([^\w\s])\1{2,}")


def header_question(line: str, numbers: dict[int, str]) -> tuple[str | None, str] | None:
    """(question, rest of the line) when the line starts with a labelled question number
    (`Q3.`, `Question no. 3`, `#Answer3`, `A3`), else None. A header of a question the
    rubric does not know gives None as the question: it ends the previous one."""
    match = _HEADER.match(_head(line))
    if not match:
        return None
    return numbers.get(int(match.group(1))), match.group(2) + line[_HEAD_CHARS:]


def bare_number(line: str) -> tuple[int, str] | None:
    """(number, rest) for a line that starts with a bare number: `6.`, `(2)`, `**3)**`."""
    match = _BARE.match(_head(line))
    return (int(match.group(1)), match.group(2) + line[_HEAD_CHARS:]) if match else None


def _words(text: str) -> list[str]:
    joined = _HYPHEN.sub("", _TAGS.sub(" ", text.lower()))  # multi-threading
    return _ALNUM.findall(joined)


_HYPHEN = re.compile(r"(?<=[a-z])-(?=[a-z])")
_ALNUM = re.compile(r"[a-z0-9]+")


class _Prompts:
    """Recognises a restated question, fuzzily: case, punctuation, small edits, extra words."""

    THRESHOLD = 0.72
    MARGIN = 0.08

    def __init__(self, asked: Sequence[Asked]) -> None:
        self.words = {q.id: _words(q.prompt) for q in asked if len(_words(q.prompt)) >= 3}

    def match(self, candidates: Sequence[str], heading: bool = False) -> str | None:
        """The question that one of the candidate texts (a line, the line and the next...)
        restates, clearly better than any other question; None if none does. A heading may
        shorten a long question ("Write a program that creates 4 processes ...")."""
        best, question, runner_up = 0.0, None, 0.0
        for text in candidates:
            words = _words(_HEADER_PREFIX.sub("", _head(text)) + text[_HEAD_CHARS:_HEAD_CHARS * 4])[:80]
            if len(words) < 3 or not self.words:
                continue
            scores = sorted(((self._score(words, prompt, heading), q) for q, prompt in self.words.items()),
                            reverse=True)
            if scores[0][0] > best:
                best, question = scores[0]
                runner_up = scores[1][0] if len(scores) > 1 else 0.0
        if question is not None and best >= self.THRESHOLD and best - runner_up >= self.MARGIN:
            return question
        return None

    @staticmethod
    def _score(words: list[str], prompt: list[str], heading: bool) -> float:
        window = words[: len(prompt) + 4]  # the restated question may run on into the answer
        common = sum(1 for word in window if word in prompt)  # at least what SequenceMatcher can match
        if max(2 * common / (len(window) + len(prompt)), common / len(window) if heading else 0) < _Prompts.THRESHOLD:
            return 0.0  # cannot reach the threshold: most lines of a notebook stop here, cheaply
        matcher = SequenceMatcher(None, window, prompt, autojunk=False)
        matched = sum(block.size for block in matcher.get_matching_blocks())
        score = 2 * matched / (len(window) + len(prompt))
        if heading and len(window) >= 6:
            score = max(score, matched / len(window) - 0.05)  # most of the heading's words, in order
        return score


def _cell_lines(cell: Cell) -> tuple[list[_Line], str | None]:
    """The cell's lines as prose (markdown, comments, strings) or code, and the code to run
    for it: None for a markdown cell or prose typed into a code cell. A code cell that does
    not parse because sentences are mixed into it runs without the sentences."""
    lines = source_lines(cell.source)
    if cell.kind != "code":
        return [_Line(cell.index, i, text, True) for i, text in enumerate(lines)], None
    runnable: str | None = cell.source
    prose_rows: set[int] = set()
    try:
        tree = ast.parse(without_magics(cell.source))
    except _UNPARSABLE:
        fused = {i: code for i, code in ((i, _after_label(text)) for i, text in enumerate(lines)) if code}
        prose_rows = _sentence_rows(lines) | set(fused)
        runnable = "\n".join(fused.get(i, "") if i in prose_rows else text for i, text in enumerate(lines))
        try:
            tree = ast.parse(without_magics(runnable))
        except _UNPARSABLE:
            tree, runnable = None, cell.source  # broken code: it runs, and fails, as written
        if looks_like_prose(cell.source) and (tree is None or not _is_program(runnable)):
            return [_Line(cell.index, i, text, True) for i, text in enumerate(lines)], None
    strings: dict[int, str] = {}  # rows of string statements: prose
    assigned: dict[int, str] = {}  # rows of strings assigned to a name (`Ans1 = "..."`): prose that runs
    if tree is not None:
        for node in ast.walk(tree):
            if isinstance(node, (ast.Expr, ast.Assign)) and isinstance(node.value, ast.Constant) \
                    and isinstance(node.value.value, str):
                content = node.value.value.splitlines() or [""]
                rows = strings if isinstance(node, ast.Expr) else assigned
                for offset, row in enumerate(range(node.lineno - 1, (node.end_lineno or node.lineno))):
                    rows[row] = content[offset] if offset < len(content) else ""
    if lines and re.fullmatch(r"\s*\(?\d{1,2}[.)]?\s*", lines[0]):
        strings[0] = lines[0]  # a cell that starts with a bare `3.`: a header, not a float
    headers = [i for i, text in enumerate(lines)
               if re.fullmatch(r"\s*[A-Za-z_]\w*\s*", text) and (match := _HEADER.match(_head(text))) and not match.group(2)]
    if headers and runnable is not None:  # `Q1` alone on a line of code: a header, not a name to look up
        strings.update((i, lines[i]) for i in headers)
        runnable = "\n".join("" if i in headers else text for i, text in enumerate(source_lines(runnable)))
    result = []
    for i, text in enumerate(lines):
        stripped = text.strip()
        if i in prose_rows:
            result.append(_Line(cell.index, i, text, True))
        elif i in strings:
            result.append(_Line(cell.index, i, strings[i], True))
        elif i in assigned:
            result.append(_Line(cell.index, i, assigned[i], True, runs=True))
        elif stripped.startswith("#"):
            result.append(_Line(cell.index, i, stripped.lstrip("#").strip(), True))
        else:
            result.append(_Line(cell.index, i, text, False))
    if not any((line.runs or not line.prose) and line.text.strip() for line in result):
        runnable = None  # only comments and strings: nothing to run
    return result, runnable


_LABEL_THEN_CODE = re.compile(r"^\s*(?:ans(?:wer)?|sol(?:ution)?|q(?:ue(?:s(?:tion)?)?)?)\s*\d{0,2}\s*[.:)\-]+\s*", re.IGNORECASE)


def _after_label(row: str) -> str | None:
    """The code of a row that starts with a label fused to it: `Ans3.import multiprocessing`."""
    head = _head(row)
    match = _LABEL_THEN_CODE.match(head)
    rest = head[match.end():] + row[_HEAD_CHARS:] if match else ""
    return rest if rest and _CODE_LINE.match(rest.rstrip()) and _compiles(rest.strip()) else None


def _outside_fences(rows: list[str]) -> list[str]:
    """The rows outside ``` fences (a fence left open runs to the end)."""
    kept, inside = [], False
    for row in rows:
        if row.lstrip().startswith("```"):
            inside = not inside
        elif not inside:
            kept.append(row)
    return kept


def _sentence_rows(lines: list[str]) -> set[int]:
    """Rows of a code cell that read as sentences, not as code."""
    rows: set[int] = set()
    previous_code = False
    for i, text in enumerate(lines):
        if not text.strip():
            continue
        indented = text[:1].isspace()
        if _CODE_LINE.match(text.rstrip()) or (indented and previous_code) or _compiles(text.strip()):
            previous_code = True
        else:
            rows.add(i)
            previous_code = False
    return rows


def _compiles(line: str) -> bool:
    try:
        ast.parse(line)
    except _UNPARSABLE:
        return False
    return True


_CODE_LINE = re.compile(
    r"^\s*(?:import\s|from\s+\w|def\s|class\s|if\s.*:$|for\s.*:$|while\s.*:$|with\s.*:$|try:|except|return\b|"
    r"print\s*\(|[\w.\[\]]+\s*[-+*/]?=|[\w.]+\(.*\)\s*$|@\w|#|[\]\)}]\s*$)"
)


def looks_like_prose(source: str) -> bool:
    """Code that does not parse and reads as sentences: an answer typed into a code cell
    (markdown pasted into one, with its code examples fenced, counts by its sentences)."""
    rows = [row for row in _outside_fences(source_lines(source)) if row.strip()]
    if not rows:
        return False
    prose = [row for row in rows if not _CODE_LINE.match(row.rstrip()) and len(row.split()) >= 3]
    return len(prose) * 2 >= len(rows)


def _markers(lines: list[_Line], cells: Sequence[Cell], asked: Sequence[Asked],
             prompts: _Prompts) -> dict[int, tuple[_Marker | None, str]]:
    """index into `lines` -> (marker, rest of the line) for every line that starts a question
    (a marker of None: a header of a question the rubric does not ask). A cell that only
    lists the questions (the assignment pasted at the top, answers further down) marks
    nothing."""
    found = _find_markers(lines, cells, asked, prompts, set())
    listing = _question_lists(found, lines)
    return _find_markers(lines, cells, asked, prompts, listing) if listing else found


def _find_markers(lines: list[_Line], cells: Sequence[Cell], asked: Sequence[Asked],
                  prompts: _Prompts, skip: set[int]) -> dict[int, tuple[_Marker | None, str]]:
    numbers = {q.number: q.id for q in asked if q.number is not None}
    order = [q.id for q in asked]
    found: dict[int, tuple[_Marker | None, str]] = {}
    current: str | None = None
    sequence_cell = -1
    in_list = False  # a numbered list has begun inside the current answer
    hinted: set[int] = set()
    first_prose: dict[int, int] = {}
    for index, line in enumerate(lines):
        if line.prose and line.text.strip():
            first_prose.setdefault(line.cell, index)
    headers: dict[int, tuple[str | None, str] | None] = {}  # each line's header, read once
    bares: dict[int, tuple[int, str] | None] = {}

    def header_at(i: int) -> tuple[str | None, str] | None:
        if i not in headers:
            headers[i] = header_question(lines[i].text, numbers)
        return headers[i]

    def bare_at(i: int) -> tuple[int, str] | None:
        if i not in bares:
            bares[i] = bare_number(lines[i].text)
        return bares[i]

    compared = 0  # lines compared with the prompts: bounded, however long the notebook
    for index, line in enumerate(lines):
        cell = cells[line.cell]
        if cell.hint is not None and cell.hint in numbers.values() and line.cell not in hinted:
            hinted.add(line.cell)
            found[index] = (_Marker(cell.hint, Found.METADATA), line.text if line.prose else "")
            current = cell.hint
            continue
        if not line.prose or not line.text.strip() or line.cell in skip:
            continue
        following: list[str] = []  # a question split over lines: up to two more, before a gap or a header
        for later_index in range(index + 1, min(index + 3, len(lines))):
            later = lines[later_index]
            if not (later.prose and later.cell == line.cell and later.text.strip()) or \
                    header_at(later_index) or bare_at(later_index):
                break
            following.append(later.text)
        candidates = [line.text, " ".join([line.text, *following[:1]]), " ".join([line.text, *following])]
        header = header_at(index)
        bare = bare_at(index) if header is None else None
        rest = header[1] if header else bare[1] if bare else line.text
        # a restated question starts on this line: a fence or a word or two before it does not count
        heading = cell.kind != "code" and bool(_HEADING.match(line.text))
        restated = None
        if compared < _PROMPT_LINES and len(_words(_HEADER_PREFIX.sub("", _head(line.text)))) >= 3:
            compared += 1
            restated = prompts.match(candidates[:1] if heading else candidates, heading)
        marker: _Marker | None
        if restated is not None and (header is not None or bare is not None or restated != current):
            agrees = (header is not None and header[0] == restated) or (bare is not None and numbers.get(bare[0]) == restated)
            marker = _Marker(restated, Found.HEADER if agrees else Found.PROMPT)
        elif header is not None:
            marker = _Marker(header[0], Found.HEADER) if header[0] else None
        elif (bare is not None and (cell.kind != "code" or (line.offset == 0 and not bare[1].strip()))
              and bare[0] in numbers and numbers[bare[0]] == _next_after(current, order)
              and (current is None or line.cell == sequence_cell
                   or (index == first_prose[line.cell] and not in_list
                       and not _continues_list(lines, index, bare[0])))):
            # a bare number heads a question only in the order of the questions, and not as
            # an item of a list inside an answer (steps 1. to 6., one cell each); a list that
            # starts before any question (answers numbered 1. to 6. in one cell) goes on in its cell
            marker = _Marker(numbers[bare[0]], Found.HEADER)
            if current is None:
                sequence_cell = line.cell
        else:
            in_list = in_list or (bare is not None and current is not None)
            continue
        found[index] = (marker, rest)
        current = marker.question if marker else current
        in_list = False
    return found


_HEADING = re.compile(r"\s*(?:#|\*\*|__|<h\d|<b>)")
_PROMPT_LINES = 20_000  # prose lines compared with the prompts: thousands more than a notebook has


def _continues_list(lines: list[_Line], index: int, number: int) -> bool:
    """A bare `2.` followed in its cell by `3.`: a numbered list in an answer, not a header."""
    cell = lines[index].cell
    for line in lines[index + 1 :]:
        if line.cell != cell:
            return False
        bare = bare_number(line.text) if line.prose else None
        if bare and bare[0] == number + 1:
            return True
    return False


def _question_lists(found: dict[int, tuple[_Marker | None, str]], lines: list[_Line]) -> set[int]:
    """Cells that only list the questions: three or more markers with nothing between them."""
    by_cell: dict[int, list[int]] = {}
    for index in found:
        by_cell.setdefault(lines[index].cell, []).append(index)
    others: dict[int, int] = {}  # per cell, the lines with content that start no question
    for i, line in enumerate(lines):
        if line.text.strip() and i not in found:
            others[line.cell] = others.get(line.cell, 0) + 1
    # a prompt may run on over a second line
    return {cell for cell, indices in by_cell.items() if len(indices) >= 3 and others.get(cell, 0) <= len(indices) // 2}


def _next_after(current: str | None, order: list[str]) -> str | None:
    if current is None:
        return order[0] if order else None
    position = order.index(current) if current in order else -1
    return order[position + 1] if position + 1 < len(order) else None


# --- regions, shape and order ---------------------------------------------------------------


@dataclass
class _Region:
    start: int  # index into lines
    end: int  # exclusive
    label: str | None
    how: Found
    has_code: bool
    has_prose: bool


def _regions(lines: list[_Line], markers: dict[int, tuple[_Marker | None, str]],
             asked: Sequence[Asked]) -> list[_Region]:
    starts = sorted(markers)
    bounds = list(zip([0, *starts], [*starts, len(lines)]))
    regions = []
    prompt_words = [set(_words(q.prompt)) for q in asked]
    for start, end in bounds:
        if end <= start:
            continue
        marker = markers.get(start, (None, ""))[0] if start in markers else None
        body = lines[start:end]
        code = any(not l.prose and l.text.strip() for l in body)
        prose_words = []
        for offset, l in enumerate(body):
            if not l.prose:
                continue
            text = markers[start][1] if offset == 0 and start in markers else l.text
            prose_words += [w for w in _words(text) if not any(w in p for p in prompt_words)]
        regions.append(_Region(start, end, marker.question if marker else None,
                               marker.how if marker else Found.MISSING, code, len(prose_words) >= 3))
    return regions


_INF = float("inf")


def _fit_shapes(regions: list[_Region], asked: Sequence[Asked]) -> list[str | None]:
    """Questions for the regions: their labels, unless the shapes say the header numbers are
    off (code alone under a text question while a later code question has none).
    Dynamic programming over (region, question), in order: header labels may move forward at a
    cost, prompts and metadata may not. The preamble and the regions of questions the rubric does
    not ask keep no question."""
    ids = [q.id for q in asked]
    position = {q: i for i, q in enumerate(ids)}
    labels = [r.label for r in regions]
    tail = [r for r in regions if r.label in position]
    if not tail:
        return labels

    def cost(region: _Region, j: int) -> float:
        c = 0.0
        if region.label != ids[j]:
            if region.how in (Found.PROMPT, Found.METADATA) or j < position[region.label or ""]:
                return _INF  # a skipped number shifts the answers after it forward, never back
            c += 1.0
        if region.has_code and not region.has_prose and not asked[j].wants_code:
            c += 3.0
        elif region.has_prose and not region.has_code and asked[j].wants_code:
            c += 0.5
        return c

    n, m = len(tail), len(ids)
    best = [[_INF] * m for _ in range(n)]
    back = [[-1] * m for _ in range(n)]
    best[0] = [cost(tail[0], j) for j in range(m)]
    for i in range(1, n):
        for j in range(m):
            here = cost(tail[i], j)
            if here == _INF:
                continue
            for k in range(j + 1):
                if best[i - 1][k] == _INF:
                    continue
                # two regions for one question: a header repeated, or one merged into another
                step = 0.0 if k < j or tail[i].label == tail[i - 1].label else 2.5
                total = best[i - 1][k] + here + step
                if total < best[i][j]:
                    best[i][j], back[i][j] = total, k
    j = min(range(m), key=lambda col: best[n - 1][col])
    keep = sum(cost(r, position[r.label]) for r in tail if r.label)
    if best[n - 1][j] >= keep:  # also when no order fits (INF): the labels stand
        return labels
    chosen = [0] * n
    for i in range(n - 1, -1, -1):
        chosen[i] = j
        j = back[i][j]
    fitted = iter(ids[j] for j in chosen)
    return [next(fitted) if r.label in position else r.label for r in regions]


def _fall_back_on_order(cells: Sequence[Cell], lines: list[_Line], line_question: list[str | None],
                        found: dict[str, Found], asked: Sequence[Asked],
                        unasked: set[int]) -> tuple[list[str | None], dict[str, Found]]:
    """Fewer than half of the questions are marked: match the cells to the questions by
    order and shape, keeping what the markers say where they say it (`unasked`: lines under
    a header of a question the rubric does not ask, which stay with no question)."""
    kinds: list[str] = []
    labels: dict[int, tuple[str, Found]] = {}
    by_cell: dict[int, list[int]] = {}
    for i, line in enumerate(lines):
        by_cell.setdefault(line.cell, []).append(i)
    for cell in cells:
        body = by_cell.get(cell.index, [])
        if body and all(i in unasked for i in body):
            kinds.append("empty")
        elif any(not lines[i].prose and lines[i].text.strip() for i in body):
            kinds.append("code")
        elif any(lines[i].text.strip() for i in body):
            kinds.append("prose")
        else:
            kinds.append("empty")
        question = next((line_question[i] for i in body if line_question[i] is not None), None)
        if question is not None:
            labels[cell.index] = (question, found.get(question, Found.HEADER))
    assigned = _by_order(kinds, labels, asked)
    new_found: dict[str, Found] = {}
    for index, question in enumerate(assigned):
        if question is not None and question not in new_found:
            kept = labels.get(index, (None, Found.ORDER))
            new_found[question] = kept[1] if kept[0] == question else Found.ORDER
    return [None if i in unasked else assigned[line.cell] for i, line in enumerate(lines)], new_found


def _by_order(kinds: list[str], labels: dict[int, tuple[str, Found]], asked: Sequence[Asked]) -> list[str | None]:
    """Questions for the cells, taken to answer the questions in order: text where text is
    asked and code where code is. Dynamic programming over (cell, question), with state 0 the
    preamble (a title before any answer); a cell under a marker keeps its question unless the
    order leaves no other way (a header) or never (a prompt, metadata)."""
    m = len(asked)
    order = [i for i, kind in enumerate(kinds) if kind != "empty"]
    if not order:
        return [None] * len(kinds)

    def cost(i: int, j: int) -> float:
        kind = kinds[i]
        label = labels.get(i)
        c = 0.0
        if label is not None and (j == 0 or label[0] != asked[j - 1].id):
            c += 100.0 if label[1] in (Found.PROMPT, Found.METADATA) else 2.0 * m + 1  # more than all skips
        if j == 0:
            return c + (3.0 if kind == "code" else 0.1)
        question = asked[j - 1]
        if kind == "code" and not question.wants_code:
            c += 3.0
        elif kind == "prose" and question.wants_code:
            c += 0.3  # an explanation under code is common, an answer in order more so
        return c

    n = len(order)
    best = [[_INF] * (m + 1) for _ in range(n)]
    back = [[-1] * (m + 1) for _ in range(n)]
    for j in range(m + 1):
        best[0][j] = cost(order[0], j) + 2.0 * max(0, j - 1)  # questions skipped before the first
    for a in range(1, n):
        for j in range(m + 1):
            here = cost(order[a], j)
            for k in range(j + 1):
                if best[a - 1][k] == _INF:
                    continue
                skipped = max(0, j - k - 1) * 2.0  # questions left with no cell
                same = 0.0 if k != j or j == 0 else (0.2 if kinds[order[a]] == kinds[order[a - 1]] else 0.0)
                total = best[a - 1][k] + here + skipped + same
                if total < best[a][j]:
                    best[a][j], back[a][j] = total, k
    j = min(range(m + 1), key=lambda col: best[n - 1][col] + 2.0 * (m - col))
    chosen = [0] * n
    for a in range(n - 1, -1, -1):
        chosen[a] = j
        j = back[a][j]
    result: list[str | None] = [None] * len(kinds)
    current: str | None = None
    by_cell = dict(zip(order, chosen))
    for i in range(len(kinds)):
        if i in by_cell:
            current = asked[by_cell[i] - 1].id if by_cell[i] else None
        result[i] = current
    return result


# --- the whole pass -------------------------------------------------------------------------

_FENCE = re.compile(r"```[ \t]*(?:python|py|ipython3?|python3)?[ \t]*\n(.*?)```", re.DOTALL | re.IGNORECASE)


def code_in_text(rows: list[str]) -> str | None:
    """Runnable code among the rows of a markdown cell, raw cell or string: a fenced block,
    or the rows themselves once quote marks and sentences are left out."""
    text = "\n".join(rows)
    fences = [textwrap.dedent(block).strip("\n") for block in _FENCE.findall(text) if _is_program(textwrap.dedent(block))]
    if fences:
        return "\n".join(fences)
    kept = ["" if re.fullmatch(r"\s*(\"\"\"|\'\'\'|```\w*)\s*", row) or _HEADER.match(_head(row)) else row for row in rows]
    whole = textwrap.dedent("\n".join(kept))
    if _is_program(whole):
        return whole
    sentences = _sentence_rows(kept)  # once: not once per row
    candidate = textwrap.dedent("\n".join("" if i in sentences else row for i, row in enumerate(kept)))
    return candidate if _is_program(candidate) else None


def _is_program(text: str) -> bool:
    try:
        tree = ast.parse(text)
    except _UNPARSABLE:
        return False
    return any(isinstance(node, (ast.Import, ast.ImportFrom)) for node in ast.walk(tree)) and any(
        isinstance(node, ast.Call) for node in ast.walk(tree)
    )


def attribute(submission: Submission, asked: Sequence[Asked]) -> Attribution:
    cells = submission.cells
    prompts = _Prompts(asked)
    lines: list[_Line] = []
    runnable: list[str | None] = []
    for cell in cells:
        cell_lines, code = _cell_lines(cell)
        lines.extend(cell_lines)
        runnable.append(code)
    markers = _markers(lines, cells, asked, prompts)
    regions = _regions(lines, markers, asked)
    labels = _fit_shapes(regions, asked)
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
        line_question, found = _fall_back_on_order(cells, lines, line_question, found, asked, unasked)

    return _assemble(submission, asked, lines, line_question, markers, found, runnable)


def _assemble(submission: Submission, asked: Sequence[Asked], lines: list[_Line],
              line_question: list[str | None], markers: dict[int, tuple[_Marker | None, str]],
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
        if cell.kind == "code" and code != cell.source and question in notes:
            if code is None and _typed_prose(cell):
                notes[question].append(f"{names[cell.index]} holds prose, not code: read as the text answer")
            elif code is not None:
                notes[question].append(f"{names[cell.index]} mixes sentences into its code: "
                                       "the sentences were read as text, the rest was run")

    # code only where code does not run: run it, as an instructor would try it (a script runs
    # as a whole, so this is for notebooks)
    has_code = {p.question for p in pieces}
    for ask in asked:
        if not ask.wants_code or ask.id in has_code or submission.kind != "notebook":
            continue
        for cell in cells:
            rows = [lines[i].text for i in by_cell.get(cell.index, []) if line_question[i] == ask.id and lines[i].prose]
            found_code = code_in_text(rows) if rows else None
            if not found_code:
                continue
            origin = {"markdown": Origin.MARKDOWN, "raw": Origin.RAW}.get(cell.kind, Origin.STRING)
            pieces.append(Piece(cell.index, ask.id, found_code, origin, names[cell.index]))
            notes[ask.id].append(f"the only code for {ask.id.upper()} was in a {origin.value} "
                                 f"({names[cell.index]}): it was run as the answer")
    pieces.sort(key=lambda piece: piece.cell)
    if submission.kind == "notebook":
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
    if submission.kind == "script":
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
        if not q.wants_code or not q.calls or any(p.question == q.id for p in pieces):
            continue
        neighbours = {order[i] for i in (position - 1, position + 1) if 0 <= i < len(order)}
        for index, piece in enumerate(pieces):
            owner = next((a for a in asked if a.id == piece.question), None)
            if owner is None or owner.id not in neighbours or not _does(piece.source, q.calls):
                continue
            if owner.wants_code and (not owner.calls or _does(piece.source, owner.calls) or not any(
                    other.question == owner.id and other is not piece and _does(other.source, owner.calls)
                    for other in pieces)):
                continue  # the owner's only answer stays its own, however wrong
            pieces[index] = Piece(piece.cell, q.id, piece.source, piece.origin, piece.label)
            notes[q.id].append(f"{piece.label}, under {owner.id.upper()}, does what {q.id.upper()} asks:"
                               f" it was credited to {q.id.upper()}")
            if found.get(q.id, Found.MISSING) == Found.MISSING:
                found[q.id] = Found.SHAPE
    return pieces


def _does(code: str, calls: tuple[str, ...]) -> bool:
    try:
        tree = ast.parse(without_magics(code))
        return calls_any(tree, calls)
    except _UNPARSABLE:  # also an attribute chain too long for the walk
        return False


def _typed_prose(cell: Cell) -> bool:
    return any(row.strip() and not row.lstrip().startswith(("#", "'", '"')) for row in cell.source.splitlines())


def _runnable_script(submission: Submission, runnable: list[str | None]) -> str:
    """The script as it runs: sentences typed among its code become blank lines, so the rest
    parses and keeps its line numbers."""
    rows = source_lines(submission.text)
    for cell, code in zip(submission.cells, runnable):
        if cell.kind != "code" or code == cell.source:
            continue
        replacement = source_lines(code or "")
        for offset in range(cell.end_line - cell.line + 1):
            rows[cell.line - 1 + offset] = replacement[offset] if offset < len(replacement) else ""
    return "\n".join(rows) + "\n"


def _cell_names(submission: Submission) -> list[str]:
    """Each cell as the student sees it: "code cell 3 (`def worker():`)" counts only code
    cells and quotes the cell's first line, so it can be found; a script's line."""
    if submission.kind == "script":
        return [f"line {cell.line}" for cell in submission.cells]
    counts: dict[str, int] = {}
    names = []
    for cell in submission.cells:
        counts[cell.kind] = counts.get(cell.kind, 0) + 1
        first = next((line.strip() for line in cell.source.splitlines() if line.strip()), "")
        shown = first if len(first) <= 40 else first[:37] + "..."
        names.append(f"{cell.kind} cell {counts[cell.kind]}" + (f" (`{shown}`)" if shown else ""))
    return names


def _script_regions(submission: Submission, lines: list[_Line],
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
    return " ".join(_NOT_ALNUM.sub(" ", _TAGS.sub(" ", text.lower())).split())


def strip_prompt(lines: list[str], prompts: Sequence[str]) -> str:
    """The answer without the questions: drops each sentence that repeats one of the prompts."""
    wanted = [_normal(prompt) for prompt in prompts if prompt.strip()]
    kept: list[str] = []
    for line in lines:
        if not line.strip():
            kept.append(line)
            continue
        line = _ANSWER_LABEL.sub("", line)
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
