"""Terminal IPython and plain Python: no widgets, no re-prints.

One run prints its deltas as they come. N runs print one progress line per finished run, then
the answers stacked under their titles (up to ``GRID_MAX``) or the counts.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import TextIO

from qwen_magic.render import listed, variant_titles
from qwen_magic.render.safe import plain_text
from qwen_magic.render.static import (
    GRID_MAX,
    counts_line,
    first_line,
    retry_note,
    status_of,
    stopped_note,
    thinking_summary,
    to_plain,
    usage_line,
)
from qwen_magic.request import Request
from qwen_magic.result import Result


class TerminalRenderer:
    def __init__(self, stream: TextIO | None = None, titles: Sequence[str] | None = None) -> None:
        self.stream = stream or sys.stdout
        self.titles = list(titles) if titles is not None else None
        self.many = False
        self._reasoning_len = 0
        self._text_len = 0
        self._in_reasoning = False
        self._printed: set[int] = set()
        self._retries: set[int] = set()  # attempts whose retry was announced
        self._tool_rows = 0  # --tools: the calls printed so far

    def start(self, requests: Sequence[Request] | Request, on_stop: Callable[[], None]) -> None:
        requests = listed(requests)
        self.many = len(requests) > 1
        if self.titles is None or len(self.titles) != len(requests):
            self.titles = variant_titles(requests)
        if not self.many and requests[0].media:
            media = requests[0].media
            self._write("[inputs: " + ", ".join(m.describe() for m in media) + "]\n")

    def _write(self, text: str) -> None:
        # Model and server text is untrusted: no escape sequence reaches the terminal (an ESC
        # split across two deltas is dropped from the first, so none can form).
        self.stream.write(plain_text(text))
        self.stream.flush()

    def update(self, results: Sequence[Result | None] | Result, ended: Sequence[bool] = ()) -> None:
        shown = listed(results)
        if self.many:
            self._progress(shown, ended)
        elif shown and shown[0] is not None:
            self._deltas(shown[0])

    def _progress(self, results: Sequence[Result | None], ended: Sequence[bool]) -> None:
        """One line per run that finished since the last refresh."""
        titles = self.titles or []
        for index, result in enumerate(results):
            if result is None or index in self._printed or not (ended and ended[index]):
                continue
            self._printed.add(index)
            done = f"{len(self._printed)}/{len(results)} done"
            title = titles[index] if index < len(titles) else f"#{index + 1}"
            self._write(f"[{done}] {title}: {first_line(result.text)} ({status_of(result)})\n")

    def _deltas(self, result: Result) -> None:
        retry = result.retry
        if retry is not None and retry.attempt not in self._retries:
            self._retries.add(retry.attempt)
            self._write(f"[{retry_note(result)}]\n")
        self._tools(result)
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

    def _tools(self, result: Result) -> None:
        """A line per tool call once it is done: ``[tool] get_weather(…) → {…} · 0.02 s``."""
        from qwen_magic.render.tools import row_text

        calls = result.tool_calls
        while self._tool_rows < len(calls) and calls[self._tool_rows].status not in (
            "asked", "running", "waiting",
        ):  # fmt: skip
            self._write(f"\n[tool] {row_text(calls[self._tool_rows])}\n")
            self._tool_rows += 1

    def finish(self, results: Sequence[Result] | Result) -> None:
        final = listed(results)
        if self.many or len(final) > 1:
            self._finish_many(final)
            return
        result = final[0]
        self._deltas(result)
        tail = []
        if result.interrupted:
            tail.append(stopped_note(result, plain=True))
        if result.error:
            tail.append(f"[error] {result.error}")
        if result.audio is not None:  # --voice: no player here; a WAV file, and its path
            from qwen_magic.render.speech import speech_saved_line

            tail.append(speech_saved_line(result.audio))
        tail.append(f"[{usage_line(result)}]")
        self._write("\n" + "\n".join(tail) + "\n")

    def _finish_many(self, results: list[Result]) -> None:
        self._progress(results, [True] * len(results))
        titles = self.titles or [f"#{i}" for i in range(1, len(results) + 1)]
        if len(results) <= GRID_MAX:
            for title, result in zip(titles, results, strict=False):
                self._write(f"\n== {title} ==\n{to_plain(result)}\n")
        self._write(f"[{counts_line(results)}]\n")
