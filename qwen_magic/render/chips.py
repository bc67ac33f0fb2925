"""Chips: the context sent with a prompt (files, pages, ``{df}`` summaries), each with its
size in tokens — ``📎 sales.csv · 1,204 tokens`` — above the answer, live and saved.

One function, ``chips_text``, says it; the static output and the live view only wrap it
(a sanitized Markdown line, a small HTML widget).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from qwen_magic.render.safe import plain_markdown
from qwen_magic.request import Attachment

SEPARATOR = "   "


def chips_text(attachments: Sequence[Attachment]) -> str:
    """``📎 sales.csv · 1,204 tokens   📎 {df} · DataFrame summary · 312 tokens`` ("≈" when
    the count is an estimate)."""
    chips = []
    for item in attachments:
        kind = f" · {item.kind}" if item.name.startswith("{") else ""
        size = f"{'' if item.exact else '≈'}{item.tokens:,} tokens"
        chips.append(f"📎 {item.name}{kind} · {size}")
    return SEPARATOR.join(chips)


def chips_markdown(attachments: Sequence[Attachment]) -> list[str]:
    """The chips as one small Markdown line (a list of no block when there are none)."""
    return [f"<sub>{plain_markdown(chips_text(attachments))}</sub>"] if attachments else []


def chips_widgets(attachments: Sequence[Attachment]) -> list[Any]:
    """The chips as one small HTML widget for the live view (none when there are none)."""
    if not attachments:
        return []
    import ipywidgets as w

    return [w.HTML(f"<small>{html.escape(chips_text(attachments))}</small>")]


def chips_plain(attachments: Sequence[Attachment]) -> list[str]:
    """The chips as one plain-text line (text/plain, the terminal)."""
    return [chips_text(attachments)] if attachments else []
