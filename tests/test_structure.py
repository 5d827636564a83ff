"""The package's shape: stage packages in pipeline order, each importing only earlier stages
(or itself), and no import cycle, so that a module can be read, and tested, before those that
use it."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "grader"

# the pipeline, in order: a stage may import itself and those before it, never one after
STAGES = ["common", "load", "attribution", "probe", "run", "evidence", "grading", "batch", "analysis",
          "reports", "gradebook", "kit", "cli", "__main__"]


def _imports(lazy: bool) -> dict[str, set[str]]:
    """Module -> the grader modules it imports: when it is imported (`if TYPE_CHECKING:`
    blocks count), and with `lazy` also inside functions, which import late on purpose."""
    modules: dict[str, set[str]] = {}
    for file in PACKAGE.rglob("*.py"):
        parts = file.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found: set[str] = set()
        tree = ast.parse(file.read_text(encoding="utf-8"))
        nodes = ast.walk(tree) if lazy else _top_level(tree.body)
        for node in nodes:
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("grader"):
                found.add(node.module)
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names if alias.name.startswith("grader"))
        modules[name] = found
    return {name: {d for d in deps if d in modules and d != name} for name, deps in modules.items()}


def _top_level(body: list[ast.stmt]) -> list[ast.stmt]:
    nodes: list[ast.stmt] = []
    for node in body:
        nodes.append(node)
        if isinstance(node, (ast.If, ast.Try)):
            nodes.extend(_top_level(node.body))
    return nodes


def _stage(module: str) -> int:
    parts = module.split(".")
    return -1 if parts == ["grader"] else STAGES.index(parts[1])  # the package itself: its version


def test_the_import_graph_has_no_cycle():
    graph, state, cycles = _imports(lazy=False), {}, []

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
    assert len(graph) > 60 and cycles == []


def test_every_module_is_in_a_stage_and_no_stage_imports_a_later_one():
    graph = _imports(lazy=True)
    later = sorted(
        f"{module} -> {dependency}"
        for module, dependencies in graph.items() for dependency in dependencies
        # grader.check(), the students' entry point, is the package's one late import of the kit
        if _stage(dependency) > _stage(module) and (module, dependency) != ("grader", "grader.kit.selfcheck")
    )
    assert later == []
    top = {path.name for path in PACKAGE.iterdir() if path.suffix == ".py" or (path.is_dir() and path.name != "__pycache__")}
    assert top == {"__init__.py", "__main__.py", "cli.py", *STAGES[:-2]}


def test_the_readme_map_names_every_stage_package():
    readme = (PACKAGE.parent / "README.md").read_text(encoding="utf-8")
    layout = readme[readme.index("## Layout"):].split("\n## ", 1)[0]
    for stage in STAGES[:-2]:
        assert f"{stage}/" in layout, stage
