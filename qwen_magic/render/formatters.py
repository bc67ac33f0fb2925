"""How the data classes look in a notebook: IPython display formatters registered at
``%load_ext`` (and by ``ask()``), so ``Result`` and ``Chat`` import no view themselves."""

from __future__ import annotations

from typing import Any

from qwen_magic.chats import Chat
from qwen_magic.render.chat import chat_markdown
from qwen_magic.render.static import to_markdown
from qwen_magic.result import Result

MARKDOWN = {Result: to_markdown, Chat: chat_markdown}


def register(shell: Any) -> None:
    """Show a ``Result`` or ``Chat`` as Markdown in ``shell`` (idempotent)."""
    formatter = _markdown_formatter(shell)
    if formatter is not None:
        for kind, render in MARKDOWN.items():
            formatter.for_type(kind, render)


def unregister(shell: Any) -> None:
    formatter = _markdown_formatter(shell)
    if formatter is not None:
        for kind in MARKDOWN:
            formatter.type_printers.pop(kind, None)


def _markdown_formatter(shell: Any) -> Any:
    display_formatter = getattr(shell, "display_formatter", None)
    return None if display_formatter is None else display_formatter.formatters["text/markdown"]
