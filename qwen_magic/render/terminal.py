"""Terminal IPython and plain Python: print deltas as they come, no widgets, no re-prints."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TextIO

from qwen_magic.render.safe import plain_text
from qwen_magic.render.static import stopped_note, thinking_summary, usage_line
from qwen_magic.request import Request
from qwen_magic.result import Result


class TerminalRenderer:
    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self._reasoning_len = 0
        self._text_len = 0
        self._in_reasoning = False

    def start(self, request: Request, on_stop: Callable[[], None]) -> None:
        if request.media:
            self._write("[inputs: " + ", ".join(m.describe() for m in request.media) + "]\n")

    def _write(self, text: str) -> None:
        # Model and server text is untrusted: no escape sequence reaches the terminal (an ESC
        # split across two deltas is dropped from the first, so none can form).
        self.stream.write(plain_text(text))
        self.stream.flush()

    def update(self, result: Result) -> None:
        new_reasoning = result.reasoning[self._reasoning_len :]
        if new_reasoning:
            if not self._in_reasoning and self._reasoning_len == 0:
                self._write("── thinking ──\n")
                self._in_reasoning = True
            self._write(new_reasoning)
            self._reasoning_len = len(result.reasoning)
        new_text = result.text[self._text_len :]
        if new_text:
            if self._in_reasoning:
                self._write(f"\n── answer ({thinking_summary(result).lower()}) ──\n")
                self._in_reasoning = False
            self._write(new_text)
            self._text_len = len(result.text)

    def finish(self, result: Result) -> None:
        self.update(result)
        tail = []
        if result.interrupted:
            tail.append(stopped_note(result, plain=True))
        if result.error:
            tail.append(f"[error] {result.error}")
        tail.append(f"[{usage_line(result)}]")
        self._write("\n" + "\n".join(tail) + "\n")
