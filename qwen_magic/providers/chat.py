"""OpenAI Chat Completions (DashScope compatible mode, or any OpenAI-compatible server)."""

from __future__ import annotations

import threading
from collections.abc import Generator, Iterator
from typing import Any

from qwen_magic.errors import ServiceError
from qwen_magic.events import Event, Failed, Finished, ReasoningDelta, Started, Usage
from qwen_magic.messages import chat_messages, sampling_options
from qwen_magic.providers.attempts import Attempts, retrying
from qwen_magic.providers.guard import ReadGuard, guarding
from qwen_magic.providers.logprobs import TokenFolder, logprob_arguments
from qwen_magic.providers.openai_common import failure, openai_client, thinking_body
from qwen_magic.providers.speech_wire import SpeechFold, speech_arguments
from qwen_magic.providers.think_tags import ThinkTagSplitter
from qwen_magic.providers.tool_wire import (
    ToolCallFolder,
    chat_tool_arguments,
    field_of,
    search_arguments,
)
from qwen_magic.providers.wire import (
    NO_EVENTS,
    BadReply,
    count,
    describe,
    field,
    not_a_stream,
    text,
)
from qwen_magic.request import Request

# Exceptions a reply of the wrong shape raises while it is folded (explained afterwards).
SHAPE_ERRORS = (AttributeError, TypeError, IndexError, KeyError, ValueError)
UNFINISHED = "the server closed the stream before the answer was finished (no finish_reason)"


def usage_from_chat(usage: Any) -> Usage:
    prompt_details = getattr(usage, "prompt_tokens_details", None)
    completion_details = getattr(usage, "completion_tokens_details", None)
    return Usage(
        input_tokens=count(usage.prompt_tokens, "usage.prompt_tokens"),
        output_tokens=count(usage.completion_tokens, "usage.completion_tokens"),
        reasoning_tokens=count(
            getattr(completion_details, "reasoning_tokens", None),
            "usage.completion_tokens_details.reasoning_tokens",
        ),
        cached_tokens=count(
            getattr(prompt_details, "cached_tokens", None),
            "usage.prompt_tokens_details.cached_tokens",
        ),
    )


def _reasoning_of(obj: Any) -> str | None:
    """DashScope and vLLM say ``reasoning_content``; Ollama and newer vLLM say ``reasoning``.

    Both are extra fields: read them from ``model_extra`` (a dict) rather than through
    pydantic's ``__getattr__``, which raises and catches on every chunk.
    """
    extra = getattr(obj, "model_extra", None) or {}
    value = extra.get("reasoning_content") or extra.get("reasoning")
    if value is None or type(value) is str:
        return value
    raise BadReply(f"the reasoning is {describe(value)}, not text")


def explain(item: Any, where: str) -> str:
    """What is wrong with a chunk (``where="choices[0].delta"``) or a whole completion
    (``"choices[0].message"``): called only once folding it failed."""
    if item is None or isinstance(item, str | int | float | list):
        return f"an event is {describe(item)}, not an object"
    choices = field(item, "choices")
    if choices is not None and not isinstance(choices, list):
        return f"choices is {describe(choices)}, not a list"
    if choices:
        choice = choices[0]
        if choice is None or isinstance(choice, str | int | float | list):
            return f"choices[0] is {describe(choice)}, not an object"
        inner = field(choice, where.rsplit(".", 1)[1])
        if inner is None or isinstance(inner, str | int | float | list):
            return f"{where} is {describe(inner)}, not an object"
        for name in ("content", "role"):
            value = field(inner, name)
            if value is not None and not isinstance(value, str):
                return f"{where}.{name} is {describe(value)}, not text"
        reason = field(choice, "finish_reason")
        if reason is not None and not isinstance(reason, str):
            return f"choices[0].finish_reason is {describe(reason)}, not text"
    usage = field(item, "usage")
    if usage is not None and isinstance(usage, str | int | float | list):
        return f"usage is {describe(usage)}, not an object"
    return "a part of it does not have the shape the chat protocol gives it"


class ChatStream:
    """Folds Chat Completions chunks (or one whole completion) into Events: the one fold of
    the chat protocol, as openai-python's ``ChatCompletionStreamState`` is for its helpers.

    ``feed`` each chunk of a stream then ``finish``; or ``whole`` for a non-streamed reply.
    """

    def __init__(self, request_id: str | None) -> None:
        self.request_id = request_id
        self.response_id: str | None = None
        self.finish_reason: str | None = None
        self.announced = False  # Started was sent
        self.started = False  # some reasoning or answer arrived
        self.splitter = ThinkTagSplitter()
        self.tool_calls = ToolCallFolder()  # fragments of the calls asked for, by index
        self.logprobs = TokenFolder()  # --logprobs: the tokens' probabilities
        self.speech = SpeechFold()  # --voice: delta.audio
        self.last: Any = None  # the last chunk, or the whole completion (Result.raw)

    def _announce(self, item: Any, response_id: str | None) -> Event:
        self.announced = True
        self.response_id = response_id
        model = item.model if type(item.model) is str else None
        return Started(request_id=self.request_id or response_id or None, model=model)

    def _message(self, message: Any, where: str) -> Iterator[Event]:
        """The reasoning and the answer of a ``delta`` or a whole ``message``."""
        reasoning = _reasoning_of(message)
        if reasoning:
            self.started = True
            yield from self.splitter.off()  # the server splits reasoning from the answer
            yield ReasoningDelta(reasoning)
        content = message.content
        if content:
            if type(content) is not str:
                raise BadReply(f"{where}.content is {describe(content)}, not text")
            self.started = True
            if self.speech.takes_content():
                yield from self.splitter.feed(content)
        for spoken in self.speech.feed(message, where):
            self.started = True
            yield spoken
        calls = getattr(message, "tool_calls", None)
        if calls:
            if not isinstance(calls, list):
                raise BadReply(f"{where}.tool_calls is {describe(calls)}, not a list")
            self.started = True
            for number, call in enumerate(calls):
                function = field_of(call, "function")
                self.tool_calls.add(
                    field_of(call, "index") if where.endswith("delta") else number,
                    field_of(call, "id"),
                    field_of(function, "name"),
                    field_of(function, "arguments"),
                    f"{where}.tool_calls[{number}]",
                )

    def feed(self, chunk: Any) -> Iterator[Event]:
        """One chunk of a stream."""
        self.last = chunk
        try:
            if not self.announced:
                yield self._announce(chunk, chunk.id if type(chunk.id) is str else "")
            if chunk.choices:
                choice = chunk.choices[0]
                yield from self._message(choice.delta, "choices[0].delta")
                probs = self.logprobs.feed(choice.logprobs, "choices[0].logprobs")
                if probs is not None:
                    yield probs
                if choice.finish_reason:
                    self.finish_reason = text(choice.finish_reason, "finish_reason")
            if chunk.usage is not None:
                yield usage_from_chat(chunk.usage)
        except SHAPE_ERRORS as exc:
            raise BadReply(explain(chunk, "choices[0].delta")) from exc

    def whole(self, completion: Any) -> Iterator[Event]:
        """A non-streamed completion: the same Events a stream of it would give."""
        self.last = completion
        try:
            yield self._announce(completion, text(completion.id, "id"))
            choices = completion.choices
            if not choices or not isinstance(choices, list):
                raise BadReply(f"its reply has no choices (choices is {describe(choices)})")
            choice = choices[0]
            yield from self._message(choice.message, "choices[0].message")
            probs = self.logprobs.feed(choice.logprobs, "choices[0].logprobs")
            if probs is not None:
                yield probs
            self.finish_reason = text(choice.finish_reason, "choices[0].finish_reason")
            if completion.usage is not None:
                yield usage_from_chat(completion.usage)
        except SHAPE_ERRORS as exc:
            raise BadReply(explain(completion, "choices[0].message")) from exc
        yield from self.finish(streamed=False)

    def finish(self, *, streamed: bool = True) -> Iterator[Event]:
        """The end of the reply: a stream must have said how it finished."""
        if not self.announced:
            raise BadReply(NO_EVENTS)
        yield from self.splitter.flush()
        tail = self.logprobs.flush()
        if tail is not None:
            yield tail
        if streamed and self.finish_reason is None:
            yield Failed(ServiceError("stream", UNFINISHED))
            return
        calls, self.finish_reason = self.tool_calls.events(self.finish_reason)
        yield from calls
        yield Finished(
            self.finish_reason,
            request_id=self.request_id or self.response_id or None,
            response_id=self.response_id or None,
            raw=self.last,  # the last chunk (usage, ids) or the whole completion
        )


class ChatProvider:
    def __init__(self, request: Request) -> None:
        self.request = request
        self._stream: Any = None
        self._client: Any = None
        self._stopped = threading.Event()
        self.guard = ReadGuard(request.timeout)

    def _arguments(self) -> dict[str, Any]:
        req = self.request
        args: dict[str, Any] = {
            "model": req.model,
            "messages": chat_messages(req),
            **sampling_options(req),
        }
        if req.max_tokens is not None:
            args["max_tokens"] = req.max_tokens
        if req.samples > 1:  # -n K: K choices in one reply (providers/samples.py)
            args["n"] = req.samples
        if req.json_mode:
            args["response_format"] = {"type": "json_object"}
        args.update(chat_tool_arguments(req))
        args.update(speech_arguments(req))
        args.update(logprob_arguments(req))
        extra = {**thinking_body(req), **search_arguments(req)}
        if extra:
            args["extra_body"] = extra
        return args

    def prepare(self) -> None:
        """Import the SDK and build (or reuse) the client, before the clock starts."""
        req = self.request
        self._client = openai_client(req.base_url, req.api_key, req.timeout)

    def events(self) -> Generator[Event, None, None]:
        if self._client is None:
            self.prepare()
        attempts = Attempts(self.request, self._stopped, self.guard)
        with guarding(self.guard):
            yield from retrying(self._attempt, attempts)

    def _fold(self, request_id: str | None) -> Any:
        """What folds this attempt's reply into Events (a ``ChatStream``)."""
        return ChatStream(request_id)

    def _attempt(self, attempts: Attempts) -> Generator[Event, None, None]:
        timeout = attempts.begin()
        state: Any = None
        try:
            if self.request.stream:
                stream = self._client.chat.completions.create(
                    stream=True, stream_options={"include_usage": True}, timeout=timeout,
                    **self._arguments(),
                )  # fmt: skip
                self._stream = stream
                headers = stream.response.headers
                content_type = headers.get("content-type", "")
                if "json" in content_type:
                    stream.close()
                    raise not_a_stream(content_type)
                state = self._fold(headers.get("x-request-id"))
                with stream:  # closed when we stop early (this generator is closed)
                    for chunk in stream:
                        yield from state.feed(chunk)
                yield from state.finish()
            else:
                raw = self._client.chat.completions.with_raw_response.create(
                    timeout=timeout, **self._arguments()
                )
                content_type = raw.headers.get("content-type", "")
                if "event-stream" in content_type:
                    raise BadReply(f"it answered a request for one JSON reply with {content_type}")
                state = self._fold(raw.headers.get("x-request-id"))
                yield from state.whole(raw.parse())
        except Exception as exc:  # every SDK/transport failure ends as one Failed event
            started = state is not None and state.started  # then a lost connection broke it
            error = failure(exc, self._stopped, self.guard, started)
            if error is not None:
                yield Failed(error)

    def abort(self) -> None:
        """Stop now, from any thread: no retry, and the socket is shut even while the request
        still waits for its first byte."""
        self._stopped.set()
        self.guard.abort()
        stream = self._stream
        if stream is not None:
            stream.response.close()
