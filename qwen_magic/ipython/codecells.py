"""``-f code``: the answer's code blocks become the next cell, with the right cell magic."""

from __future__ import annotations

import re

_BLOCK = re.compile(
    r"^ {0,3}(`{3,}|~{3,})[ \t]*([\w+#.-]*)[^\n]*\n(.*?)^ {0,3}\1[ \t]*$", re.M | re.S
)

CELL_MAGICS = {
    "bash": "%%bash", "sh": "%%bash", "shell": "%%bash", "zsh": "%%bash",
    "html": "%%html", "javascript": "%%javascript", "js": "%%javascript",
    "markdown": "%%markdown", "md": "%%markdown", "sql": "%%sql", "latex": "%%latex",
    "ruby": "%%ruby", "perl": "%%perl", "svg": "%%svg",
}  # fmt: skip
PYTHON = {"", "python", "py", "python3", "ipython", "pycon"}


def code_blocks(text: str) -> list[tuple[str, str]]:
    """(language, code) of each fenced block, in order."""
    return [(m.group(2).lower(), m.group(3).rstrip("\n")) for m in _BLOCK.finditer(text)]


def code_cell(text: str) -> str | None:
    """The next cell's source: all blocks in the first block's language, joined."""
    blocks = code_blocks(text)
    if not blocks:
        return None
    language = blocks[0][0]
    code = "\n\n".join(code for lang, code in blocks if lang == language)
    if language in PYTHON:
        return code
    magic = CELL_MAGICS.get(language)
    return f"{magic}\n{code}" if magic else f"# {language}\n{code}"
