"""Facts about Python syntax that both execution (which statements to run on their own) and
the `code` check (is there a guard) need: kept in one place so they agree."""

from __future__ import annotations

import ast


def is_main_guard(node: ast.AST) -> bool:
    """`if __name__ == "__main__":` in either order of the comparison."""
    if not isinstance(node, ast.If) or not isinstance(node.test, ast.Compare):
        return False
    parts = [node.test.left, *node.test.comparators]
    return any(isinstance(p, ast.Name) and p.id == "__name__" for p in parts) and any(
        isinstance(p, ast.Constant) and p.value == "__main__" for p in parts
    )
