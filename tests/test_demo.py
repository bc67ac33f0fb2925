"""``./run demo`` over a tiny course: every lesson runs, a broken one is reported and the rest
still run, and ``index.html`` links each lesson's static HTML (no script from the internet).

Two small notebooks stand in for the course (the real lessons run under nbval in ``./run
test``); the demo's own ``main`` executes them in real kernels, offline on the emulator.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parent.parent


def load_demo() -> ModuleType:
    spec = importlib.util.spec_from_file_location("qwen_demo", ROOT / "scripts" / "demo.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def write(path: Path, intro: str, *code: str) -> None:
    nb = new_notebook(cells=[new_markdown_cell(intro), *(new_code_cell(c) for c in code)])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)


@pytest.mark.timeout(300)
def test_demo_runs_every_lesson_and_links_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DASHSCOPE_API_KEY", raising=False)  # offline, whatever the machine has
    notebooks, out = tmp_path / "notebooks", tmp_path / "out"
    notebooks.mkdir()
    write(  # named to sort after "quickstart": the course order must put quickstart first
        notebooks / "a-broken-lesson.ipynb",
        "# A broken lesson\n\nThe demo goes on after a failure.\n\n**Learning goals**\n\n- see it",
        "raise RuntimeError('this lesson breaks')",
    )
    write(
        notebooks / "quickstart.ipynb",
        "# A *tiny* lesson\n\nSome context first. This lesson asks `%%qwen` one question offline.",
        "%load_ext qwen_magic",
        "%qwencmd emulator start",
        "%%qwen\nWhy is the sky blue?",
    )

    status = load_demo().main(notebooks, out)

    printed = capsys.readouterr()
    assert status == 1  # one lesson failed: the exit status says so, at the end
    assert printed.out.startswith("No DASHSCOPE_API_KEY: the lessons run offline")
    progress = [line for line in printed.out.splitlines() if line.startswith("  ")]
    assert re.fullmatch(r"  quickstart\s+\d+\.\d s  ok", progress[0]), progress
    assert re.match(r"  a-broken-lesson\s+\d+\.\d s  failed — .*RuntimeError", progress[1])
    assert f"Open {out / 'index.html'}" in printed.out
    assert "1 lesson(s) failed: a-broken-lesson." in printed.err

    index = (out / "index.html").read_text()
    links = re.findall(r'<li><a href="([^"]+)">([^<]+)</a> — ([^<]+?) ?(<strong.*)?</li>', index)
    assert [(href, title, goal) for href, title, goal, _ in links] == [
        ("quickstart.html", "A tiny lesson", "This lesson asks %%qwen one question offline."),
        ("a-broken-lesson.html", "A broken lesson", "The demo goes on after a failure."),
    ]
    assert links[0][3] == ""
    assert "failed: CellExecutionError: RuntimeError: this lesson breaks" in links[1][3]

    for name in ("quickstart", "a-broken-lesson"):
        page = (out / f"{name}.html").read_text()
        assert not re.search(r"<script[^>]*\ssrc=[\"']?(https?:)?//", page), name
        assert "require.js" not in page and "@jupyter-widgets/html-manager" not in page
        saved = nbformat.read(out / f"{name}.ipynb", as_version=4)
        assert "widgets" not in saved.metadata  # headless: static output, no widget state
    answer = (out / "quickstart.html").read_text()
    assert "Why is the sky blue?" in answer  # the emulator's answer, as static Markdown
    assert "application/vnd.jupyter.widget-view+json" not in (out / "quickstart.ipynb").read_text()
    assert "this lesson breaks" in (out / "a-broken-lesson.html").read_text()  # kept, with error
