"""What one kernel remembers between cells: its chats, its usage totals, the key typed with
``%qwencmd key``, and the emulator its calls go to.

Configuration (model, region, timeouts...) is not here: it lives in the ``QwenMagics``
traits, where ``%config`` sets it. The session is the rest, so that ``%qwencmd`` works on it
rather than on the magics' attributes, and ``%unload_ext`` can forget it in one call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from qwen_magic.chats import ChatBook
from qwen_magic.masking import Secret, forget
from qwen_magic.options import keys
from qwen_magic.usage import UsageBook

if TYPE_CHECKING:
    from qwen_magic.emulator import Emulator
    from qwen_magic.recording import Recorder
    from qwen_magic.result import Result


@dataclass(eq=False)
class Session:
    """Per-kernel state of qwen_magic (one per loaded extension, or per ``ask()`` outside
    IPython)."""

    chats: ChatBook = field(default_factory=ChatBook)
    usage: UsageBook = field(default_factory=UsageBook)
    key: Secret | None = field(default=None, repr=False)  # %qwencmd key; never saved
    emulator: Emulator | None = None
    owns_emulator: bool = False  # started by `%qwencmd emulator start`: ours to stop
    recorder: Recorder | None = None  # %qwencmd record start PATH (qwen_magic/recording.py)

    def set_key(self, value: str | None) -> None:
        """``%qwencmd key``: a key for this kernel only (a UsageError for a malformed one)."""
        value = value.strip() if value else None
        self.key = keys.checked_key(value, "`%qwencmd key`") if value else None

    def use_emulator(self, emulator: Emulator | None, *, owned: bool = False) -> None:
        """Send every call to ``emulator`` (None: back to the service); stop one we started."""
        if self.emulator is not None and self.owns_emulator and self.emulator is not emulator:
            self.emulator.stop()
        self.emulator, self.owns_emulator = emulator, owned

    def emulator_bases(self, legacy_responses: bool = False) -> dict[str, str] | None:
        """The base URL of each API on the emulator in use (None: no emulator)."""
        emu = self.emulator
        if emu is None:
            return None
        responses = emu.responses_legacy_base if legacy_responses else emu.compat_base
        return {"chat": emu.compat_base, "responses": responses, "dashscope": emu.native_base}

    def record(self, result: Result) -> None:
        """Count a finished call in the usage totals."""
        self.usage.add(result)

    def close(self) -> None:
        """Forget everything (``%unload_ext``): the key, the chats, the totals; stop our
        emulator."""
        self.use_emulator(None)
        self.recorder = None
        if self.key is not None:
            forget(self.key)  # the mask's memory of it too: nothing of the key stays
        self.key = None
        self.chats = ChatBook()
        self.usage = UsageBook()
