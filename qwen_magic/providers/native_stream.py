"""DashScope native response objects → Events: the one fold of the native protocol.

Facts from the docs/wire.md §4.4–§4.5: every frame carries the cumulative ``usage``;
unfinished frames say ``finish_reason: "null"`` (a string); multimodal ``content`` is a list
of ``{"text": …}``; ``reasoning_content`` may be absent (``message.reasoning_content`` then
raises, so only ``.get`` is used); errors are response objects with ``status_code != 200``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from qwen_magic.errors import ServiceError
from qwen_magic.events import (
    Event,
    Failed,
    Finished,
    ReasoningDelta,
    Sources,
    Started,
    TextDelta,
    Usage,
)
from qwen_magic.providers.dashscope_errors import from_dashscope_response
from qwen_magic.providers.logprobs import TokenFolder
from qwen_magic.providers.tool_wire import ToolCallFolder, native_sources
from qwen_magic.providers.wire import NO_EVENTS, BadReply, count, describe, text

UNFINISHED = "the server closed the stream before the answer was finished (no finish_reason)"


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


def text_of(value: Any, where: str) -> str:
    """A ``content`` / ``reasoning_content`` value: a string, or a list of ``{"text": …}``
    (parts without text, such as audio, are skipped)."""
    if value is None:
        return ""
    if type(value) is str:
        return value
    if isinstance(value, list):
        texts = []
        for part in value:
            if not isinstance(part, dict):
                raise BadReply(f"a part of {where} is {describe(part)}, not an object")
            piece = part.get("text")
            if piece is not None:
                texts.append(text(piece, f"a part of {where}'s text") or "")
        return "".join(texts)
    raise BadReply(f"{where} is {describe(value)}, not text")


def usage_from_native(usage: Any) -> Usage | None:
    if not usage:
        return None
    if not isinstance(usage, dict):
        raise BadReply(f"usage is {describe(usage)}, not an object")
    output_details = usage.get("output_tokens_details") or {}
    input_details = usage.get("prompt_tokens_details") or usage.get("input_tokens_details") or {}
    if not isinstance(output_details, dict) or not isinstance(input_details, dict):
        raise BadReply("usage details are not objects")
    return Usage(
        input_tokens=count(usage.get("input_tokens"), "usage.input_tokens"),
        output_tokens=count(usage.get("output_tokens"), "usage.output_tokens"),
        # 0 and absent mean the same (no thinking): report None, as the chat protocol does.
        reasoning_tokens=count(output_details.get("reasoning_tokens"), "usage.reasoning_tokens")
        or None,
        cached_tokens=count(input_details.get("cached_tokens"), "usage.cached_tokens"),
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
        self.tool_calls = ToolCallFolder()
        self.arguments: dict[int, CumulativeText] = {}  # per call: increments or the whole
        self.sources: Sources | None = None
        self.logprobs = TokenFolder()  # --logprobs: the tokens' probabilities
        self.last: Any = None  # the SDK's last response object

    def feed(self, response: Any) -> Iterator[Event]:
        self.last = response
        if response.get("status_code") != 200:
            self.failed = True
            yield Failed(self._failure(response))
            return
        if not self.announced:
            self.announced = True
            self.request_id = text(response.get("request_id"), "request_id") or None
            yield Started(request_id=self.request_id)
        output = response.get("output")
        if not isinstance(output, dict):
            raise BadReply(f"a frame's output is {describe(output)}, not an object")
        sources = native_sources(output)
        if sources is not None and sources != self.sources:
            self.sources = sources
            yield sources
        choices = output.get("choices")
        if choices:
            if not isinstance(choices, list) or not isinstance(choices[0], dict):
                raise BadReply(f"output.choices is {describe(choices)}, not a list of objects")
            choice = choices[0]
            message = choice.get("message") or {}
            if not isinstance(message, dict):
                raise BadReply(f"output.choices[0].message is {describe(message)}")
            where = "output.choices[0].message"
            reasoning = self.reasoning.delta(
                text_of(message.get("reasoning_content"), where + ".reasoning_content")
            )
            answer = self.text.delta(text_of(message.get("content"), where + ".content"))
            self._calls(message.get("tool_calls"), where + ".tool_calls")
            probs = self.logprobs.feed(
                choice.get("logprobs"),
                "output.choices[0].logprobs",
                cumulative=self.text.mode == "cumulative",
            )
            finish = text(choice.get("finish_reason"), "output.choices[0].finish_reason")
        else:  # result_format "text" (a server that ignored result_format="message")
            reasoning, probs = "", None
            answer = self.text.delta(text_of(output.get("text"), "output.text"))
            finish = text(output.get("finish_reason"), "output.finish_reason")
        if reasoning:
            self.started = True
            yield ReasoningDelta(reasoning)
        if answer:
            self.started = True
            yield TextDelta(answer)
        if probs is not None:
            yield probs
        if finish and finish != "null":
            self.finish_reason = finish
        usage = usage_from_native(response.get("usage"))
        if usage is not None and usage != self.usage:
            self.usage = usage
            yield usage

    def _calls(self, calls: Any, where: str) -> None:
        """Call fragments: the id and name come once, later fragments have an empty id; the
        arguments are increments (incremental output) or the whole text so far."""
        if not calls:
            return
        if not isinstance(calls, list):
            raise BadReply(f"{where} is {describe(calls)}, not a list")
        self.started = True
        for number, call in enumerate(calls):
            if not isinstance(call, dict):
                raise BadReply(f"{where}[{number}] is {describe(call)}, not an object")
            function = call.get("function") or {}
            if not isinstance(function, dict):
                raise BadReply(f"{where}[{number}].function is {describe(function)}")
            index = call.get("index", number)
            arguments = function.get("arguments")
            if type(arguments) is str and type(index) is int:
                arguments = self.arguments.setdefault(index, CumulativeText()).delta(arguments)
            self.tool_calls.add(
                index, call.get("id"), function.get("name"), arguments, f"{where}[{number}]"
            )

    def _failure(self, response: Any) -> ServiceError:
        """An error object. The SDK makes one, coded ``Unknown``, of a stream frame whose
        data is not JSON (``data:[DONE]``, a cut frame): that is the server's fault."""
        headers = response.get("headers") or {}
        content_type = str(headers.get("content-type") or headers.get("Content-Type") or "")
        if response.get("code") == "Unknown" and "event-stream" in content_type:
            message = response.get("message")
            return BadReply(f"part of its reply is not JSON: {describe(message)}").error()
        return from_dashscope_response(response, started=self.started)

    def finish(self, *, streamed: bool = True) -> Iterator[Event]:
        """The end of the reply: a stream must have said how it finished."""
        if not self.announced:
            raise BadReply(NO_EVENTS if streamed else "its reply is empty")
        if streamed and self.finish_reason is None:
            yield Failed(ServiceError("stream", UNFINISHED))
            return
        tail = self.logprobs.flush()
        if tail is not None:
            yield tail
        calls, self.finish_reason = self.tool_calls.events(self.finish_reason)
        yield from calls
        yield Finished(self.finish_reason, request_id=self.request_id, raw=self.last)
