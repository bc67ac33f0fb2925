"""Markdown that is still being written: keep it looking right mid-stream."""

from __future__ import annotations

import re

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


def open_fence(text: str) -> str | None:
    """The fence (e.g. ```` ``` ````) left open at the end of ``text``, or None."""
    opener = open_fence_line(text)
    return None if opener is None else _FENCE.match(opener).group(1)  # type: ignore[union-attr]


def open_fence_line(text: str) -> str | None:
    """The whole line (with its language) that opened a code block still open, or None."""
    current: str | None = None
    opener: str | None = None
    for line in text.splitlines():
        match = _FENCE.match(line)
        if not match:
            continue
        marker = match.group(1)
        if current is None:
            current, opener = marker, line
        elif (
            marker[0] == current[0]
            and len(marker) >= len(current)
            and not line.strip()[len(marker) :].strip()
        ):
            current = opener = None
    return opener


def close_open_fence(text: str) -> str:
    """Close a code block the stream has not closed yet, so it renders as code."""
    fence = open_fence(text)
    if fence is None:
        return text
    return text + ("" if text.endswith("\n") else "\n") + fence


def split_stable(text: str, min_tail: int = 2000) -> tuple[str, str]:
    """Split into (finished blocks, growing tail) at a blank line outside any code block.

    Only splits when the tail would otherwise exceed ``min_tail`` characters, so short answers
    stay one block; the finished part never changes again, so it is rendered once.
    """
    if len(text) <= min_tail:
        return "", text
    cut = text.rfind("\n\n", 0, len(text) - min_tail // 2)
    while cut > 0:
        head = text[: cut + 2]
        if open_fence(head) is None:
            return head, text[cut + 2 :]
        cut = text.rfind("\n\n", 0, cut)
    return "", text


def split_in_code(text: str, min_tail: int = 2000) -> tuple[str, int, str] | None:
    """For a long code block still being written: (finished part, closed; characters of
    ``text`` it covers; the line that reopens the block for the tail), or None.

    A long block would otherwise be re-sent whole at every refresh: its finished lines are
    frozen as a closed block, and the tail carries on in a block of the same language.
    """
    if len(text) <= 2 * min_tail:
        return None
    cut = text.rfind("\n", 0, len(text) - min_tail // 2)
    if cut <= 0:
        return None
    opener = open_fence_line(text[:cut])
    if opener is None or text[:cut].rstrip().endswith(opener.strip()):
        return None
    fence = _FENCE.match(opener).group(1)  # type: ignore[union-attr]
    return text[:cut] + "\n" + fence, cut + 1, opener.strip() + "\n"


def fenced(text: str, info: str = "") -> str:
    """``text`` in a code fence long enough not to be closed by the text itself."""
    longest = max((len(m) for m in re.findall(r"`{3,}", text)), default=2)
    fence = "`" * (longest + 1)
    return f"{fence}{info}\n{text}\n{fence}"
