"""Outputs of chat turns that a re-run dropped: shown again, marked, through their display id.

Re-running an earlier cell of a chat replaces its turn and drops the turns after it (see
``chats.Chat.record``). Their cells still show their answers; each is updated in place to say
that it is no longer part of the conversation, and how to ask it again.
"""

from __future__ import annotations

from typing import Any

from qwen_magic.chats import Chat, Turn


def dropped_note(chat: Chat, shell: Any) -> str:
    """Why, for the turns the last recorded turn dropped (it is the chat's last turn)."""
    count = getattr(shell, "execution_count", None)
    cell = f" (In [{count}])" if isinstance(count, int) else ""
    return (
        f"No longer part of chat {chat.name!r}: turn {len(chat.turns)} was asked again{cell}, "
        "which dropped the turns after it. Re-run this cell to ask again."
    )


def mark_dropped(chat: Chat, dropped: list[Turn], shell: Any) -> int:
    """Update the output of every dropped turn shown in this session; how many were marked."""
    from IPython.display import update_display

    from qwen_magic.render.static import dropped_bundle

    note = dropped_note(chat, shell)
    marked = 0
    for turn in dropped:
        shown = chat.shown.pop(id(turn), None)
        if shown is None:  # asked with -q, in a terminal, or loaded from a file
            continue
        update_display(dropped_bundle(shown.result, note), raw=True, display_id=shown.display_id)
        marked += 1
    return marked
