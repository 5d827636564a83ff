"""The registry of check kinds: what a rubric can ask about one question.

Each kind is one frozen dataclass whose fields are its rubric parameters (the rubric loader
validates YAML against them) and whose `evaluate` looks at the question's evidence and says
how much of its points it earned and why. A new kind is one class with `@register`.
Checks judge what the probe observed, never what the student's code claims in print.
"""

from __future__ import annotations

import ast
import re
import signal
from collections import Counter
from dataclasses import dataclass, field
from typing import ClassVar

from grader.evidence import Process, QuestionEvidence, Task
from grader.syntax import called_names, calls_any, is_main_guard, short_name, without_magics

CHECK_KINDS: dict[str, type["Check"]] = {}


def register(cls: type["Check"]) -> type["Check"]:
    CHECK_KINDS[cls.kind] = cls
    return cls


@dataclass(frozen=True)
class Outcome:
    fraction: float  # share of the check's points earned, 0..1
    detail: str  # what was observed, in words a student can act on


@dataclass(frozen=True, kw_only=True)
class Check:
    kind: ClassVar[str] = ""
    points: float
    name: str = ""
    hidden: bool = False
    on_pass: str = ""
    on_fail: str = ""

    @property
    def title(self) -> str:
        return self.name or self.kind.replace("_", " ")

    def evaluate(self, evidence: QuestionEvidence) -> Outcome:
        raise NotImplementedError


# --- text -----------------------------------------------------------------------------------


@register
@dataclass(frozen=True, kw_only=True)
class Concepts(Check):
    """Partial credit for each group of synonyms the answer mentions. A plain word matches
    at the start of a word ("process" matches "processes"); `re:` starts a regex."""

    kind: ClassVar[str] = "concepts"
    groups: list[list[str]]
    full_marks_at: int = 0  # groups needed for full marks; 0 means all of them
    min_words: int = 5
    full_words: int = 0  # an answer shorter than this (a sentence or two) earns at most half

    def __post_init__(self) -> None:
        if not self.groups or not all(self.groups):
            raise ValueError("groups must be a non-empty list of non-empty lists")
        if self.full_marks_at > len(self.groups):
            raise ValueError(f"full_marks_at is {self.full_marks_at} but there are {len(self.groups)} groups")
        for group in self.groups:
            for pattern in group:
                if pattern.startswith("re:"):
                    try:
                        re.compile(pattern[3:])
                    except re.error as exc:
                        raise ValueError(f"bad regex {pattern!r}: {exc}") from None

    def evaluate(self, evidence: QuestionEvidence) -> Outcome:
        words = re.findall(r"\w+", evidence.answer)
        if len(words) < self.min_words:
            found = "no answer" if not words else f"only {len(words)} word(s)"
            return Outcome(0.0, f"{found} under this question's header (at least {self.min_words} expected)")
        matched = [group for group in self.groups if any(_mentions(evidence.answer, p) for p in group)]
        missing = [group[0] for group in self.groups if group not in matched]
        needed = self.full_marks_at or len(self.groups)
        fraction = min(1.0, len(matched) / needed)
        detail = f"mentions {len(matched)} of {len(self.groups)} key ideas ({needed} for full marks)"
        if missing and fraction < 1:
            detail += f"; not covered: {', '.join(missing)}"
        if len(words) < self.full_words and fraction > 0.5:
            fraction = 0.5
            detail += f"; the answer is short ({len(words)} words): explain it more fully, in your own words"
        return Outcome(fraction, detail)


def _mentions(text: str, pattern: str) -> bool:
    if pattern.startswith("re:"):
        return re.search(pattern[3:], text, re.IGNORECASE) is not None
    return re.search(r"(?<!\w)" + re.escape(pattern), text, re.IGNORECASE) is not None


# --- processes ------------------------------------------------------------------------------

# read on squeezed lines (one space per run), so the optional gaps cannot backtrack far; a PID
# has at most 19 digits, so int() never meets a 5,000-digit "PID"
_PID_CLAIM = re.compile(r"(?:\bpid\b|process[ _-]?id\b|\bid\b) ?(?:is|of)? ?[:=#]? ?(\d{1,19})(?!\d)", re.I)
_SPACES = re.compile(r"\s+")


def _squeezed(line: str) -> str:
    return _SPACES.sub(" ", line)
_NUMBER = re.compile(r"(?<![\w.\-])[-+]?\d+(?:\.\d+)?(?![\w]|\.\d)")


def _mp_children(evidence: QuestionEvidence) -> list[Process]:
    return [p for p in evidence.children if p.name is not None]


@register
@dataclass(frozen=True, kw_only=True)
class Processes(Check):
    """The question's code really created child processes through multiprocessing."""

    kind: ClassVar[str] = "processes"
    min: int = 1
    max: int = 0  # 0: no upper bound
    pool_workers: bool = True  # false: count only the processes the code starts itself

    def evaluate(self, evidence: QuestionEvidence) -> Outcome:
        children = [p for p in _mp_children(evidence) if self.pool_workers or not p.pool_worker]
        pids = [p.pid for p in children]
        root_pids = {evidence.processes[key].pid for key in evidence.roots if key in evidence.processes}
        listed = ", ".join(f"{p.name} (PID {p.pid})" for p in children[:8])
        count = f"{len(children)} child process{'es' if len(children) != 1 else ''}"
        if len(set(pids)) != len(pids) or root_pids & set(pids):
            return Outcome(0.0, f"child PIDs are not distinct from each other and the parent: {pids}")
        if len(children) < self.min:
            threads = [w for w in evidence.writes if not w.main_thread]
            hint = " Output came from threads of the main process, not from processes." if threads else ""
            workers = [p for p in _mp_children(evidence) if p.pool_worker]
            if not self.pool_workers and workers:
                count = f"{len(children)} process{'es' if len(children) != 1 else ''} started by the code itself"
                hint = (f" The {len(workers)} pool worker process(es) do not count: a pool decides which of"
                        " its workers runs each task.")
            return Outcome(0.0, f"observed {count} created by multiprocessing, expected at least {self.min}.{hint}")
        if self.max and len(children) > self.max:
            return Outcome(0.0, f"observed {count}, expected at most {self.max}: {listed}")
        return Outcome(1.0, f"observed {count}: {listed}")


@register
@dataclass(frozen=True, kw_only=True)
class RealPids(Check):
    """Every PID the code printed is the real PID of the process that printed it (or of its
    parent or one of its children): a made-up PID fails."""

    kind: ClassVar[str] = "real_pids"
    require_printed: bool = True  # at least one PID must be printed

    def evaluate(self, evidence: QuestionEvidence) -> Outcome:
        claims = 0
        for key, line in evidence.output_lines():
            line = _squeezed(line)
            for match in _PID_CLAIM.finditer(line):
                claims += 1
                claimed = int(match.group(1))
                if claimed not in _related_pids(evidence, key):
                    return Outcome(
                        0.0,
                        f"printed {line.strip()!r}, but the process that printed it has PID"
                        f" {evidence.processes[key].pid if key in evidence.processes else '?'}"
                        f" and no process it is related to has PID {claimed}",
                    )
        if claims == 0 and self.require_printed:
            return Outcome(0.0, "no process ID was printed (expected e.g. 'Worker process ID: 1234')")
        if claims == 0 and not _mp_children(evidence):
            return Outcome(0.0, "no process was created, so there is no process ID to vouch for")
        return Outcome(1.0, f"all {claims} printed PID(s) match the processes that printed them")


def _related_pids(evidence: QuestionEvidence, key: str) -> set[int]:
    """The PIDs a process may truthfully print: its own, its parent's, its children's
    (within its own PID namespace)."""
    process = evidence.processes.get(key)
    if process is None:
        return set()
    same = [p for p in evidence.processes.values() if p.run == process.run]
    related = {process.pid, process.ppid, process.creator or 0}
    related.update(p.pid for p in same if p.ppid == process.pid or p.creator == process.pid)
    return related


@register
@dataclass(frozen=True, kw_only=True)
class SeparateWriters(Check):
    """`count` distinct values, each printed (stdout, stderr or logging) by a different child
    process that the code started itself. Pool workers that print the values earn
    `from_pool` of the points: which worker prints which value is left to the scheduler, so
    the code does not make each process print its own (and this share is the same on every
    run, however the tasks fell)."""

    kind: ClassVar[str] = "separate_writers"
    count: int
    from_pool: float = 0.0

    def __post_init__(self) -> None:
        if not 0 <= self.from_pool <= 1:
            raise ValueError(f"from_pool must be between 0 and 1, not {self.from_pool}")

    def evaluate(self, evidence: QuestionEvidence) -> Outcome:
        children = {p.key: p for p in evidence.children}
        printed: dict[str, set[str]] = {}
        pooled: set[str] = set()
        parent_values: set[str] = set()
        for key, text in evidence.printed_by_process().items():
            process = evidence.processes.get(key)
            own_pid = process.pid if process else None
            values = {v for line in text.splitlines() for v in _plain_numbers(_without_timestamps(line), own_pid)}
            if key in children and children[key].pool_worker:
                pooled |= values
            elif key in children:
                printed[key] = values
            else:
                parent_values |= values
        pairs = _distinct_representatives(printed, self.count)
        if len(pairs) >= self.count:
            shown = ", ".join(
                f"PID {evidence.processes[key].pid} printed {value}"
                for key, value in sorted(pairs.items(), key=lambda item: evidence.processes[item[0]].pid)[: self.count]
            )
            return Outcome(1.0, shown)
        if len(pooled) >= self.count and self.from_pool:
            return Outcome(self.from_pool, (
                f"pool worker processes printed {len(pooled)} different numbers, but with a pool the"
                " scheduler decides which worker prints which number; start one Process per number"
                f" so that each of {self.count} processes prints its own"))
        writers = len([key for key, values in printed.items() if values])
        detail = (
            f"found {len(pairs)} different number(s) printed by {writers} different child process(es);"
            f" expected {self.count}, each printed by its own process"
        )
        if parent_values and len(pairs) < self.count:
            detail += f". The main process printed {', '.join(sorted(parent_values)[:6])} itself"
            if any(not w.main_thread for w in evidence.writes):
                detail += " (from threads, which are not processes)"
        return Outcome(0.0, detail)


_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[,.]\d+)?|\d\d:\d\d:\d\d(?:[,.]\d+)?")


def _without_timestamps(line: str) -> str:
    """A logging format's time is not a number the process chose to print."""
    return _TIMESTAMP.sub(" ", line)


def _plain_numbers(line: str, own_pid: int | None = None) -> list[str]:
    """Numbers in a line, leaving out printed PIDs: those after a label ("PID 12"), and the
    writer's own PID unless it is the line's only number ("[15] my number is 3")."""
    line = _squeezed(line)
    claimed = {m.start(1) for m in _PID_CLAIM.finditer(line)}
    numbers = [m.group(0).lstrip("+") for m in _NUMBER.finditer(line) if m.start() not in claimed]
    others = [n for n in numbers if n != str(own_pid)]
    return others or numbers


def _distinct_representatives(options: dict[str, set[str]], wanted: int) -> dict[str, str]:
    """Match processes to values so that each process gets a different value, until `wanted`
    are matched (augmenting paths). Each process offers only its `wanted` smallest values:
    that never loses a matching of `wanted` (a process with that many values can always move
    to one nobody else took), and keeps the search small and shallow for any output."""
    offered = {key: sorted(values)[:wanted] for key, values in sorted(options.items())}
    owner: dict[str, str] = {}

    def assign(key: str, seen: set[str]) -> bool:  # recursion depth stays below `wanted`
        for value in offered[key]:
            if value in seen:
                continue
            seen.add(value)
            if value not in owner or assign(owner[value], seen):
                owner[value] = key
                return True
        return False

    for key in offered:
        if len(owner) >= wanted:
            break
        assign(key, set())
    return {key: value for value, key in owner.items()}


# --- values ---------------------------------------------------------------------------------


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
        lines = [line for text in printed.values() for line in text.splitlines()]
        if self.expected is not None and not _value_printed(lines, self.expected, self.ordered):
            shown = "; ".join(line.strip() for line in lines if line.strip())[:200] or "nothing"
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


def _results_shown(evidence: QuestionEvidence, tasks: list[Task], printed: dict[str, str]) -> Outcome:
    raw = sorted({value for task in tasks for value in task.values})
    paired = all(len(task.inputs) == len(task.values) for task in tasks)
    pairs = sorted((given, value) for task in tasks for given, value in zip(task.inputs, task.values)) if paired \
        else [("", value) for value in raw]
    inputs = ", ".join(given for given, _ in pairs[:30])[:120] if paired else ""
    returned = ", ".join(value for _, value in pairs[:30])[:120]
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
                             f" {', '.join(hidden[:5])}: print the results the pool returned"))
    detail = f"the pool's worker processes returned {returned}"
    return Outcome(1.0, detail + (f" for the inputs {inputs}" if inputs else "") + ", and the output shows them")


def _shown_values(text: str) -> set[str]:
    """repr() of every literal in the output, with the elements of every container."""
    found: set[str] = set()

    def add(value: object) -> None:
        found.add(repr(_normalise(value)))
        if isinstance(value, (list, tuple, set)):
            for item in value:
                add(item)
        elif isinstance(value, dict):
            for item in (*value.keys(), *value.values()):
                add(item)

    for value in _literals(text):
        if value is not None:
            add(value)
    return found


def _is_shown(value_repr: str, shown: set[str], tokens: set[str], text: str) -> bool:
    """The output shows the value: as a literal (in a container or alone), or as printed text."""
    value = _literal(value_repr)
    if value is None and value_repr != "None":  # not a literal (or cut short): look for its text
        return value_repr[:100] in text
    if repr(_normalise(value)) in shown or value_repr in shown:
        return True
    if isinstance(value, (list, tuple)) and value:  # a chunk's results, printed joined together
        return all(_is_shown(repr(item), shown, tokens, text) for item in value[:_SAMPLE])
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
                return f"the task with input {given} could not be checked against {relation}"
            checked += 1
            if repr(_normalise(wanted)) != repr(_normalise(_literal(returned))):
                return f"for the input {given} the pool returned {returned}, expected {relation} = {wanted!r}"
    if not checked:
        return "the pool's tasks and their inputs could not be matched"
    return None


_RELATION_BUILTINS = {name: __builtins__[name] if isinstance(__builtins__, dict) else getattr(__builtins__, name)
                      for name in ("abs", "round", "len", "pow", "min", "max", "sum", "str", "int", "float")}


def _same(found: object, expected: object, ordered: bool) -> bool:
    found, expected = _normalise(found), _normalise(expected)
    if ordered or not isinstance(found, list) or not isinstance(expected, list):
        return found == expected
    return Counter(map(repr, found)) == Counter(map(repr, expected))


def _normalise(value: object) -> object:
    if isinstance(value, (list, tuple)):
        return [_normalise(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _value_printed(lines: list[str], expected: object, ordered: bool) -> bool:
    text = "\n".join(lines)
    if any(_same(found, expected, ordered) for found in _literals(text)):
        return True
    if isinstance(expected, list):  # printed one by one ("1\n4\n9", "2 squared is 4", ...)
        all_numbers = [_literal(n) for line in lines for n in _plain_numbers(line)]
        last_numbers = [_literal(_plain_numbers(line)[-1]) for line in lines if _plain_numbers(line)]
        for sequence in (all_numbers, last_numbers):
            for start in range(len(sequence) - len(expected) + 1):
                if _same(sequence[start : start + len(expected)], expected, ordered):
                    return True
    return False


_LITERAL_BUDGET = 2_000_000  # characters handed to literal_eval per output: enough for any honest print


def _literals(text: str) -> list[object]:
    """Every Python literal in the text: bracketed containers, then bare numbers and words.
    One pass pairs the brackets, and a budget bounds the parsing, so no output
    ("[" * 300000) makes this slow."""
    found: list[object] = []
    budget = _LITERAL_BUDGET
    for start, end in _bracket_pairs(text):
        if end - start > 100_000:
            continue
        budget -= end - start + 1
        if budget < 0:
            break
        value = _literal(text[start : end + 1])
        if value is not None:
            found.append(value)
    found.extend(_literal(number) for number in _NUMBER.findall(text))
    return found


def _bracket_pairs(text: str) -> list[tuple[int, int]]:
    """(start, end) of every matched bracket pair, by start."""
    closing = {"[": "]", "(": ")", "{": "}"}
    stack: list[tuple[str, int]] = []
    pairs = []
    for index, char in enumerate(text):
        if char in closing:
            stack.append((closing[char], index))
        elif stack and char == stack[-1][0]:
            pairs.append((stack.pop()[1], index))
        elif char in ")]}":
            stack.clear()  # a stray closer: what was open cannot be a literal across it
    return sorted(pairs)


def _literal(text: str) -> object:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None


def _not_from_pool(tasks: list[Task], expected: object) -> str | None:
    """None when pool workers returned every expected element, else why not."""
    returned = Counter(repr(_normalise(_literal(value))) for task in tasks for value in task.values)
    wanted = Counter(repr(v) for v in (_normalise(expected) if isinstance(expected, list) else [expected]))
    lacking = wanted - returned
    if lacking:
        return (
            f"the pool workers did not compute {', '.join(sorted(lacking))}: the printed values"
            " were not the results of the pool"
        )
    return None


# --- running --------------------------------------------------------------------------------


@register
@dataclass(frozen=True, kw_only=True)
class RanCleanly(Check):
    """No uncaught exception in the question's code, no time-out, and every child exited 0."""

    kind: ClassVar[str] = "ran_cleanly"

    def evaluate(self, evidence: QuestionEvidence) -> Outcome:
        if not evidence.units:
            return Outcome(0.0, "no code was found for this question")
        for unit in evidence.units:
            if unit.status != "ok":
                reason = {
                    "error": f"raised {unit.error}",
                    "timeout": "ran past the time limit and was stopped",
                    "died": "killed the process running it (its kernel), which was restarted",
                    "skipped": "was not run: the question's time was used up",
                    "not run": f"was not run: {unit.error or 'the run ended before it'}",
                }.get(unit.status, unit.status)
                return Outcome(0.0, f"the code at {unit.label} {reason}")
        for child in evidence.children:
            if child.pool_worker and child.exit_code in (None, 0, -signal.SIGTERM, -signal.SIGKILL):
                continue  # a pool ends its workers itself (SIGTERM), or the grader a pool left open (SIGKILL)
            if child.name is not None and child.exit_code != 0:
                if child.exit_code is None:
                    how = "was killed or never finished"
                elif child.exit_code < 0:
                    how = f"was killed by signal {_signal_name(-child.exit_code)}"
                else:
                    how = f"exited with code {child.exit_code}"
                return Outcome(0.0, f"child process {child.name} (PID {child.pid}) {how}")
        return Outcome(1.0, "ran without errors; every child process exited with code 0")


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


@register
@dataclass(frozen=True, kw_only=True)
class Code(Check):
    """Static facts read from the code's syntax tree (not its text, so comments don't count)."""

    kind: ClassVar[str] = "code"
    calls: list[str] = field(default_factory=list)  # any one of these dotted names must be called
    main_guard: bool = False
    observed: str = ""  # "process" or "pool": what the run observed proves the calls were made

    def __post_init__(self) -> None:
        if not self.calls and not self.main_guard:
            raise ValueError("a code check needs 'calls' or 'main_guard: true'")
        if self.observed not in ("", "process", "pool"):
            raise ValueError(f"observed must be 'process' or 'pool' or left out, not {self.observed!r}")

    def _proven(self, evidence: QuestionEvidence) -> bool:
        """The evidence shows what the call makes: points it proves are never taken away."""
        made = [p for p in evidence.children if p.name is not None]
        if self.observed == "process":
            return any(not p.pool_worker for p in made)
        if self.observed == "pool":
            return any(p.pool_worker for p in made)
        return False

    def evaluate(self, evidence: QuestionEvidence) -> Outcome:
        try:
            tree = ast.parse(without_magics(evidence.code))
        except SyntaxError as exc:
            if self._proven(evidence) and not self.main_guard:
                return Outcome(1.0, f"the run shows a {self.observed} was created")
            return self._sketched(evidence.code, f"the code does not parse: {exc.msg} (line {exc.lineno})")
        if not evidence.code.strip():
            return self._sketched(evidence.answer, "no code was found for this question")
        problems = []
        if self.calls:
            if not calls_any(tree, self.calls) and not self._proven(evidence):
                problems.append(f"does not call {' or '.join(self.calls)}")
        if self.main_guard and not _guarded(tree, evidence.file_code):
            problems.append("has no `if __name__ == \"__main__\":` guard")
        if problems:
            return Outcome(0.0, "the code " + " and ".join(problems))
        return Outcome(1.0, "the code " + ", ".join(
            ([f"calls {' or '.join(self.calls)}"] if self.calls else []) + (["has a __main__ guard"] if self.main_guard else [])
        ))


    def _sketched(self, text: str, why: str) -> Outcome:
        """Code that cannot run (broken, or only sketched in the text answer) still shows
        which call the student meant, as an instructor reading it would see."""
        if self.calls and not self.main_guard:
            for name in self.calls:
                if re.search(r"(?<![\w])(?:\w+\.)*" + re.escape(short_name(name)) + r"\s*\(", text):
                    return Outcome(1.0, f"{why}, but it calls {short_name(name)}(...)")
        return Outcome(0.0, why)


def _guarded(tree: ast.Module, file_code: str) -> bool:
    """The question's code has its own guard, or a guard elsewhere in the file calls it."""
    if any(is_main_guard(node) for node in tree.body):
        return True
    defined = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    try:
        whole = ast.parse(without_magics(file_code))
    except SyntaxError:
        return False
    return any(
        is_main_guard(node) and defined & called_names(node) for node in whole.body
    )
