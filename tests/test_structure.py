"""The package's import graph has no cycle: a module can be read, and tested, before those that use it."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "grader"


def _imports() -> dict[str, set[str]]:
    """Module -> the grader modules it imports when it is imported (not inside functions,
    which import lazily on purpose; `if TYPE_CHECKING:` blocks count)."""
    modules: dict[str, set[str]] = {}
    for file in PACKAGE.rglob("*.py"):
        parts = file.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found: set[str] = set()

        def visit(body: list[ast.stmt], found: set[str] = found) -> None:
            for node in body:
                if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("grader"):
                    found.add(node.module)
                    found.update(f"{node.module}.{alias.name}" for alias in node.names)
                elif isinstance(node, ast.Import):
                    found.update(alias.name for alias in node.names if alias.name.startswith("grader"))
                elif isinstance(node, (ast.If, ast.Try)):
                    visit(node.body, found)

        visit(ast.parse(file.read_text(encoding="utf-8")).body)
        modules[name] = found
    return {name: {d for d in deps if d in modules and d != name} for name, deps in modules.items()}


def test_the_import_graph_has_no_cycle():
    graph, state, cycles = _imports(), {}, []

    def walk(module: str, path: list[str]) -> None:
        state[module] = "open"
        for dependency in sorted(graph[module]):
            if state.get(dependency) == "open":
                cycles.append(path[path.index(dependency):] + [dependency])
            elif dependency not in state:
                walk(dependency, [*path, dependency])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            walk(module, [module])
    assert len(graph) > 40 and cycles == []
