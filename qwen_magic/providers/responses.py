"""The OpenAI Responses API (DashScope's current or legacy path, or another server).

The stream is read with ``responses.create(stream=True)`` and each event is dispatched on
``event.type`` — never on its class, never with the strict ``.stream()`` helper: DashScope's
events differ slightly from OpenAI's, and unknown types come back under the wrong class
(docs/wire.md §3.4).
"""

from __future__ import annotations

import threading
from collections.abc import Generator, Iterator
from contextlib import suppress
from typing import Any

from qwen_magic.errors import ServiceError
from qwen_magic.events import Event, Failed, Finished, ReasoningDelta, Started, Usage
from qwen_magic.messages import responses_input, sampling_options
from qwen_magic.providers.attempts import Attempts, retrying
from qwen_magic.providers.guard import ReadGuard, guarding
from qwen_magic.providers.openai_common import failure, openai_client, thinking_body
from qwen_magic.providers.think_tags import ThinkTagSplitter
from qwen_magic.providers.tool_wire import (
    ResponsesSources,
    ToolCallFolder,
    field_of,
    responses_tool_arguments,
)
from qwen_magic.providers.wire import (
    NO_EVENTS,
    BadReply,
    count,
    describe,
    error_code,
    not_a_stream,
    text,
)
from qwen_magic.request import Request

# Which one DashScope sends is not settled (docs/wire.md §3.3, §8.2): accept both.
REASONING_DELTAS = ("response.reasoning_text.delta", "response.reasoning_summary_text.delta")
FINAL = ("response.completed", "response.incomplete")
UNFINISHED = "the server closed the stream before the answer was finished (no response.completed)"


def usage_from_responses(usage: Any) -> Usage:
    input_details = getattr(usage, "input_tokens_details", None)
    output_details = getattr(usage, "output_tokens_details", None)
    if usage is None or isinstance(usage, str | int | float | list):
        raise BadReply(f"usage is {describe(usage)}, not an object")
    where = "response.usage."
    return Usage(
        input_tokens=count(getattr(usage, "input_tokens", None), where + "input_tokens"),
        output_tokens=count(getattr(usage, "output_tokens", None), where + "output_tokens"),
        # 0 and absent mean the same (no thinking): report None, as the chat protocol does.
        reasoning_tokens=count(
            getattr(output_details, "reasoning_tokens", None),
            where + "output_tokens_details.reasoning_tokens",
        )
        or None,
        cached_tokens=count(
            getattr(input_details, "cached_tokens", None),
            where + "input_tokens_details.cached_tokens",
        ),
    )


def finish_reason_of(response: Any) -> str | None:
    """``completed`` → ``stop``; ``incomplete`` → ``length`` (or ``content_filter``)."""
    status = getattr(response, "status", None)
    if status == "completed":
        return "stop"
    if status == "incomplete":
        details = getattr(response, "incomplete_details", None)
        reason = getattr(details, "reason", None)
        return "content_filter" if reason == "content_filter" else "length"
    return None


def failure_of(source: Any) -> ServiceError:
    """An ``error`` event, or the ``error`` of a failed response."""
    return ServiceError(
        "stream",
        str(getattr(source, "message", None) or "the response failed"),
        code=error_code(getattr(source, "code", None), getattr(source, "type", None)),
    )


class ResponsesStream:
    """Folds Responses API stream events (or one whole response) into Events."""

    def __init__(self, request_id: str | None) -> None:
        self.request_id = request_id
        self.response_id: str | None = None
        self.finish_reason: str | None = None
        self.announced = False
        self.started = False  # some reasoning or answer arrived
        self.failed = False
        self.splitter = ThinkTagSplitter()
        self.tool_calls = ToolCallFolder()  # function_call items, by output_index
        self.sources = ResponsesSources()  # web_search_call items and url_citations
        self.texts: dict[Any, str] = {}  # each message item's text so far (for annotations)
        self.response: Any = None  # the final response object (Result.raw)

    def _announce(self, response: Any) -> Iterator[Event]:
        if response is not None and self.response_id is None:
            self.response_id = text(getattr(response, "id", None), "response.id")
        if not self.announced:
            self.announced = True
            model = getattr(response, "model", None)
            model = model if type(model) is str and model else None
            yield Started(request_id=self.request_id or self.response_id, model=model)

    def feed(self, event: Any) -> Iterator[Event]:
        kind = getattr(event, "type", None)
        if type(kind) is not str:
            raise BadReply(f"an event is {describe(event)}, with no type")
        yield from self._announce(getattr(event, "response", None))
        if kind in REASONING_DELTAS:
            delta = event.delta
            if delta:
                if type(delta) is not str:
                    raise BadReply(f"a {kind} event's delta is {describe(delta)}, not text")
                self.started = True
                yield from self.splitter.off()  # the server splits reasoning from the answer
                yield ReasoningDelta(delta)
        elif kind == "response.output_text.delta":
            delta = event.delta
            if delta:
                if type(delta) is not str:
                    raise BadReply(f"a {kind} event's delta is {describe(delta)}, not text")
                self.started = True
                item_id = getattr(event, "item_id", None)
                self.texts[item_id] = self.texts.get(item_id, "") + delta
                yield from self.splitter.feed(delta)
        elif kind == "response.output_text.annotation.added":
            text = self.texts.get(getattr(event, "item_id", None))
            self.sources.add_annotation(getattr(event, "annotation", None), text)
        elif kind == "response.output_item.added":
            self._item(event, done=False)
        elif kind == "response.function_call_arguments.delta":
            index = getattr(event, "output_index", None)
            self.started = True
            delta = getattr(event, "delta", None)
            self.tool_calls.add(index, None, None, delta, f"output[{index}]")
        elif kind == "response.output_item.done":
            self._item(event, done=True)
        elif kind in FINAL:
            response = getattr(event, "response", None)
            if response is None or isinstance(response, str | int | float | list):
                raise BadReply(f"the {kind} event's response is {describe(response)}")
            yield from self._final(response)
        elif kind == "error":
            self.failed = True
            yield Failed(failure_of(event))
        elif kind == "response.failed":
            self.failed = True
            yield Failed(failure_of(getattr(getattr(event, "response", None), "error", None)))

    def _item(self, event: Any, done: bool) -> None:
        """An output item begins or ends: a function call's id and name (whole when done),
        a web search's sources, a message's annotations."""
        item, index = getattr(event, "item", None), getattr(event, "output_index", None)
        kind = field_of(item, "type")
        if kind == "function_call":
            self.started = True
            call_id, name = field_of(item, "call_id"), field_of(item, "name")
            arguments = field_of(item, "arguments")
            if done and isinstance(arguments, str) and type(index) is int:
                self.tool_calls.replace(index, call_id or "", name or "", arguments)
            else:
                self.tool_calls.add(index, call_id, name, None, f"output[{index}]")
        elif kind == "web_search_call" and done:
            self.sources.add_search(item)
        elif kind == "message" and done:
            self.sources.add_message(item)

    def _final(self, response: Any) -> Iterator[Event]:
        self.response = response
        self.response_id = text(getattr(response, "id", None), "response.id") or self.response_id
        self.finish_reason = finish_reason_of(response)
        if getattr(response, "usage", None) is not None:
            yield usage_from_responses(response.usage)

    def whole(self, response: Any) -> Iterator[Event]:
        """A non-stream response: its reasoning items, its message text, its usage."""
        if response is None or isinstance(response, str | int | float | list):
            raise BadReply(f"its reply is {describe(response)}, not a response object")
        yield from self._announce(response)
        status = getattr(response, "status", None)
        if status == "failed":
            self.failed = True
            yield Failed(failure_of(getattr(response, "error", None)))
            return
        output = getattr(response, "output", None)
        if not isinstance(output, list):
            raise BadReply(f"its reply has no output (output is {describe(output)})")
        reasoning, answer = [], []
        for index, item in enumerate(output):
            kind = getattr(item, "type", None)
            if kind is None:
                raise BadReply(f"output[{index}] is {describe(item)}, with no type")
            if kind == "reasoning":
                parts = getattr(item, "summary", None) or getattr(item, "content", None) or []
                reasoning += _texts(parts, f"output[{index}]", None)
            elif kind == "message":
                parts = getattr(item, "content", None) or []
                answer += _texts(parts, f"output[{index}]", "output_text")
                self.sources.add_message(item)
            elif kind == "web_search_call":
                self.sources.add_search(item)
            elif kind == "function_call":
                self.tool_calls.add(
                    index,
                    field_of(item, "call_id"),
                    field_of(item, "name"),
                    field_of(item, "arguments"),
                    f"output[{index}]",
                )
        if reasoning:
            yield from self.splitter.off()
            yield ReasoningDelta("".join(reasoning))
        if "".join(answer):
            yield from self.splitter.feed("".join(answer))
        yield from self._final(response)
        if self.finish_reason is None:
            raise BadReply(f"its reply has status {describe(status)}, not completed")
        yield from self.finish()

    def finish(self) -> Iterator[Event]:
        if not self.announced:
            raise BadReply(NO_EVENTS)
        yield from self.splitter.flush()
        if self.response is None:
            yield Failed(ServiceError("stream", UNFINISHED))
            return
        if isinstance(getattr(self.response, "output", None), list):
            for item in self.response.output:  # the final word on calls and sources
                kind = field_of(item, "type")
                if kind == "web_search_call":
                    self.sources.add_search(item)
                elif kind == "message":
                    self.sources.add_message(item)
        yield from self.sources.events()
        calls, self.finish_reason = self.tool_calls.events(self.finish_reason)
        yield from calls
        yield Finished(
            self.finish_reason,
            request_id=self.request_id or self.response_id,
            response_id=self.response_id,
            raw=self.response,
        )


_warm = False


def _warm_up_event_types() -> None:
    """The openai SDK spends ~0.5 s on the first stream event it builds (it resolves the big
    event union once): do that now, so it does not count as the service's first-token time."""
    global _warm
    if _warm:
        return
    _warm = True
    with suppress(Exception):  # a private helper: if it moves, only the first call is slower
        from openai._models import construct_type
        from openai.types.responses import ResponseStreamEvent

        construct_type(type_=ResponseStreamEvent, value={"type": "response.created"})


def _texts(parts: Any, where: str, kind: str | None) -> list[str]:
    """The ``text`` of each part (of ``type == kind``, when given)."""
    if not isinstance(parts, list):
        raise BadReply(f"{where}'s content is {describe(parts)}, not a list")
    found = []
    for part in parts:
        if part is None or isinstance(part, str | int | float | list):
            raise BadReply(f"a part of {where} is {describe(part)}, not an object")
        if kind is None or getattr(part, "type", None) == kind:
            value = text(getattr(part, "text", None), f"a part of {where}'s text")
            if value:
                found.append(value)
    return found


class ResponsesProvider:
    def __init__(self, request: Request) -> None:
        self.request = request
        self._stream: Any = None
        self._client: Any = None
        self._stopped = threading.Event()
        self.guard = ReadGuard(request.timeout)

    def prepare(self) -> None:
        """Import the SDK and build (or reuse) the client, before the clock starts."""
        req = self.request
        self._client = openai_client(req.base_url, req.api_key, req.timeout)
        _warm_up_event_types()

    def _arguments(self) -> dict[str, Any]:
        """``seed``/``stop`` are not Responses parameters: they go in the body as extras
        (DashScope ignores what it does not document; other servers may honour them)."""
        req = self.request
        sampling = sampling_options(req)
        args: dict[str, Any] = {"model": req.model, "input": responses_input(req)}
        if req.system:
            args["instructions"] = req.system
        for name in ("temperature", "top_p"):
            if name in sampling:
                args[name] = sampling.pop(name)
        if req.max_tokens is not None:
            args["max_output_tokens"] = req.max_tokens
        if req.json_mode:
            args["text"] = {"format": {"type": "json_object"}}
        args.update(responses_tool_arguments(req))
        extra = {**thinking_body(req), **sampling}
        if extra:
            args["extra_body"] = extra
        return args

    def events(self) -> Generator[Event, None, None]:
        if self._client is None:
            self.prepare()
        attempts = Attempts(self.request, self._stopped, self.guard)
        with guarding(self.guard):
            yield from retrying(self._attempt, attempts)

    def _attempt(self, attempts: Attempts) -> Generator[Event, None, None]:
        timeout = attempts.begin()
        client = self._client
        state = None
        try:
            if self.request.stream:
                stream = client.responses.create(stream=True, timeout=timeout, **self._arguments())
                self._stream = stream
                headers = stream.response.headers
                state = ResponsesStream(headers.get("x-request-id"))
                if "json" in headers.get("content-type", ""):
                    stream.close()
                    raise not_a_stream(headers.get("content-type"))
                with stream:
                    for event in stream:
                        yield from state.feed(event)
                        if state.failed:
                            return
                yield from state.finish()
            else:
                raw = client.responses.with_raw_response.create(
                    timeout=timeout, **self._arguments()
                )
                state = ResponsesStream(raw.headers.get("x-request-id"))
                yield from state.whole(raw.parse())
        except Exception as exc:  # every SDK/transport failure ends as one Failed event
            started = state is not None and state.started
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
