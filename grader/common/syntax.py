"""Facts about Python syntax that execution (which statements to run on their own),
attribution (what a piece of code does) and the `code` check (what it calls, is there a
guard) need: kept in one place so they agree."""

from __future__ import annotations

import ast
import re

_NEWLINE = re.compile(r"\r\n|\r|\n")
# what ast.parse raises on text that is no Python: a syntax error, a NUL byte or a lone
# surrogate (ValueError), or nesting deeper than the parser goes (100,000 brackets or signs)
UNPARSABLE = (SyntaxError, ValueError, RecursionError, MemoryError)


def unparsable(exc: BaseException) -> str:
    """Why ast.parse refused the text (one of UNPARSABLE), as the feedback says it."""
    if isinstance(exc, SyntaxError):
        return exc.msg or "invalid syntax"
    if isinstance(exc, ValueError):  # UnicodeError is one
        return "it holds characters that are not Python source (a NUL byte or a lone surrogate)"
    return "it nests deeper than Python can parse"


def source_lines(text: str) -> list[str]:
    """The lines of code as Python counts them (ast, tracebacks, the runner): only \\n, \\r\\n
    and \\r end a line; str.splitlines would also split at \\x0c or \\u2028 inside a string."""
    lines = _NEWLINE.split(text)
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def without_magics(code: str) -> str:
    """The code with IPython's magics and shell escapes (`%time`, `!pip`) blanked, so it
    parses as Python with its line numbers kept."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source_lines(code))


def is_main_guard(node: ast.AST) -> bool:
    """`if __name__ == "__main__":` in either order of the comparison."""
    if not isinstance(node, ast.If) or not isinstance(node.test, ast.Compare):
        return False
    parts = [node.test.left, *node.test.comparators]
    return any(isinstance(p, ast.Name) and p.id == "__name__" for p in parts) and any(
        isinstance(p, ast.Constant) and p.value == "__main__" for p in parts
    )


def short_name(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def calls_any(tree: ast.AST, names: tuple[str, ...] | list[str]) -> bool:
    """The code calls one of the dotted `names` (resolved as `called_names` does); False for
    an attribute chain too long to walk."""
    try:
        called = called_names(tree)
    except RecursionError:
        return False
    return any(short_name(name) in called or name in called for name in names)


def code_calls(code: str, names: tuple[str, ...] | list[str]) -> bool:
    """`calls_any` on source text: False for code that cannot be parsed (a syntax error, a NUL
    byte, nesting deeper than the parser goes)."""
    try:
        tree = ast.parse(without_magics(code))
    except UNPARSABLE:
        return False
    return calls_any(tree, names)


def called_names(tree: ast.AST) -> set[str]:
    """Names of everything called, as written (`mp.Process`) and resolved (`multiprocessing.Process`)
    through imports (`from multiprocessing import Process as P`), contexts
    (`ctx = mp.get_context("spawn")`, `get_context().Pool`) and subclasses
    (`class Worker(Process)`), plus the bare attribute (`Process`)."""
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:  # `import a.b` binds a; `import a.b as c` binds c to a.b
                if alias.asname:
                    aliases[alias.asname] = alias.name
                else:
                    head = alias.name.split(".")[0]
                    aliases[head] = head
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    for _ in range(2):  # contexts and subclasses may build on each other
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
                made = _resolve(_dotted(node.value.func), aliases)
                if made.endswith("get_context"):
                    for target in node.targets:
                        if isinstance(target, ast.Name):
                            aliases[target.id] = made.rsplit(".", 1)[0] if "." in made else "multiprocessing"
            elif isinstance(node, ast.ClassDef):
                for base in node.bases:
                    resolved = _resolve(_dotted(base), aliases)
                    if resolved:
                        aliases[node.name] = resolved
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            dotted = _dotted(node.func)
            if dotted:
                names.add(dotted)
                names.add(_resolve(dotted, aliases))
                names.add(short_name(dotted))
                names.add(short_name(_resolve(dotted, aliases)))
    return names


def _resolve(dotted: str, aliases: dict[str, str]) -> str:
    head, _, rest = dotted.partition(".")
    return aliases.get(head, head) + (f".{rest}" if rest else "") if dotted else ""


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else ""
    if isinstance(node, ast.Call) and _dotted(node.func).endswith("get_context"):
        return "multiprocessing"  # get_context("spawn").Process(...)
    return ""
