"""The main job: run the quickstart notebook end to end and save it (and an HTML copy).

Against DashScope when DASHSCOPE_API_KEY is set, otherwise against the offline emulator.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbconvert import HTMLExporter

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    source = ROOT / "notebooks" / "quickstart.ipynb"
    out_dir = ROOT / "out"
    out_dir.mkdir(exist_ok=True)
    if os.environ.get("DASHSCOPE_API_KEY"):
        print(
            "DASHSCOPE_API_KEY is set: running the quickstart against Alibaba Cloud Model Studio."
        )
    else:
        print("No DASHSCOPE_API_KEY: running the quickstart against the offline emulator.")
    nb = nbformat.read(source, as_version=4)
    NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
    ).execute()
    executed = out_dir / "quickstart.ipynb"
    nbformat.write(nb, executed)
    html, _ = HTMLExporter().from_notebook_node(nb)
    (out_dir / "quickstart.html").write_text(html, encoding="utf-8")
    leftovers = widget_leftovers(nb, html)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            text = output.get("data", {}).get("text/plain") or output.get("text") or ""
            if text:
                print(f"\n>>> {cell.source.splitlines()[0]}\n{text.strip()}")
    size = executed.stat().st_size // 1024
    print(f"\nSaved {executed.relative_to(ROOT)} ({size} KB) and out/quickstart.html")
    if leftovers:  # a headless run must be static (see README, "Headless runs")
        print("But the saved notebook holds widgets: " + "; ".join(leftovers), file=sys.stderr)
        return 1
    print("No widget state or widget script: the saved notebook is static.")
    return 0


def widget_leftovers(nb: nbformat.NotebookNode, html: str) -> list[str]:
    """Widget state, widget views or a widget script in what a headless run saved."""
    found = ["metadata.widgets"] if "widgets" in nb.metadata else []
    views = sum(
        "application/vnd.jupyter.widget-view+json" in output.get("data", {})
        for cell in nb.cells
        for output in cell.get("outputs", [])
    )
    if views:
        found.append(f"{views} widget view output(s)")
    if "@jupyter-widgets/html-manager" in html:
        found.append("the HTML loads a widget script")
    return found


if __name__ == "__main__":
    sys.exit(main())
