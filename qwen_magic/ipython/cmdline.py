"""Split ``%qwen [options] prompt`` into the options and the prompt, quotes and all.

The prompt is free text (``what's up?`` has an unbalanced quote), so it must never go through
shlex: only the leading options do.
"""

from __future__ import annotations

import argparse
import re

_WORD = re.compile(r"""(?:"[^"]*"|'[^']*'|\S)+""")
_OPTION = re.compile(r"^--?[A-Za-z]")
_NUMBER = re.compile(r"^[+-]?\d+(?:\.\d*)?$")


def split_options(line: str, parser: argparse.ArgumentParser) -> tuple[str, str]:
    """Return (the options part, the rest of the line as written)."""
    pos = 0
    while True:
        match = _WORD.search(line, pos)
        if match is None:
            return line.strip(), ""
        token = match.group(0)
        if token == "--":
            return line[: match.start()].strip(), line[match.end() :].strip()
        if not _OPTION.match(token):
            return line[: match.start()].strip(), line[match.start() :].strip()
        name = token.split("=", 1)[0]
        action = parser._option_string_actions.get(name)
        pos = match.end()
        if action is not None and action.nargs != 0 and "=" not in token:
            value = _WORD.search(line, pos)
            # An optional value (--logprobs [K]) is taken only when it is a number: the
            # prompt may follow the bare flag.
            optional = action.nargs == "?"
            if value is not None and (not optional or _NUMBER.match(value.group(0))):
                pos = value.end()
