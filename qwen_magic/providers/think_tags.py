"""Inline ``<think>…</think>`` (vLLM, Ollama, llama.cpp without a reasoning parser) → reasoning."""

from __future__ import annotations

from collections.abc import Iterator

from qwen_magic.events import ReasoningDelta, TextDelta

OPEN, CLOSE = "<think>", "</think>"


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest end of ``text`` that could be the start of ``tag``."""
    for n in range(min(len(tag) - 1, len(text)), 0, -1):
        if tag.startswith(text[-n:]):
            return n
    return 0


class ThinkTagSplitter:
    """Feed content deltas; get reasoning and answer deltas, tags split across chunks too."""

    def __init__(self) -> None:
        self.mode = "start"  # start → think → after → answer (or start → answer)
        self.buffer = ""

    def feed(self, text: str) -> Iterator[ReasoningDelta | TextDelta]:
        if self.mode == "answer":  # the common case: nothing to hold back
            yield TextDelta(text)
            return
        self.buffer += text
        while self.buffer:
            if self.mode in ("start", "after"):
                stripped = self.buffer.lstrip()
                if not stripped:
                    return
                if self.mode == "start" and stripped.startswith(OPEN):
                    self.buffer, self.mode = stripped[len(OPEN) :], "think"
                    continue
                if self.mode == "start" and OPEN.startswith(stripped):
                    return  # maybe a tag still arriving
                if self.mode == "after":
                    self.buffer = stripped
                self.mode = "answer"
                yield TextDelta(self.buffer)
                self.buffer = ""
                return
            # mode == "think"
            end = self.buffer.find(CLOSE)
            if end >= 0:
                if end:
                    yield ReasoningDelta(self.buffer[:end])
                self.buffer, self.mode = self.buffer[end + len(CLOSE) :], "after"
                continue
            keep = _partial_suffix(self.buffer, CLOSE)
            ready = self.buffer[: len(self.buffer) - keep]
            if ready:
                yield ReasoningDelta(ready)
            self.buffer = self.buffer[len(ready) :]
            return

    def off(self) -> Iterator[TextDelta]:
        """The server sends its reasoning in a field of its own (``reasoning_content``): the
        answer is the answer, even if it starts with ``<think>``. What was held back while a
        tag might have been arriving is answer text."""
        if self.mode == "start":
            self.mode = "answer"
            rest, self.buffer = self.buffer, ""
            if rest:
                yield TextDelta(rest)

    def flush(self) -> Iterator[ReasoningDelta | TextDelta]:
        rest, self.buffer = self.buffer, ""
        if not rest:
            return
        if self.mode == "think":
            yield ReasoningDelta(rest)
        elif rest.strip() or self.mode == "answer":
            yield TextDelta(rest)
