"""Checks of values: printed by the main process, or computed by pool workers and sent back."""

from __future__ import annotations

import ast
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

from grader.common.text import clip
from grader.evidence.model import QuestionEvidence, Task
from grader.grading.checks.base import Check, Outcome, register
from grader.grading.checks.processes import NUMBER, numbers_by_line
from grader.run.records import ProcessKey


@register
@dataclass(frozen=True, kw_only=True)
class Value(Check):
    """The output shows values that were really computed where the rubric says.

    With `computed_by: pool` and no `expected`, any function and any inputs will do: pool
    worker processes (multiprocessing.Pool's map, imap, starmap, apply, apply_async, ..., or
    a ProcessPoolExecutor) must have returned results, and the output must show what they
    returned (a list, one per line, or the workers printing their own results). `expected`
    asks for one specific value (`[1, 4, 9, 16, 25]`), and `relation` for what each task must
    return from its input (`x * x`)."""

    kind: ClassVar[str] = "value"
    expected: object = None
    relation: str = ""  # a Python expression in x, the task's input
    ordered: bool = True
    computed_by: str = ""  # "" or "pool"

    def __post_init__(self) -> None:
        if self.computed_by not in ("", "pool"):
            raise ValueError(f"computed_by must be 'pool' or left out, not {self.computed_by!r}")
        if self.expected is None and not self.computed_by:
            raise ValueError("a value check needs 'expected', or 'computed_by: pool' to accept whatever the pool computed")
        if self.relation:
            if self.computed_by != "pool":
                raise ValueError("'relation' needs 'computed_by: pool': it judges each task of the pool")
            try:
                compile(self.relation, "<relation>", "eval")
            except SyntaxError as exc:
                raise ValueError(f"relation {self.relation!r} is not a Python expression: {exc.msg}") from None

    def evaluate(self, evidence: QuestionEvidence) -> Outcome:
        printed = evidence.printed_by_process()
        if self.expected is not None and not _value_printed("\n".join(printed.values()), self.expected, self.ordered):
            head = "\n".join(text[:1000] for text in printed.values())
            shown = clip("; ".join(line.strip() for line in head.splitlines() if line.strip()), 200) or "nothing"
            return Outcome(0.0, f"expected {self.expected!r} in the output; it printed: {shown}")
        if self.computed_by != "pool":
            return Outcome(1.0, f"printed {self.expected!r}")
        tasks = _pool_tasks(evidence)
        if isinstance(tasks, str):
            return Outcome(0.0, tasks)
        if self.relation:
            wrong = _breaks_relation(tasks, self.relation)
            if wrong:
                return Outcome(0.0, wrong)
        if self.expected is not None:
            missing = _not_from_pool(tasks, self.expected)
            if missing:
                return Outcome(0.0, missing)
            return Outcome(1.0, f"printed {self.expected!r}, computed by pool worker processes")
        return _results_shown(evidence, tasks, printed)


def _pool_tasks(evidence: QuestionEvidence) -> list[Task] | str:
    """The tasks the question's pool workers ran, or why there are none."""
    workers = {p.key for p in evidence.processes.values() if p.pool_worker}
    if not workers & {p.key for p in evidence.children}:
        return "no pool of worker processes ran in this question (multiprocessing.Pool or ProcessPoolExecutor)"
    tasks = [task for task in evidence.tasks if task.key in workers]
    if not tasks:
        return ("a pool was created but its workers returned no results: give it work (pool.map(function,"
                " inputs)); a lambda or a function the workers cannot load fails before it runs")
    return tasks


_SAMPLE = 200  # distinct results looked for in the output: enough to judge, bounded for a huge map
_TOKEN = re.compile(r"[^\s,\[\](){}'\":;=]+")


def _results_shown(evidence: QuestionEvidence, tasks: list[Task], printed: dict[ProcessKey, str]) -> Outcome:
    raw = sorted({value for task in tasks for value in task.values})
    paired = all(len(task.inputs) == len(task.values) for task in tasks)
    pairs = sorted((given, value) for task in tasks for given, value in zip(task.inputs, task.values)) if paired \
        else [("", value) for value in raw]
    inputs = ", ".join(given[:120] for given, _ in pairs[:30])[:120] if paired else ""
    returned = ", ".join(value[:120] for _, value in pairs[:30])[:120]
    count = sum(len(task.values) for task in tasks)
    workers = {p.key for p in evidence.children if p.pool_worker}
    if raw == ["None"]:
        if any(printed.get(key, "").strip() for key in workers):
            return Outcome(1.0, f"the pool's worker processes ran {count} task(s) and printed their results")
        return Outcome(0.0, f"the pool's workers ran {count} task(s) but returned nothing and printed nothing")
    text = "\n".join(printed.values())
    shown, tokens = _shown_values(text), set(_TOKEN.findall(text))
    sample = [value for value in raw if value != "None"][:_SAMPLE]
    hidden = [value for value in sample if not _is_shown(value, shown, tokens, text)]
    if hidden:
        return Outcome(0.0, (f"the pool's workers returned {returned}, but the output does not show"
                             f" {', '.join(clip(value, 100) for value in hidden[:5])}: print the results the pool returned"))
    detail = f"the pool's worker processes returned {returned}"
    return Outcome(1.0, detail + (f" for the inputs {inputs}" if inputs else "") + ", and the output shows them")


def _shown_values(text: str) -> set[str]:
    """repr() of every literal in the output, with the elements of every container."""
    return {_repr(value) for value in _literals(text) if value is not None}


def _is_shown(value_repr: str, shown: set[str], tokens: set[str], text: str, depth: int = 0) -> bool:
    """The output shows the value: as a literal (in a container or alone), or as printed text."""
    value = _literal(value_repr)
    if value is None and value_repr != "None":  # not a literal (or cut short): look for its text
        return value_repr[:100] in text
    if _repr(value) in shown or value_repr in shown:
        return True
    if isinstance(value, (list, tuple)) and value and depth < 2:  # a chunk's results, printed joined together
        return all(_is_shown(_repr(item), shown, tokens, text, depth + 1) for item in value[:_SAMPLE])
    plain = str(value) if isinstance(value, str) else value_repr
    return plain in tokens or (" " in plain and plain in text)


def _breaks_relation(tasks: list[Task], relation: str) -> str | None:
    """Why a task's result is not `relation` of its input, or None when all are."""
    code = compile(relation, "<relation>", "eval")
    checked = 0
    for task in tasks:
        for given, returned in zip(task.inputs, task.values):
            x = _literal(given)
            try:
                wanted = eval(code, {"__builtins__": _RELATION_BUILTINS}, {"x": x})  # the rubric's own expression
            except Exception:
                return f"the task with input {clip(given, 100)} could not be checked against {relation}"
            checked += 1
            if _repr(wanted) != _repr(_literal(returned)):
                return (f"for the input {clip(given, 100)} the pool returned {clip(returned, 100)},"
                        f" expected {relation} = {clip(_repr(wanted), 100)}")
    if not checked:
        return "the pool's tasks and their inputs could not be matched"
    return None


_RELATION_BUILTINS = {name: __builtins__[name] if isinstance(__builtins__, dict) else getattr(__builtins__, name)
                      for name in ("abs", "round", "len", "pow", "min", "max", "sum", "str", "int", "float")}


def _same(found: object, expected: object, ordered: bool) -> bool:
    found, expected = _normalise(found), _normalise(expected)
    if ordered or not isinstance(found, list) or not isinstance(expected, list):
        return found == expected
    return Counter(map(_repr, found)) == Counter(map(_repr, expected))


def _normalise(value: object) -> object:
    if isinstance(value, (list, tuple)):
        return [_normalise(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _repr(value: object) -> str:
    """repr() of the normalised value; a number too long to write out has none."""
    try:
        return repr(_normalise(value))
    except ValueError:  # an int of more than 4,300 digits
        return "<a number too long to write>"


def _value_printed(text: str, expected: object, ordered: bool) -> bool:
    target = _normalise(expected)
    found: Iterator[object]
    if isinstance(target, list):  # only a container of as many values can be it
        found = (value for value in _literals(text) if isinstance(value, (list, tuple)) and len(value) == len(target))
    else:
        found = (value for value in _literals(text) if not isinstance(value, (list, tuple)))
    if any(_same(value, target, ordered) for value in found):
        return True
    if isinstance(target, list) and target:  # printed one by one ("1\n4\n9", "2 squared is 4", ...)
        read: dict[str, str] = {}  # each different number is read once

        def normal(number: str) -> str:
            if number not in read:
                read[number] = _repr(_literal(number))
            return read[number]

        lines = numbers_by_line(text)[0]
        every = [normal(number) for line in lines for number in line]
        last = [normal(line[-1]) for line in lines]
        wanted = [repr(value) for value in target]
        return any(_in_sequence(sequence, wanted, ordered) for sequence in (every, last))
    return False


def _in_sequence(sequence: list[str], wanted: list[str], ordered: bool) -> bool:
    """`wanted` appears in `sequence` as a run of neighbours (in any order, unless `ordered`).
    One pass: a sliding window that keeps count of how far it is from `wanted`."""
    size = len(wanted)
    if ordered:
        first = wanted[0]
        return any(value == first and sequence[start : start + size] == wanted for start, value in enumerate(sequence))
    need = Counter(wanted)
    window: Counter[str] = Counter()
    off = len(need)  # values whose count in the window differs from the count wanted

    def move(value: str, step: int) -> None:
        nonlocal off
        before = window[value]
        window[value] = before + step
        off += (before == need[value]) - (before + step == need[value])

    for index, value in enumerate(sequence):
        move(value, 1)
        if index >= size:
            move(sequence[index - size], -1)
        if index >= size - 1 and off == 0:
            return True
    return False


_LITERAL_BUDGET = 2_000_000  # characters handed to literal_eval per output: enough for any honest print
_LITERAL_CHARS = 100_000  # the longest one literal read (a longer print is no single value to look for)
_LITERAL_COUNT = 20_000  # bracketed literals read per output: a printed list of tuples is read as one
_NESTING = 4  # levels of a container looked into for the values it holds
_NUMBER_DIGITS = 4_000  # a number longer than this is no value a pool returned


def _literals(text: str) -> list[object]:
    """Every Python literal in the text: bracketed containers with the values inside them
    (a few levels down), then bare numbers. One pass pairs the brackets; a pair inside a
    literal already read is not read again, and a budget bounds the parsing, so no output
    ("[" * 300000, a million small lists) makes this slow."""
    found: list[object] = []
    budget, count = _LITERAL_BUDGET, _LITERAL_COUNT
    covered = -1  # the end of the last literal read: the pairs inside it are in it
    for start, end in _bracket_pairs(text):
        if end <= covered or end - start >= _LITERAL_CHARS:
            continue
        budget -= end - start + 1
        count -= 1
        if budget < 0 or count < 0:
            break
        value = _literal(text[start : end + 1])
        if value is not None:
            covered = end
            _with_contents(value, found)
    found.extend(_literal(number) for number in NUMBER.findall(text))
    return found


def _with_contents(value: object, found: list[object]) -> None:
    """The value and the values inside it, `_NESTING` levels down (iteratively)."""
    level = [value]
    for _ in range(_NESTING + 1):
        below: list[object] = []
        for item in level:
            found.append(item)
            if isinstance(item, (list, tuple, set, frozenset)):
                below.extend(item)
            elif isinstance(item, dict):
                below.extend(item.keys())
                below.extend(item.values())
        level = below
        if not level:
            break


def _bracket_pairs(text: str) -> list[tuple[int, int]]:
    """(start, end) of every matched bracket pair, by start."""
    closing = {"[": "]", "(": ")", "{": "}"}
    stack: list[tuple[str, int]] = []
    pairs = []
    for match in _BRACKET.finditer(text):
        char, index = match.group(), match.start()
        if char in closing:
            stack.append((closing[char], index))
        elif stack and char == stack[-1][0]:
            pairs.append((stack.pop()[1], index))
        else:
            stack.clear()  # a stray closer: what was open cannot be a literal across it
    return sorted(pairs)


_BRACKET = re.compile(r"[\[\](){}]")
_PLAIN_NUMBER = re.compile(r"[-+]?\d+(\.\d+)?")


def _literal(text: str) -> object:
    """The Python literal the text is, or None. Plain numbers are read directly (a million
    of them cost no literal_eval), and nothing longer than one literal may be is parsed."""
    plain = _PLAIN_NUMBER.fullmatch(text)
    if plain:
        if len(text) > _NUMBER_DIGITS:
            return None
        return float(text) if plain.group(1) else int(text)
    if len(text) > _LITERAL_CHARS:
        return None
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None


def _not_from_pool(tasks: list[Task], expected: object) -> str | None:
    """None when pool workers returned every expected element, else why not."""
    returned = Counter(_repr(_literal(value)) for task in tasks for value in task.values)
    elements = _normalise(expected) if isinstance(expected, list) else [expected]
    assert isinstance(elements, list)  # _normalise keeps a list a list
    wanted = Counter(repr(v) for v in elements)
    lacking = wanted - returned
    if lacking:
        return (
            f"the pool workers did not compute {', '.join(sorted(lacking))}: the printed values"
            " were not the results of the pool"
        )
    return None
