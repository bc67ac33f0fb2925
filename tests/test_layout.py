"""The package's shape: no module imports, even lazily, a module that imports it back.

import-linter's contracts (run by ``./run test``) keep the layers and forbid circles among
siblings; this also catches a package and its own submodule importing each other.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import grimp

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "shape_figures.py"


def test_no_import_circles_in_qwen_magic() -> None:
    spec = importlib.util.spec_from_file_location("shape_figures", SCRIPT)
    assert spec is not None and spec.loader is not None
    figures = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(figures)
    graph = grimp.build_graph("qwen_magic", cache_dir=None)
    assert figures.circles(graph, "qwen_magic") == []
