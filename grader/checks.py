"""The registry of check kinds: what a rubric can ask about one question.

Each kind is one frozen dataclass whose fields are its rubric parameters (the rubric loader
validates YAML against them) and whose `evaluate` looks at the question's evidence and says
how much of its points it earned and why. A new kind is one class with `@register`.
Checks judge what the probe observed, never what the student's code claims in print.
"""

from __future__ import annotations

import ast
import heapq
import re
import signal
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import ClassVar

from grader.evidence import Process, QuestionEvidence, Task
from grader.syntax import called_names, calls_any, is_main_guard, short_name, without_magics

CHECK_KINDS: dict[str, type[Check]] = {}


def register(cls: type[Check]) -> type[Check]:
    CHECK_KINDS[cls.kind] = cls
    return cls


@dataclass(frozen=True)
class Outcome:
    fraction: float  # share of the check's points earned, 0..1
    detail: str  # what was observed, in words a student can act on


ERROR_CHARS = 2_000  # of an exception message, a printed line or a value quoted in feedback


def clip(text: str, limit: int = ERROR_CHARS) -> str:
    """Student text quoted in feedback, bounded: a 20 MiB exception message or a 1 MiB line
    is cut, with a note, so it cannot go whole into every report."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit:,} more characters cut)"


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

    @property
    def reads_text(self) -> bool:
        """It judges the text answer, not code: a question with only such checks asks for text."""
        return False

    def evaluate(self, evidence: QuestionEvidence) -> Outcome:
        raise NotImplementedError


@register
@dataclass(frozen=True, kw_only=True)
class Withheld(Check):
    """A hidden check as a student's kit has it (`grader assign`): its name, points and
    messages, and none of its parameters, so there is nothing to game. It is not evaluated
    here: the instructor's batch grades it."""

    kind: ClassVar[str] = "withheld"
    hidden: bool = True
    text: bool = False  # the check it stands for reads the text answer

    @property
    def reads_text(self) -> bool:
        return self.text

    def evaluate(self, evidence: QuestionEvidence) -> Outcome:
        return Outcome(0.0, "")


# --- text -----------------------------------------------------------------------------------


@register
@dataclass(frozen=True, kw_only=True)
class Concepts(Check):
    """Partial credit for each group of synonyms the answer mentions. A plain word matches
    at the start of a word ("process" matches "processes"); `re:` starts a regex.

    The answer must read as prose: the words counted against `min_words` and `full_words`
    are at most three per word that is not a key word, two per different word, and, past
    the first ten, ten per common function word ("the", "is", "of", ...). A terse sentence
    keeps all its words; a list of key words, repeated or padded, does not (`prose: false`
    counts every word)."""

    kind: ClassVar[str] = "concepts"
    groups: list[list[str]]
    full_marks_at: int = 0  # groups needed for full marks; 0 means all of them
    min_words: int = 5
    full_words: int = 0  # an answer shorter than this (a sentence or two) earns at most half
    prose: bool = True  # the answer's words count only as far as it reads as sentences

    @property
    def reads_text(self) -> bool:
        return True

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
        answer = evidence.answer[:_ANSWER_CHARS]
        words = [(m.start(), m.end()) for m in _WORD.finditer(answer)]
        counted, listed = (_prose_words(answer, words, self.groups) if self.prose else (len(words), ""))
        if counted < self.min_words:
            if listed:
                return Outcome(0.0, f"{listed}: explain the idea in sentences, in your own words")
            found = "no answer" if not words else f"only {len(words)} word(s)"
            return Outcome(0.0, f"{found} under this question's header (at least {self.min_words} expected)")
        matched = [group for group in self.groups if any(_mentions(answer, p) for p in group)]
        missing = [group[0] for group in self.groups if group not in matched]
        needed = self.full_marks_at or len(self.groups)
        fraction = min(1.0, len(matched) / needed)
        detail = f"mentions {len(matched)} of {len(self.groups)} key ideas ({needed} for full marks)"
        if missing and fraction < 1:
            detail += f"; not covered: {', '.join(missing)}"
        if counted < self.full_words and fraction > 0.5:
            fraction = 0.5
            if listed:
                detail += f"; {listed}: explain it in sentences, in your own words"
            else:
                detail += f"; the answer is short ({len(words)} words): explain it more fully, in your own words"
        return Outcome(fraction, detail)


_ANSWER_CHARS = 100_000  # of a text answer, read by the check: far beyond any real answer
_WORD = re.compile(r"\w+")
_FUNCTION_WORDS = frozenset(["a", "an", "the", "is", "are", "was", "were", "be", "been", "being", "am", "of", "to", "in", "on", "at", "by", "for", "with", "from", "as", "and", "or", "but", "nor", "not", "no", "so", "than", "then", "that", "which", "who", "whom", "whose", "this", "these", "those", "it", "its", "they", "them", "their", "there", "here", "can", "could", "will", "would", "may", "might", "must", "should", "shall", "do", "does", "did", "has", "have", "had", "if", "when", "while", "where", "because", "since", "also", "each", "every", "any", "all", "some", "more", "most", "other", "such", "into", "onto", "over", "under", "between", "through", "about", "only", "very", "just", "one", "two", "own", "same", "both", "either", "neither", "like", "unlike", "whereas", "however", "therefore", "thus", "hence", "i", "we", "you", "he", "she", "our", "your", "my", "his", "her", "us", "me", "what", "how", "why", "per", "via", "without", "within", "across"])


def _prose_words(answer: str, words: list[tuple[int, int]], groups: list[list[str]]) -> tuple[int, str]:
    """How many of the answer's words count: all of them in sentences; in a list of key
    words (bare, repeated or padded with other words) only as many as its prose carries.
    Also what the answer looks like, when that is fewer than all."""
    starts = [start for start, _ in words]
    keyword = bytearray(len(words))
    for group in groups:
        for pattern in group:
            for match in _pattern(pattern).finditer(answer):
                index = max(bisect_right(starts, match.start()) - 1, 0)
                while index < len(words) and words[index][0] < max(match.end(), match.start() + 1):
                    if words[index][1] > match.start():
                        keyword[index] = 1
                    index += 1
    total = len(words)
    keywords = sum(keyword)
    lowered = [answer[start:end].lower() for start, end in words]
    function = sum(1 for word, key in zip(lowered, keyword) if not key and word in _FUNCTION_WORDS)
    distinct = len(set(lowered))
    counted = min(total, 3 * (total - keywords), 2 * distinct, 10 + 10 * function)
    if counted >= total:
        return total, ""
    if counted == 3 * (total - keywords):
        return counted, f"the answer reads as a list of key words ({keywords} of its {total} words are the key words themselves)"
    if counted == 2 * distinct:
        return counted, f"the answer repeats itself ({distinct} different words in {total})"
    return counted, f"the answer reads as a list of words, not sentences (only {function} of its {total} words join them)"


@lru_cache(maxsize=256)
def _pattern(pattern: str) -> re.Pattern[str]:
    if pattern.startswith("re:"):
        return re.compile(pattern[3:], re.IGNORECASE)
    return re.compile(r"(?<!\w)" + re.escape(pattern), re.IGNORECASE)


def _mentions(text: str, pattern: str) -> bool:
    return _pattern(pattern).search(text) is not None


# --- processes ------------------------------------------------------------------------------

# read on squeezed text (one space per gap), so the optional gaps cannot backtrack far; a PID
# has at most 19 digits, so int() never meets a 5,000-digit "PID"
_PID_CLAIM = re.compile(r"(?:\bpid\b|process[ _-]?id\b|\bid\b) ?(?:is|of)? ?[:=#]? ?(\d{1,19})(?!\d)", re.IGNORECASE)
_GAPS = re.compile(r"[^\S\n]+")
_NUMBER = re.compile(r"(?<![\w.\-])[-+]?\d+(?:\.\d+)?(?![\w]|\.\d)")


def _squeezed(text: str) -> str:
    """The text with its lines ended by \\n only (as str.splitlines ends them) and every other
    run of white space made one space: the parsers below read it whole, never line by line,
    so a million short lines cost no more than one long one."""
    return _GAPS.sub(" ", "\n".join(text.splitlines()))


def _mp_children(evidence: QuestionEvidence) -> list[Process]:
    return [p for p in evidence.children if p.name is not None]


def _named(process: Process) -> str:
    return f"{clip(process.name or '?', 60)} (PID {process.pid})"


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
        listed = ", ".join(_named(p) for p in children[:8]) + (", ..." if len(children) > 8 else "")
        count = f"{len(children)} child process{'es' if len(children) != 1 else ''}"
        if len(set(pids)) != len(pids) or root_pids & set(pids):
            return Outcome(0.0, f"child PIDs are not distinct from each other and the parent: {clip(str(pids), 300)}")
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
    parent or one of its children): a made-up PID fails. 0 is never a real PID, and 1 only
    when a process of the run has it (in a PID namespace, 1 is the namespace's init, not a
    process of the student's)."""

    kind: ClassVar[str] = "real_pids"
    require_printed: bool = True  # at least one PID must be printed

    def evaluate(self, evidence: QuestionEvidence) -> Outcome:
        claims = 0
        index = _pid_index(evidence)
        for key, text in evidence.output_by_process().items():
            text = _squeezed(text)
            related = _related_pids(evidence, key, index)
            for match in _PID_CLAIM.finditer(text):
                claims += 1
                claimed = int(match.group(1))
                if claimed not in related:
                    line = text[text.rfind("\n", 0, match.start()) + 1 : _line_end(text, match.end())]
                    return Outcome(
                        0.0,
                        f"printed {clip(line.strip(), 200)!r}, but the process that printed it has PID"
                        f" {evidence.processes[key].pid if key in evidence.processes else '?'}"
                        f" and no process it is related to has PID {claimed}",
                    )
        if claims == 0 and self.require_printed:
            return Outcome(0.0, "no process ID was printed (expected e.g. 'Worker process ID: 1234')")
        if claims == 0 and not _mp_children(evidence):
            return Outcome(0.0, "no process was created, so there is no process ID to vouch for")
        return Outcome(1.0, f"all {claims} printed PID(s) match the processes that printed them")


def _line_end(text: str, position: int) -> int:
    end = text.find("\n", position)
    return len(text) if end < 0 else end


def _pid_index(evidence: QuestionEvidence) -> tuple[dict[tuple[str, int], set[int]], set[str]]:
    """Once per question: the children's PIDs of each (run, PID), and the runs where a
    process of the run itself is PID 1 (linear, however many processes the run made)."""
    children: dict[tuple[str, int], set[int]] = defaultdict(set)
    with_one: set[str] = set()
    for p in evidence.processes.values():
        children[(p.run, p.ppid)].add(p.pid)
        if p.creator is not None:
            children[(p.run, p.creator)].add(p.pid)
        if p.pid == 1:
            with_one.add(p.run)
    return children, with_one


def _related_pids(evidence: QuestionEvidence, key: str, index=None) -> set[int]:  # type: ignore[no-untyped-def]
    """The PIDs a process may truthfully print: its own, its parent's, its children's
    (within its own PID namespace). Never 0 (no process: what getppid() says of a parent
    outside the namespace), and 1 only when it is a process of the run, not the init of
    the namespace the run is in."""
    process = evidence.processes.get(key)
    if process is None:
        return set()
    children, with_one = index or _pid_index(evidence)
    related = {process.pid, process.ppid, *children.get((process.run, process.pid), ())}
    if process.creator is not None:
        related.add(process.creator)
    related.discard(0)
    if process.run not in with_one:
        related.discard(1)
    return related


@register
@dataclass(frozen=True, kw_only=True)
class SeparateWriters(Check):
    """`count` distinct values, each printed (stdout, stderr or logging) by a different child
    process that the code started itself. A process counts only with a number of its own: one
    that none of the other counted processes printed (four processes that each print
    `1 2 3 4` are one process's numbers four times; four that each print their own PID are
    four different numbers). Numbers are read either way a line can mean them: all of a
    line's numbers, or the last of a line with two (`Process 2: 4` is the number 4 of process
    2, also when process 4 says `Process 4: 8`). Pool workers that print the values earn `from_pool` of
    the points: which worker prints which value is left to the scheduler, so the code does
    not make each process print its own (and this share is the same on every run, however
    the tasks fell)."""

    kind: ClassVar[str] = "separate_writers"
    count: int
    from_pool: float = 0.0

    def __post_init__(self) -> None:
        if not 0 <= self.from_pool <= 1:
            raise ValueError(f"from_pool must be between 0 and 1, not {self.from_pool}")

    def evaluate(self, evidence: QuestionEvidence) -> Outcome:
        children = {p.key: p for p in evidence.children}
        every: dict[str, set[str]] = {}  # per child the code started: all the numbers it printed
        last: dict[str, set[str]] = {}  # and the last number of each of its lines
        pooled: set[str] = set()
        parent_values: set[str] = set()
        for key, text in evidence.printed_by_process().items():
            process = evidence.processes.get(key)
            lines, pids = _numbers_by_line(_without_timestamps(text), process.pid if process else None)
            if not lines and pids and key in children:
                lines = [[pid] for pid in pids]  # only its PID, labelled: a number of its own all the same
            values = {value for line in lines for value in line}
            if key in children and children[key].pool_worker:
                pooled |= values
            elif key in children:
                every[key] = values
                last[key] = {line[-1] for line in lines if len(line) <= 2}  # "Process 2: 4", not "3 4 1 2"
            else:
                parent_values |= values
        own = max((_own_numbers(every, self.count), _own_numbers(last, self.count)), key=len)
        if len(own) >= self.count:
            shown = ", ".join(
                f"PID {evidence.processes[key].pid} printed {clip(value, 40)}"
                for key, value in sorted(own.items(), key=lambda item: evidence.processes[item[0]].pid)[: self.count]
            )
            return Outcome(1.0, shown)
        if len(pooled) >= self.count and self.from_pool:
            return Outcome(self.from_pool, (
                f"pool worker processes printed {len(pooled)} different numbers, but with a pool the"
                " scheduler decides which worker prints which number; start one Process per number"
                f" so that each of {self.count} processes prints its own"))
        writers = len([key for key, values in every.items() if values])
        detail = (
            f"found {len(own)} different number(s) printed by {writers} different child process(es);"
            f" expected {self.count}, each printed by its own process"
        )
        if writers > len(own):
            shared = sorted(set.intersection(*[values for values in every.values() if values]), key=_number_order)
            detail += (f". {writers - len(own)} of the processes printed only numbers that another process"
                       " printed too" + (f" (all of them printed {', '.join(clip(v, 20) for v in shared[:6])})"
                                         if shared else "")
                       + ": each process must print a number of its own")
        if parent_values and len(own) < self.count:
            detail += f". The main process printed {', '.join(clip(v, 20) for v in sorted(parent_values)[:6])} itself"
            if any(not w.main_thread for w in evidence.writes):
                detail += " (from threads, which are not processes)"
        return Outcome(0.0, detail)


_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[,.]\d+)?|\d\d:\d\d:\d\d(?:[,.]\d+)?")


def _without_timestamps(text: str) -> str:
    """A logging format's time is not a number the process chose to print."""
    return _TIMESTAMP.sub(" ", text)


def _numbers_by_line(text: str, own_pid: int | None = None) -> tuple[list[list[str]], list[str]]:
    """The numbers of each line that has any, leaving out printed PIDs: those after a label
    ("PID 12"), and the writer's own PID unless it is the line's only number ("[15] my
    number is 3"); and the PIDs the labels named. Each line is read by one C-level scan
    (two where the text names a PID), so a million short lines cost little."""
    text = _squeezed(text)
    labelled = _PID_CLAIM.search(text) is not None
    own = str(own_pid)
    lines: list[list[str]] = []
    pids: list[str] = []
    for line in text.split("\n"):
        named = {m.start(1): m.group(1) for m in _PID_CLAIM.finditer(line)} if labelled else None
        if named:
            pids.extend(named.values())
            found = [m.group(0) for m in _NUMBER.finditer(line) if m.start() not in named]
        else:
            found = _NUMBER.findall(line)
        if found:
            if "+" in line:
                found = [number.lstrip("+") for number in found]
            if own in found:
                found = [number for number in found if number != own] or found
            lines.append(found)
    return lines, pids


def _number_order(value: str) -> tuple[int, str]:
    return (len(value), value)


def _own_numbers(options: dict[str, set[str]], wanted: int) -> dict[str, str]:
    """Processes that each printed a number none of the other counted processes printed, with
    one such number each. Processes that printed the very same numbers count once. When
    a process's numbers are all printed by others too, the process printing the most
    numbers is set aside first (it repeats the others: a process that prints everyone's
    numbers does not hide theirs), and the rest are looked at again, until every process
    left has a number of its own or `wanted` do. A number that every process printed is the
    program's, not one process's ("Number 3 of 4", a parent's PID), and is left out, except
    where it is all a process printed. Linear in the numbers printed."""
    printing = [values for values in options.values() if values]
    common = set.intersection(*printing) if len(printing) > 1 else set()
    distinct: dict[frozenset[str], str] = {}
    for key, values in sorted(options.items()):
        if values:
            distinct.setdefault(frozenset(values - common or values), key)
    alive = {key: set(values) for values, key in distinct.items()}
    holders: dict[str, set[str]] = defaultdict(set)
    for key, values in alive.items():
        for value in values:
            holders[value].add(key)
    own = {key: {value for value in values if len(holders[value]) == 1} for key, values in alive.items()}
    with_own = sum(1 for values in own.values() if values)
    waiting = [(-len(alive[key]), key) for key, values in own.items() if not values]
    heapq.heapify(waiting)
    while waiting and with_own < wanted:
        _, key = heapq.heappop(waiting)
        if own[key]:
            continue  # it gained a number of its own when another was set aside
        for value in alive.pop(key):
            holders[value].discard(key)
            if len(holders[value]) == 1:
                (other,) = holders[value]
                with_own += not own[other]
                own[other].add(value)
        del own[key]
    return {key: min(values, key=_number_order) for key, values in own.items() if values}


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


def _results_shown(evidence: QuestionEvidence, tasks: list[Task], printed: dict[str, str]) -> Outcome:
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

        lines = _numbers_by_line(text)[0]
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
    found.extend(_literal(number) for number in _NUMBER.findall(text))
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
                    "error": f"raised {clip(unit.error or '')}",
                    "timeout": "ran past the time limit and was stopped",
                    "died": "killed the process running it (its kernel), which was restarted",
                    "skipped": "was not run: the question's time was used up",
                    "not run": f"was not run: {clip(unit.error or 'the run ended before it')}",
                }.get(unit.status, clip(unit.status, 100))
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
                return Outcome(0.0, f"child process {_named(child)} {how}{child_failure(child)}")
        return Outcome(1.0, "ran without errors; every child process exited with code 0")


_FRAME = re.compile(r'^  File "(?P<file>[^"]*)", line (?P<line>\d+), in (?P<function>.*)$')
_LIBRARY = ("/multiprocessing/", "/concurrent/", "/site-packages/", "/lib/python", "_grader_")


def child_failure(child: Process) -> str:
    """What a child printed as it failed, as Jupyter would show it: the exception, and the
    last line of the student's own code it went through; with a spawned child that could
    not find a notebook's function, why."""
    text = child.stderr[-20_000:]
    start = text.rfind("Traceback (most recent call last):")
    if start < 0:
        return ""
    rows = text[start:].splitlines()
    exception = next((row for row in reversed(rows) if row and not row.startswith(" ")), "")
    own = None
    for index, row in enumerate(rows):
        frame = _FRAME.match(row)
        if frame and not any(part in frame.group("file") for part in _LIBRARY):
            code = rows[index + 1].strip() if index + 1 < len(rows) and rows[index + 1].startswith("    ") else ""
            own = f"line {frame.group('line')} in {frame.group('function')}" + (f": `{code}`" if code else "")
    said = f": {clip(exception, 300)}" + (f" (at {clip(own, 200)})" if own else "")
    if "Can't get attribute" in exception and "__main__" in exception:
        said += (". A process started with spawn or forkserver imports the main module again, and a function"
                 " defined in a notebook cell is not in it: put the function in a .py file and import it,"
                 " or use the default start method (fork)")
    return said


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
        """The evidence shows what the call makes: points it proves are never taken away. A
        process's name is its own claim, so it proves the call only in a submission that
        imports the call's module at all."""
        modules = {call.split(".")[0] for call in self.calls}
        if modules and not any(re.search(rf"^[ \t]*(?:from|import)[ \t]+{re.escape(m)}\b", evidence.file_code, re.MULTILINE)
                               for m in modules):
            return False
        made = [p for p in evidence.children if p.name is not None]
        if self.observed == "process":
            return any(not p.pool_worker for p in made)
        if self.observed == "pool":
            return any(p.pool_worker for p in made)
        return False

    def evaluate(self, evidence: QuestionEvidence) -> Outcome:
        tree = _parsed(evidence.code)
        if isinstance(tree, str):
            if self._proven(evidence) and not self.main_guard:
                return Outcome(1.0, f"the run shows a {self.observed} was created")
            return self._sketched(evidence.code, f"the code does not parse: {tree}")
        if not evidence.code.strip():
            return self._sketched(evidence.answer, "no code was found for this question")
        problems = []
        if self.calls and not _calls_any(evidence.code, tuple(self.calls)) and not self._proven(evidence):
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
            for name in self.calls:  # `multiprocessing.Pool(` or `mp.Pool(`: the name after any dots
                if re.search(r"(?<!\w)" + re.escape(short_name(name)) + r"\s*\(", text[:_CODE_CHARS]):
                    return Outcome(1.0, f"{why}, but it calls {short_name(name)}(...)")
        return Outcome(0.0, why)


_CODE_CHARS = 2_000_000  # of a question's code read for a sketched call: any real notebook's


@lru_cache(maxsize=8)  # a file's code is read by every check that looks at its guard
def _parsed(code: str) -> ast.Module | str:
    """The code's syntax tree, or why there is none: a syntax error, or code that nests
    deeper than Python's parser goes (100,000 brackets), or characters it cannot encode."""
    try:
        return ast.parse(without_magics(code))
    except SyntaxError as exc:
        return f"{clip(exc.msg or 'invalid syntax', 200)} (line {exc.lineno})"
    except (ValueError, UnicodeError):
        return "it holds characters that are not Python source (a NUL byte or a lone surrogate)"
    except (RecursionError, MemoryError):
        return "it nests deeper than Python can parse"


@lru_cache(maxsize=8)
def _calls_any(code: str, names: tuple[str, ...]) -> bool:
    tree = _parsed(code)
    try:
        return not isinstance(tree, str) and calls_any(tree, names)
    except RecursionError:  # an attribute chain thousands of names long
        return False


def _guarded(tree: ast.Module, file_code: str) -> bool:
    """The question's code has its own guard, or a guard elsewhere in the file calls it."""
    if any(is_main_guard(node) for node in tree.body):
        return True
    defined = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    whole = _parsed(file_code)
    if isinstance(whole, str):
        return False
    try:
        return any(is_main_guard(node) and defined & called_names(node) for node in whole.body)
    except RecursionError:
        return False
