"""%qwen's line: options first, then the prompt exactly as typed."""

from __future__ import annotations

import pytest

from qwen_magic.ipython.cmdline import split_options
from qwen_magic.ipython.magics import QwenMagics

PARSER = QwenMagics.qwen.parser


@pytest.mark.parametrize(
    ("line", "options", "prompt"),
    [
        ("-m qwen-plus what's up?", "-m qwen-plus", "what's up?"),
        ("--think -s 'Be brief.' Why?", "--think -s 'Be brief.'", "Why?"),
        ("--max-tokens=5 -q hi", "--max-tokens=5 -q", "hi"),
        ("-t 0.2 -- -1 is negative", "-t 0.2", "-1 is negative"),
        ("Just a question", "", "Just a question"),
        ("-o r", "-o r", ""),
    ],
)
def test_split_options(line: str, options: str, prompt: str) -> None:
    assert split_options(line, PARSER) == (options, prompt)
