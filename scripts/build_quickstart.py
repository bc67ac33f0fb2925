"""Write notebooks/quickstart.ipynb and record its outputs by running it on the emulator.

Run after changing the notebook's cells or the static output format:
    .venv/bin/python scripts/build_quickstart.py
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

IGNORE = {"tags": ["nbval-ignore-output"]}

CELLS = [
    new_markdown_cell(
        "# qwen_magic quickstart\n\n"
        "Ask Qwen models (Alibaba Cloud Model Studio) from a notebook. The answer streams live "
        "below the cell; the model's reasoning streams into a section that folds away when the "
        "answer starts; a footer shows tokens and timings. When the answer is complete, a "
        "static Markdown output replaces the live view, so this notebook reads the same on "
        "GitHub."
    ),
    new_code_cell("%load_ext qwen_magic"),
    new_markdown_cell(
        "With a key in `DASHSCOPE_API_KEY` (keys are per region; the default region is `sg`) "
        "the calls go to DashScope. Without one, this notebook uses the offline emulator that "
        "ships with qwen_magic, which answers with an echo of the prompt."
    ),
    new_code_cell(
        "import os\n\n"
        'if os.environ.get("DASHSCOPE_API_KEY"):\n'
        '    print("Using Alibaba Cloud Model Studio with the key in $DASHSCOPE_API_KEY.")\n'
        "else:\n"
        "    %qwencmd emulator start",
        metadata=IGNORE,
    ),
    new_markdown_cell("## Ask, and watch it think\n\n`--think` turns on thinking mode."),
    new_code_cell("%%qwen --think\nIn two sentences: why is the sky blue?", metadata=IGNORE),
    new_markdown_cell(
        "The last answer is always in `_qwen` (and `-o NAME` stores it under a name of "
        "your choice): text, reasoning, usage, timings, errors."
    ),
    new_code_cell(
        'assert _qwen.error is None and _qwen.text, _qwen.error\nprint("tokens out:", '
        '_qwen.usage.output_tokens > 0, "| thought:", bool(_qwen.reasoning))'
    ),
    new_markdown_cell(
        "## One line, variables in prompts\n\n`{name}` and `{expression}` are filled from "
        "your variables; `{{` and `}}` are literal braces; code with braces is left alone."
    ),
    new_code_cell(
        'city = "Hangzhou"\n%qwen --no-think -o sights Name three sights in {city}, briefly.',
        metadata=IGNORE,
    ),
    new_code_cell('print("Hangzhou" in sights.messages[-1]["content"], sights.text != "")'),
    new_markdown_cell(
        '## Deterministic output for documentation\n\n`display = "final"` shows only the '
        "static result (no live widgets) — handy for docs and for `nbval`."
    ),
    new_code_cell(
        '%config QwenMagics.display = "final"\n'
        "%qwen --no-think -m qwen-plus Say hello to the class."
    ),
    new_code_cell("%qwencmd usage"),
]


def build(path: Path) -> None:
    nb = new_notebook(cells=CELLS)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    env_key = os.environ.pop("DASHSCOPE_API_KEY", None)  # record the emulator's outputs
    try:
        NotebookClient(nb, timeout=120, kernel_name="python3", store_widget_state=False).execute()
    finally:
        if env_key is not None:
            os.environ["DASHSCOPE_API_KEY"] = env_key
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.metadata.pop("execution", None)
    nbformat.write(nb, path)


if __name__ == "__main__":
    build(Path(__file__).resolve().parent.parent / "notebooks" / "quickstart.ipynb")
