"""The main job: run every lesson in notebooks/ and save the course as notebooks and HTML.

Against DashScope when DASHSCOPE_API_KEY is set, otherwise against the offline emulator (each
lesson chooses for itself and says which). Writes ``out/<lesson>.ipynb``, ``out/<lesson>.html``
and ``out/index.html`` linking them. A failing lesson is reported and the others still run;
the exit status says whether all of them passed.
"""

from __future__ import annotations

import html
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nbformat
from jinja2 import DictLoader
from nbclient import NotebookClient
from nbconvert import HTMLExporter

ROOT = Path(__file__).resolve().parent.parent

# The course order; lessons not named here follow, alphabetically.
COURSE = (
    "quickstart",
    "streaming-and-thinking",
    "images-and-video",
    "chats",
    "many-answers",
    "tools-and-context",
    "sampling",
    "voice",
)

# nbconvert's lab template always loads require.js (for widgets and old-style JavaScript
# outputs) and MathJax from a CDN. A static lesson needs neither (the lessons have no LaTeX),
# and a class offline cannot fetch them: the pages load nothing from the internet.
STATIC_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
"""


@dataclass
class LessonRun:
    """One lesson executed: where it was saved and how it went."""

    name: str
    title: str
    goal: str
    seconds: float
    problem: str | None = None  # None when it ran through and saved a static notebook

    @property
    def ok(self) -> bool:
        return self.problem is None


def lessons(directory: Path) -> list[Path]:
    """Every ``*.ipynb`` in the directory, in the course's order, unknown ones appended."""
    found = {path.stem: path for path in sorted(directory.glob("*.ipynb"))}
    known = [found.pop(name) for name in COURSE if name in found]
    return known + list(found.values())


def _plain(markdown: str) -> str:
    """Markdown inline syntax removed: links keep their text, no emphasis or code marks."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", markdown)
    text = re.sub(r"\*+|`+", "", text)  # (underscores stay: they are in names)
    return " ".join(text.split())


GOAL = re.compile(r"\b(?:this lesson|in this lesson|you will|you'll|you learn)\b", re.IGNORECASE)
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def summary(nb: nbformat.NotebookNode, fallback: str) -> tuple[str, str]:
    """The lesson's title (its first heading) and its goal in one line: the line under the
    title when it is one sentence, else the opening prose's sentence saying what the lesson
    does ("This lesson…", "You will…"), else its first sentence."""
    intro = next((cell.source for cell in nb.cells if cell.cell_type == "markdown"), "")
    heading = re.search(r"^#+\s+(.+)$", intro, flags=re.MULTILINE)
    title = _plain(heading.group(1)) if heading else fallback
    body = intro[heading.end() :] if heading else intro
    paragraphs = [
        _plain(p) for p in re.split(r"\n\s*\n", body) if p.strip() and p.lstrip()[0] not in "#-*|"
    ]
    if not paragraphs:
        return title, ""
    sentences = [s for p in paragraphs for s in SENTENCE_END.split(p)]
    if len(SENTENCE_END.split(paragraphs[0])) == 1:
        return title, paragraphs[0]
    return title, next((s for s in sentences if GOAL.search(s)), sentences[0])


def exporter() -> HTMLExporter:
    """nbconvert's lab HTML, without the scripts it would fetch from the internet."""
    return HTMLExporter(
        extra_loaders=[DictLoader({"qwen_magic_static.html.j2": STATIC_TEMPLATE})],
        template_file="qwen_magic_static.html.j2",
    )


def run_lesson(source: Path, out_dir: Path, timeout: int = 600) -> LessonRun:
    """Execute one lesson in its own directory (as nbval does); save it even when it fails."""
    nb = nbformat.read(source, as_version=4)
    title, goal = summary(nb, source.stem)
    problem = None
    started = time.monotonic()
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(source.parent)}},
    )
    # The kernel process's own stderr (start-up warnings; a crash) goes to a file, not between
    # the progress lines; it is shown when the lesson fails.
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as kernel_log:
        try:
            client.execute(stderr=kernel_log)
        except Exception as error:  # a failing cell, a dead kernel, a timeout: report, go on
            message = re.sub(r"\x1b\[[0-9;]*m", "", str(error))  # the traceback's colours
            lines = [line for line in message.splitlines() if line.strip()]
            problem = f"{type(error).__name__}: {lines[-1] if lines else ''}".strip(": ")
            kernel_log.seek(0)
            tail = [line for line in kernel_log.read().splitlines() if "WARNING" not in line]
            if tail:
                problem += "\n    kernel: " + "\n    kernel: ".join(tail[-5:])
    seconds = time.monotonic() - started
    nbformat.write(nb, out_dir / f"{source.stem}.ipynb")
    page, _ = exporter().from_notebook_node(nb, resources={"metadata": {"name": title}})
    (out_dir / f"{source.stem}.html").write_text(page, encoding="utf-8")
    leftovers = widget_leftovers(nb, page)
    if problem is None and leftovers:  # a headless run must be static (README, "Headless runs")
        problem = "the saved notebook holds widgets: " + "; ".join(leftovers)
    return LessonRun(source.stem, title, goal, seconds, problem)


def widget_leftovers(nb: nbformat.NotebookNode, page: str) -> list[str]:
    """Widget state, widget views or a widget script in what a headless run saved."""
    found = ["metadata.widgets"] if "widgets" in nb.metadata else []
    views = sum(
        "application/vnd.jupyter.widget-view+json" in output.get("data", {})
        for cell in nb.cells
        for output in cell.get("outputs", [])
    )
    if views:
        found.append(f"{views} widget view output(s)")
    if "@jupyter-widgets/html-manager" in page or "require.js" in page:
        found.append("the HTML loads a widget script")
    return found


def write_index(out_dir: Path, runs: list[LessonRun], mode: str) -> Path:
    """``index.html``: one line per lesson, its title linking its HTML, then its goal."""
    rows = []
    for run in runs:
        status = (
            ""
            if run.ok
            else f' <strong class="failed">failed: {html.escape(run.problem or "")}</strong>'
        )
        goal = f" — {html.escape(run.goal)}" if run.goal else ""
        rows.append(
            f'<li><a href="{html.escape(run.name)}.html">{html.escape(run.title)}</a>'
            f"{goal}{status}</li>"
        )
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>qwen_magic lessons</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 52rem; margin: 2rem auto; padding: 0 1rem;
       line-height: 1.5; color: #222; }}
li {{ margin: 0.4rem 0; }}
.failed {{ color: #b00020; }}
.mode {{ color: #555; }}
</style>
</head>
<body>
<h1>qwen_magic lessons</h1>
<p class="mode">{html.escape(mode)}</p>
<ol>
{chr(10).join(rows)}
</ol>
</body>
</html>
"""
    index = out_dir / "index.html"
    index.write_text(page, encoding="utf-8")
    return index


def run_course(
    sources: list[Path],
    out_dir: Path,
    mode: str,
    say: Callable[[str], None] = print,
) -> list[LessonRun]:
    """Every lesson in turn, a progress line each, then the index."""
    out_dir.mkdir(parents=True, exist_ok=True)
    width = max((len(source.stem) for source in sources), default=0)
    runs = []
    for source in sources:
        run = run_lesson(source, out_dir)
        outcome = "ok" if run.ok else f"failed — {run.problem}"
        say(f"  {run.name:<{width}}  {run.seconds:6.1f} s  {outcome}")
        runs.append(run)
    write_index(out_dir, runs, mode)
    return runs


def main(notebooks: Path = ROOT / "notebooks", out_dir: Path = ROOT / "out") -> int:
    if os.environ.get("DASHSCOPE_API_KEY"):
        mode = "Run against Alibaba Cloud Model Studio (DASHSCOPE_API_KEY is set)."
        print("DASHSCOPE_API_KEY is set: the lessons ask Alibaba Cloud Model Studio.")
    else:
        mode = "Run offline (no key): the emulator answered, from each lesson's recording."
        print("No DASHSCOPE_API_KEY: the lessons run offline against the replaying emulator.")
    sources = lessons(notebooks)
    print(f"Running {len(sources)} lessons from {notebooks} into {out_dir}:", flush=True)
    runs = run_course(sources, out_dir, mode, say=lambda line: print(line, flush=True))
    failed = [run.name for run in runs if not run.ok]
    size = sum((out_dir / f"{run.name}.html").stat().st_size for run in runs) // 1024
    print(f"\nOpen {out_dir / 'index.html'} ({len(runs)} lessons, HTML {size} KB in all).")
    if failed:
        print(f"{len(failed)} lesson(s) failed: {', '.join(failed)}.", file=sys.stderr)
        return 1
    print("Every lesson ran; the saved notebooks are static (no widget state or script).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
