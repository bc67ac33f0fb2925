"""DashScope native response objects → Events (shared by the sync and async provider).

Facts from the wire reference §4.4–§4.5: every frame carries the cumulative ``usage``;
unfinished frames say ``finish_reason: "null"`` (a string); multimodal ``content`` is a list
of ``{"text": …}``; ``reasoning_content`` may be absent (``message.reasoning_content`` then
raises, so only ``.get`` is used); errors are response objects with ``status_code != 200``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..events import Event, Failed, Finished, ReasoningDelta, Started, TextDelta, Usage
from .dashscope_errors import from_dashscope_response


class CumulativeText:
    """One text field's successive values → deltas, whether the server sends increments
    (``incremental_output: true``) or the whole text so far (the server default for many
    models, or a server that ignores the switch).

    The mode is settled by the second non-empty value: cumulative when it extends the first.
    Once cumulative, a value that starts with everything received so far gives only its new
    suffix (the closing frame, which repeats the whole text, gives nothing).
    """

    def __init__(self) -> None:
        self.mode: str | None = None  # None (undecided), "incremental", "cumulative"
        self.received = ""

    def delta(self, value: str) -> str:
        if not value:
            return ""
        if self.mode is None and self.received:
            extends = len(value) > len(self.received) and value.startswith(self.received)
            self.mode = "cumulative" if extends else "incremental"
        if self.mode == "incremental":
            return value
        if self.mode == "cumulative" and value.startswith(self.received):
            new, self.received = value[len(self.received) :], value
            return new
        self.received += value  # the first value, or a cumulative stream that changed course
        return value


def text_of(value: Any) -> str:
    """A ``content`` / ``reasoning_content`` value: a string, or a list of ``{"text": …}``."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(
            part["text"]
            for part in value
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""


def usage_from_native(usage: Any) -> Usage | None:
    if not usage:
        return None
    output_details = usage.get("output_tokens_details") or {}
    input_details = usage.get("prompt_tokens_details") or usage.get("input_tokens_details") or {}
    return Usage(
        input_tokens=usage.get("input_tokens"),
        output_tokens=usage.get("output_tokens"),
        # 0 and absent mean the same (no thinking): report None, as the chat protocol does.
        reasoning_tokens=output_details.get("reasoning_tokens") or None,
        cached_tokens=input_details.get("cached_tokens"),
    )


class NativeStream:
    """Folds the SDK's response objects, one per frame (or one for a non-stream call)."""

    def __init__(self) -> None:
        self.text = CumulativeText()
        self.reasoning = CumulativeText()
        self.announced = False  # Started was sent
        self.started = False  # some reasoning or answer arrived
        self.failed = False
        self.request_id: str | None = None
        self.finish_reason: str | None = None
        self.usage: Usage | None = None
        self.last: Any = None  # the SDK's last response object

    def feed(self, response: Any) -> Iterator[Event]:
        self.last = response
        if response.get("status_code") != 200:
            self.failed = True
            yield Failed(from_dashscope_response(response, started=self.started))
            return
        if not self.announced:
            self.announced = True
            self.request_id = response.get("request_id") or None
            yield Started(request_id=self.request_id)
        output = response.get("output") or {}
        choices = output.get("choices") or []
        if choices:
            choice = choices[0]
            message = choice.get("message") or {}
            reasoning = self.reasoning.delta(text_of(message.get("reasoning_content")))
            text = self.text.delta(text_of(message.get("content")))
            finish = choice.get("finish_reason")
        else:  # result_format "text" (a server that ignored result_format="message")
            reasoning, text = "", self.text.delta(text_of(output.get("text")))
            finish = output.get("finish_reason")
        if reasoning:
            self.started = True
            yield ReasoningDelta(reasoning)
        if text:
            self.started = True
            yield TextDelta(text)
        if finish and finish != "null":
            self.finish_reason = finish
        usage = usage_from_native(response.get("usage"))
        if usage is not None and usage != self.usage:
            self.usage = usage
            yield usage

    def finish(self) -> Iterator[Event]:
        yield Finished(self.finish_reason, request_id=self.request_id, raw=self.last)
