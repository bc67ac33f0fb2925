"""Named conversations whose turns follow the notebook's cells.

A turn is keyed by the cell that asked it. Re-running a cell replaces that cell's turn and
drops the turns after it — as editing a message does in a chat app — so the conversation is
always the one the visible cells show. Without a cell id (terminal, scripts) turns append.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from qwen_magic.chatfile import FORMAT, VERSION
from qwen_magic.errors import QwenUsageError


@dataclass
class Turn:
    """One question and its answer. A turn that used tools also holds, in order, the
    assistant messages that asked for calls and the calls' results (chat shape, see
    ``messages.assistant_message`` / ``tool_message``): they are history like the rest."""

    user: dict[str, Any]  # the user message as sent (OpenAI chat shape)
    answer: str
    reasoning: str = ""
    cell_id: str | None = None
    execution: str | None = None  # which run of the cell asked it (a cell may ask twice)
    model: str = ""
    usage: dict[str, int | None] = field(default_factory=dict)
    tool_messages: list[dict[str, Any]] = field(default_factory=list)

    def messages(self) -> list[dict[str, Any]]:
        """The turn as history: the question, any tool rounds, the answer."""
        return [self.user, *self.tool_messages, {"role": "assistant", "content": self.answer}]

    def __repr__(self) -> str:
        from qwen_magic.media import elided_repr

        return elided_repr(self)


@dataclass
class Shown:
    """Where a turn's answer is on screen: its output's display id, and the Result it shows
    (to show it again, marked, once the turn is dropped)."""

    display_id: str
    result: Any = field(repr=False)


@dataclass
class Chat:
    name: str
    system: str | None = None
    turns: list[Turn] = field(default_factory=list)
    # id(turn) -> its output, for the turns asked in this session (never saved)
    shown: dict[int, Shown] = field(default_factory=dict, repr=False, compare=False)

    def _rerun_index(self, cell_id: str | None, execution: str | None) -> int | None:
        """Where an earlier run of this cell began, if this is a re-run of it."""
        if cell_id is None:
            return None
        for i, turn in enumerate(self.turns):
            if turn.cell_id == cell_id and turn.execution != execution:
                return i
        return None

    def history_for(self, cell_id: str | None, execution: str | None = None) -> list[Any]:
        """The messages before this cell's earlier turns (all of them for a new cell, or for a
        second question asked by the same run of a cell)."""
        index = self._rerun_index(cell_id, execution)
        turns = self.turns if index is None else self.turns[:index]
        return [m for turn in turns for m in turn.messages()]

    def record(self, turn: Turn) -> list[Turn]:
        """Add the turn; a re-run replaces its cell's turn and drops the ones after it. The
        dropped turns of other cells are returned: their outputs still show answers that are
        no longer part of the conversation."""
        index = self._rerun_index(turn.cell_id, turn.execution)
        if index is None:
            self.turns.append(turn)
            return []
        gone = self.turns[index:]
        self.turns[index:] = [turn]
        for old in gone:
            if old.cell_id == turn.cell_id:
                self.shown.pop(id(old), None)  # its cell shows the new answer now
        return [old for old in gone if old.cell_id != turn.cell_id]

    def show(self, turn: Turn, display_id: str | None, result: Any) -> None:
        """Remember where ``turn`` is shown (nothing to remember without a display id)."""
        if display_id:
            self.shown[id(turn)] = Shown(display_id, result)

    @property
    def tokens(self) -> int:
        return sum((t.usage.get("input_tokens") or 0) + (t.usage.get("output_tokens") or 0)
                   for t in self.turns)  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "name": self.name,
            "system": self.system,
            "turns": [asdict(t) for t in self.turns],
        }

    @classmethod
    def from_json(cls, data: Any, name: str) -> Chat:
        """A chat from its saved JSON, every field's type checked first (``chatfile``)."""
        from qwen_magic.chatfile import checked_chat

        data = checked_chat(data, "That file", "That chat file")
        known = {f.name for f in fields(Turn)}
        turns = [Turn(**{k: v for k, v in t.items() if k in known}) for t in data["turns"]]
        return cls(name=name, system=data.get("system"), turns=turns)

    def __repr__(self) -> str:
        return f"Chat({self.name!r}, turns={len(self.turns)})"


def text_of(content: Any) -> str:
    """The text of a message, with ``[image]`` / ``[video]`` where media parts were."""
    if not isinstance(content, list):
        return str(content)
    bits = []
    for part in content:
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind in ("text", "input_text"):
            bits.append(str(part.get("text", "")))
        elif kind in ("image_url", "input_image"):
            bits.append("[image]")
        elif kind in ("video", "video_url"):
            bits.append("[video]")
        elif kind == "input_audio":
            bits.append("[audio]")
    return " ".join(bits)


class ChatBook:
    def __init__(self) -> None:
        self.chats: dict[str, Chat] = {}

    def get(self, name: str) -> Chat:
        chat = self.chats.get(name)
        if chat is None:
            known = ", ".join(self.chats) or "none yet"
            raise QwenUsageError(f"No chat named {name!r} (chats: {known}).")
        return chat

    def open(self, name: str) -> Chat:
        return self.chats.setdefault(name, Chat(name))

    def reset(self, name: str | None) -> None:
        if name is None:
            self.chats.clear()
        else:
            self.get(name)
            del self.chats[name]

    def save(self, name: str, path: str, *, force: bool = False) -> Path:
        """Write the chat as JSON; an existing file that is not one of our chats is replaced
        only with ``force``."""
        from qwen_magic.chatfile import write_chat
        from qwen_magic.masking import redact

        target = Path(path).expanduser()
        # A key typed into a prompt ({my_key}) is in the turn as sent: never in the file.
        text = json.dumps(redact(self.get(name).to_json()), ensure_ascii=False, indent=1)
        write_chat(target, text, force=force)
        return target

    def load(self, name: str, path: str) -> Chat:
        from qwen_magic.chatfile import read_chat

        chat = Chat.from_json(read_chat(Path(path).expanduser()), name)
        self.chats[name] = chat
        return chat
