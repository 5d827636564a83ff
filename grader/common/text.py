"""Student-derived text made safe for each place it goes.

A student names their own file, so a name is any byte sequence: not UTF-8 (Python hands
such bytes over as lone surrogates), control characters, `=HYPERLINK(...)`, 250 characters.
One helper per destination, used by every writer of that destination:

* `readable`: any text as valid Unicode (a lone surrogate becomes `\\xNN`), for UTF-8 files.
* `clean`: `readable` applied to every string of a JSON-like document.
* `terminal`: no control character (C0, DEL, C1, ESC, bidi overrides, line separators).
* `report_name`: a unique, safe ([A-Za-z0-9._-]), bounded and stable file name.
* `csv_row`: cells that never start a formula, numbers kept as numbers.
* `clip`: a bounded quote of student text in feedback, saying how much was cut.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from enum import Enum

_SURROGATE = re.compile("[\ud800-\udfff]")


def _escape_surrogate(match: re.Match) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    return f"\\u{code:04x}"


def readable(text: str) -> str:
    """`text` as valid Unicode: the undecodable bytes of a file name shown as `\\xNN`."""
    return _SURROGATE.sub(_escape_surrogate, text) if _SURROGATE.search(text) else text


def clean(value):  # type: ignore[no-untyped-def]
    """A JSON-like document (dicts, lists, tuples, strings) with every string `readable`."""
    if isinstance(value, str):
        return readable(value)
    if isinstance(value, dict):
        return {clean(key): clean(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(item) for item in value]
    return value


# C0 (newline and tab too), DEL, C1 (CSI, OSC...), and the Unicode characters that move or
# reorder what a terminal shows: line and paragraph separators, bidi embeddings and isolates.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
_CONTROL_BUT_NEWLINE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")


def _escape_control(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal(text: str, lines: bool = False) -> str:
    """`text` safe to print: every control character shown as `\\xNN`, so a student cannot
    clear the screen, write the clipboard (OSC 52) or fake a row of the table. `lines`: keep
    newlines (a multi-line report printed whole); tabs become spaces."""
    text = readable(text)
    if lines:
        return _CONTROL_BUT_NEWLINE.sub(_escape_control, text.replace("\r\n", "\n").expandtabs(4))
    return _CONTROL.sub(_escape_control, text)


SLUG_LENGTH = 60
HASH_LENGTH = 10


def report_name(student: str) -> str:
    """The stem of a student's report files (`<stem>.md`, `<stem>.html`): a readable slug of
    the name and a short hash of the whole name. Only [A-Za-z0-9._-], at most 71 characters,
    the same on every run, and two names never share one (`a b` and `a_b`, `Ann` and `ann` on
    a case-insensitive disk)."""
    ascii_name = unicodedata.normalize("NFKD", readable(student)).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", ascii_name)
    slug = re.sub(r"_{2,}", "_", slug).strip("._-")[:SLUG_LENGTH].rstrip("._-") or "student"
    digest = hashlib.sha256(student.encode("utf-8", "surrogatepass")).hexdigest()[:HASH_LENGTH]
    return f"{slug}-{digest}"


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value):  # type: ignore[no-untyped-def]
    """A cell a spreadsheet shows as written: text starting with = + - @ tab or CR gets a
    leading apostrophe (OWASP's advice against CSV injection); a number is written as a
    number (`-5` stays -5), None as an empty cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, float)):
        return f"{value:g}"
    text = readable(str(value))
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_row(values) -> list[str]:  # type: ignore[no-untyped-def]
    """Every cell of a row through `csv_cell`: the one rule for every CSV the grader writes."""
    return [csv_cell(value) for value in values]


def scrub(value):  # type: ignore[no-untyped-def]
    """A result with every string of it as `terminal(lines=True)` shows it: what a student
    wrote (a process name, an exception, printed text) reaches no report, and through it no
    terminal or editor, with an escape sequence, a bidi override or a stray carriage return."""
    import dataclasses
    import enum

    if isinstance(value, enum.Enum):
        return value
    if isinstance(value, str):
        return terminal(readable(value), lines=True)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.replace(value, **{f.name: scrub(getattr(value, f.name))
                                             for f in dataclasses.fields(value) if f.init})
    if isinstance(value, (list, tuple)):
        return type(value)(scrub(item) for item in value)
    if isinstance(value, dict):
        return {key: scrub(item) for key, item in value.items()}
    return value



ERROR_CHARS = 2_000  # of an exception message, a printed line or a value quoted in feedback


def clip(text: str, limit: int = ERROR_CHARS) -> str:
    """Student text quoted in feedback, bounded: a 20 MiB exception message or a 1 MiB line
    is cut, with a note, so it cannot go whole into every report."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit:,} more characters cut)"

class Word(str, Enum):
    """An enum whose values are the words the exports and the cache write: compared, dumped
    to JSON and written to CSV as that word."""

    def __str__(self) -> str:
        return str(self.value)
