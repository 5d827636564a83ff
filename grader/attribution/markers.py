"""Pass 1 of attribution: the markers, where a question is said to begin. Metadata, a header
with a number in any of the shapes students write it, or the question's own prompt restated,
in markdown, raw cells, comments and strings; and what in a cell is prose and what is code."""

from __future__ import annotations

import ast
import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

from grader.attribution.model import Asked, Found
from grader.common.syntax import UNPARSABLE, source_lines, without_magics
from grader.load.submission import Cell, CellKind

_OPENING = r"^\s*(?:<[^>]{1,40}>\s*)*(?:#+\s*)?(?:[*_]{1,3}\s*)?(?:<[^>]{1,40}>\s*)*"
_LABEL = (  # "Q.No-01", "Question no. 1", "Problem 1"; "Ans 1", "#Answer1", "A1" (but "Ans: 1. ..." is a list)
    r"(?:(?:q(?:ue(?:s(?:tion)?s?)?)?|problem|exercise|part|task)\s*[.:\-]*\s*(?:no\s*\.?|number|#)?\s*[.:\-]*\s*"
    r"|(?:answer|ans|solution|sol)\s*[.\-=]*\s*(?:(?:no\s*\.?|#)\s*[.:\-=]*)?\s*|a(?=[.\-]?\d)[.\-]?)"
)
_NUMBER_END = r"(?![\w]|\.\d)"

HEADER = re.compile(_OPENING + _LABEL + r"\(?0*(\d{1,2})\)?" + _NUMBER_END + r"\s*(?:[.):\-*_]|</[^>]{1,20}>)*\s*(.*)$",
                     re.IGNORECASE)
_BARE = re.compile(_OPENING + r"\(?0*(\d{1,2})\s*(?:[.)]|:|\s-)" + _NUMBER_END + r"\s*(?:[*_]|</[^>]{1,20}>)*\s*(.*)$")
_HEADER_PREFIX = re.compile(_OPENING + r"(?:" + _LABEL + r")?\(?\d{1,2}\)?" + _NUMBER_END + r"[\s.):\-*_]*", re.IGNORECASE)
ANSWER_LABEL = re.compile(r"^\s*(?:[*_]{0,3})(?:answer|ans|solution|sol)\s*(?:[:.\-]+|=>|->)?\s*(?:[*_]{0,3})(?:\s*[:.\-]+)?\s*", re.IGNORECASE)
TAGS = re.compile(r"<[^>]{0,200}>")


@dataclass(frozen=True)
class Marker:
    question: str
    how: Found


@dataclass(frozen=True)
class Line:
    """One line of a cell, as prose (markdown, comment, string) or as code."""

    cell: int
    offset: int
    text: str
    prose: bool
    runs: bool = False  # prose that is also code (a string assigned to a name)


_HEAD_CHARS = 200


def line_head(line: str) -> str:
    """The start of a line as the header patterns read it: bounded, with runs of spaces and of
    punctuation collapsed, so that no line can make the patterns backtrack for long."""
    return _REPEATED.sub(r"\1\1", _SPACES.sub(" ", line[:_HEAD_CHARS]))


_SPACES = re.compile(r"\s+")
_REPEATED = re.compile(r"([^\w\s])\1{2,}")


def header_question(line: str, numbers: dict[int, str]) -> tuple[str | None, str] | None:
    """(question, rest of the line) when the line starts with a labelled question number
    (`Q3.`, `Question no. 3`, `#Answer3`, `A3`), else None. A header of a question the
    rubric does not know gives None as the question: it ends the previous one."""
    match = HEADER.match(line_head(line))
    if not match:
        return None
    return numbers.get(int(match.group(1))), match.group(2) + line[_HEAD_CHARS:]


def bare_number(line: str) -> tuple[int, str] | None:
    """(number, rest) for a line that starts with a bare number: `6.`, `(2)`, `**3)**`."""
    match = _BARE.match(line_head(line))
    return (int(match.group(1)), match.group(2) + line[_HEAD_CHARS:]) if match else None


def word_list(text: str) -> list[str]:
    joined = _HYPHEN.sub("", TAGS.sub(" ", text.lower()))  # multi-threading
    return _ALNUM.findall(joined)


_HYPHEN = re.compile(r"(?<=[a-z])-(?=[a-z])")
_ALNUM = re.compile(r"[a-z0-9]+")


class Prompts:
    """Recognises a restated question, fuzzily: case, punctuation, small edits, extra words."""

    THRESHOLD = 0.72
    MARGIN = 0.08

    def __init__(self, asked: Sequence[Asked]) -> None:
        self.words = {q.id: word_list(q.prompt) for q in asked if len(word_list(q.prompt)) >= 3}

    def match(self, candidates: Sequence[str], heading: bool = False) -> str | None:
        """The question that one of the candidate texts (a line, the line and the next...)
        restates, clearly better than any other question; None if none does. A heading may
        shorten a long question ("Write a program that creates 4 processes ...")."""
        best, question, runner_up = 0.0, None, 0.0
        for text in candidates:
            words = word_list(_HEADER_PREFIX.sub("", line_head(text)) + text[_HEAD_CHARS:_HEAD_CHARS * 4])[:80]
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
        if max(2 * common / (len(window) + len(prompt)), common / len(window) if heading else 0) < Prompts.THRESHOLD:
            return 0.0  # cannot reach the threshold: most lines of a notebook stop here, cheaply
        matcher = SequenceMatcher(None, window, prompt, autojunk=False)
        matched = sum(block.size for block in matcher.get_matching_blocks())
        score = 2 * matched / (len(window) + len(prompt))
        if heading and len(window) >= 6:
            score = max(score, matched / len(window) - 0.05)  # most of the heading's words, in order
        return score


def lines_of_cell(cell: Cell) -> tuple[list[Line], str | None]:
    """The cell's lines as prose (markdown, comments, strings) or code, and the code to run
    for it: None for a markdown cell or prose typed into a code cell. A code cell that does
    not parse because sentences are mixed into it runs without the sentences."""
    lines = source_lines(cell.source)
    if cell.kind is not CellKind.CODE:
        return [Line(cell.index, i, text, True) for i, text in enumerate(lines)], None
    runnable: str | None = cell.source
    prose_rows: set[int] = set()
    try:
        tree = ast.parse(without_magics(cell.source))
    except UNPARSABLE:
        fused = {i: code for i, code in ((i, _after_label(text)) for i, text in enumerate(lines)) if code}
        prose_rows = sentence_rows(lines) | set(fused)
        runnable = "\n".join(fused.get(i, "") if i in prose_rows else text for i, text in enumerate(lines))
        try:
            tree = ast.parse(without_magics(runnable))
        except UNPARSABLE:
            tree, runnable = None, cell.source  # broken code: it runs, and fails, as written
        if looks_like_prose(cell.source) and (tree is None or not is_program(runnable)):
            return [Line(cell.index, i, text, True) for i, text in enumerate(lines)], None
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
               if re.fullmatch(r"\s*[A-Za-z_]\w*\s*", text) and (match := HEADER.match(line_head(text))) and not match.group(2)]
    if headers and runnable is not None:  # `Q1` alone on a line of code: a header, not a name to look up
        strings.update((i, lines[i]) for i in headers)
        runnable = "\n".join("" if i in headers else text for i, text in enumerate(source_lines(runnable)))
    result = []
    for i, text in enumerate(lines):
        stripped = text.strip()
        if i in prose_rows:
            result.append(Line(cell.index, i, text, True))
        elif i in strings:
            result.append(Line(cell.index, i, strings[i], True))
        elif i in assigned:
            result.append(Line(cell.index, i, assigned[i], True, runs=True))
        elif stripped.startswith("#"):
            result.append(Line(cell.index, i, stripped.lstrip("#").strip(), True))
        else:
            result.append(Line(cell.index, i, text, False))
    if not any((line.runs or not line.prose) and line.text.strip() for line in result):
        runnable = None  # only comments and strings: nothing to run
    return result, runnable


_LABEL_THEN_CODE = re.compile(r"^\s*(?:ans(?:wer)?|sol(?:ution)?|q(?:ue(?:s(?:tion)?)?)?)\s*\d{0,2}\s*[.:)\-]+\s*", re.IGNORECASE)


def _after_label(row: str) -> str | None:
    """The code of a row that starts with a label fused to it: `Ans3.import multiprocessing`."""
    head = line_head(row)
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


def sentence_rows(lines: list[str]) -> set[int]:
    """Rows of a code cell that read as sentences, not as code."""
    rows: set[int] = set()
    previous_code = False
    for i, text in enumerate(lines):
        if not text.strip():
            continue
        indented = text[:1].isspace()
        if _LANGUAGE_TAG.match(text):  # `python` over `Copy code`: a chat answer pasted whole
            rows.add(i)
            previous_code = False
        elif _CODE_LINE.match(text.rstrip()) or (indented and previous_code) or _compiles(text.strip()):
            previous_code = True
        else:
            rows.add(i)
            previous_code = False
    return rows


_LANGUAGE = r"(?:i?python3?|py)"  # a code block's language, as a fence or a pasted page labels it
# the label left alone on a line of pasted text: it parses as a name, and fails as one
_LANGUAGE_TAG = re.compile(rf"^\s*{_LANGUAGE}\s*$", re.IGNORECASE)


def _compiles(line: str) -> bool:
    try:
        ast.parse(line)
    except UNPARSABLE:
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


def find_markers(lines: list[Line], cells: Sequence[Cell], asked: Sequence[Asked],
             prompts: Prompts) -> dict[int, tuple[Marker | None, str]]:
    """index into `lines` -> (marker, rest of the line) for every line that starts a question
    (a marker of None: a header of a question the rubric does not ask). A cell that only
    lists the questions (the assignment pasted at the top, answers further down) marks
    nothing."""
    found = _find_markers(lines, cells, asked, prompts, set())
    listing = _question_lists(found, lines)
    return _find_markers(lines, cells, asked, prompts, listing) if listing else found


def _find_markers(lines: list[Line], cells: Sequence[Cell], asked: Sequence[Asked],
                  prompts: Prompts, skip: set[int]) -> dict[int, tuple[Marker | None, str]]:
    numbers = {q.number: q.id for q in asked if q.number is not None}
    order = [q.id for q in asked]
    found: dict[int, tuple[Marker | None, str]] = {}
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
            found[index] = (Marker(cell.hint, Found.METADATA), line.text if line.prose else "")
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
        heading = cell.kind is not CellKind.CODE and bool(_HEADING.match(line.text))
        restated = None
        if compared < _PROMPT_LINES and len(word_list(_HEADER_PREFIX.sub("", line_head(line.text)))) >= 3:
            compared += 1
            restated = prompts.match(candidates[:1] if heading else candidates, heading)
        marker: Marker | None
        if restated is not None and (header is not None or bare is not None or restated != current):
            agrees = (header is not None and header[0] == restated) or (bare is not None and numbers.get(bare[0]) == restated)
            marker = Marker(restated, Found.HEADER if agrees else Found.PROMPT)
        elif header is not None:
            marker = Marker(header[0], Found.HEADER) if header[0] else None
        elif (bare is not None and (cell.kind is not CellKind.CODE or (line.offset == 0 and not bare[1].strip()))
              and bare[0] in numbers and numbers[bare[0]] == _next_after(current, order)
              and (current is None or line.cell == sequence_cell
                   or (index == first_prose[line.cell] and not in_list
                       and not _continues_list(lines, index, bare[0])))):
            # a bare number heads a question only in the order of the questions, and not as
            # an item of a list inside an answer (steps 1. to 6., one cell each); a list that
            # starts before any question (answers numbered 1. to 6. in one cell) goes on in its cell
            marker = Marker(numbers[bare[0]], Found.HEADER)
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


def _continues_list(lines: list[Line], index: int, number: int) -> bool:
    """A bare `2.` followed in its cell by `3.`: a numbered list in an answer, not a header."""
    cell = lines[index].cell
    for line in lines[index + 1 :]:
        if line.cell != cell:
            return False
        bare = bare_number(line.text) if line.prose else None
        if bare and bare[0] == number + 1:
            return True
    return False


def _question_lists(found: dict[int, tuple[Marker | None, str]], lines: list[Line]) -> set[int]:
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


_FENCE = re.compile(rf"```[ \t]*{_LANGUAGE}?[ \t]*\n(.*?)```", re.DOTALL | re.IGNORECASE)


def code_in_text(rows: list[str]) -> str | None:
    """Runnable code among the rows of a markdown cell, raw cell or string: a fenced block,
    or the rows themselves once quote marks and sentences are left out."""
    text = "\n".join(rows)
    fences = [textwrap.dedent(block).strip("\n") for block in _FENCE.findall(text) if is_program(textwrap.dedent(block))]
    if fences:
        return "\n".join(fences)
    kept = ["" if re.fullmatch(r"\s*(\"\"\"|\'\'\'|```\w*)\s*", row) or HEADER.match(line_head(row)) else row for row in rows]
    whole = textwrap.dedent("\n".join(kept))
    if is_program(whole):
        return whole
    sentences = sentence_rows(kept)  # once: not once per row
    candidate = textwrap.dedent("\n".join("" if i in sentences else row for i, row in enumerate(kept)))
    return candidate if is_program(candidate) else None


def is_program(text: str) -> bool:
    try:
        tree = ast.parse(text)
    except UNPARSABLE:
        return False
    return any(isinstance(node, (ast.Import, ast.ImportFrom)) for node in ast.walk(tree)) and any(
        isinstance(node, ast.Call) for node in ast.walk(tree)
    )
