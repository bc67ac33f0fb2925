"""The package's shape in figures: modules, lines, import circles (issue 10's closing note).

    .venv/bin/python scripts/shape_figures.py [PACKAGE_DIR]

An import circle is a strongly connected component of more than one module in the graph of
qwen_magic's imports, lazy (in-function) imports included: grimp reads every import statement.
"""

from __future__ import annotations

import sys
from pathlib import Path

import grimp


def circles(graph: grimp.ImportGraph, package: str) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one module."""
    modules = sorted(m for m in graph.modules if m == package or m.startswith(package + "."))
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.find_modules_directly_imported_by(node)):
            if not (target == package or target.startswith(package + ".")):
                continue
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for module in modules:
        if module not in index:
            visit(module)
    return found


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "qwen_magic")
    sys.path.insert(0, str(root.resolve().parent))
    files = sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)
    lines = sum(len(p.read_text(encoding="utf-8").splitlines()) for p in files)
    graph = grimp.build_graph(root.name, cache_dir=None)
    found = circles(graph, root.name)
    print(f"modules: {len(files)}")
    print(f"lines: {lines}")
    print(f"import circles: {len(found)}")
    for component in found:
        print("   ", " <-> ".join(component))


if __name__ == "__main__":
    main()
