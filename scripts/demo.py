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
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            text = output.get("data", {}).get("text/plain") or output.get("text") or ""
            if text:
                print(f"\n>>> {cell.source.splitlines()[0]}\n{text.strip()}")
    print(f"\nSaved {executed.relative_to(ROOT)} and out/quickstart.html")
    return 0


if __name__ == "__main__":
    sys.exit(main())
