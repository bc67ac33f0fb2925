"""The OpenAI Responses API (DashScope's current or legacy path, or another server).

The stream is read with ``responses.create(stream=True)`` and each event is dispatched on
``event.type`` — never on its class, never with the strict ``.stream()`` helper: DashScope's
events differ slightly from OpenAI's, and unknown types come back under the wrong class
(reference §3.4).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import suppress
from typing import Any

from ..errors import ServiceError, is_service_failure
from ..events import Event, Failed, Finished, ReasoningDelta, Started, Usage
from ..messages import responses_input, sampling_options, thinking_options
from ..request import Request
from .openai_common import from_openai_error, openai_client
from .think_tags import ThinkTagSplitter

# Which one DashScope sends is not settled (reference §3.3, §8.2): accept both.
REASONING_DELTAS = ("response.reasoning_text.delta", "response.reasoning_summary_text.delta")
FINAL = ("response.completed", "response.incomplete")


def usage_from_responses(usage: Any) -> Usage:
    input_details = getattr(usage, "input_tokens_details", None)
    output_details = getattr(usage, "output_tokens_details", None)
    return Usage(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        # 0 and absent mean the same (no thinking): report None, as the chat protocol does.
        reasoning_tokens=getattr(output_details, "reasoning_tokens", None) or None,
        cached_tokens=getattr(input_details, "cached_tokens", None),
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
        code=getattr(source, "code", None),
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
        self.response: Any = None  # the final response object (Result.raw)

    def _announce(self, response: Any) -> Iterator[Event]:
        if response is not None and self.response_id is None:
            self.response_id = getattr(response, "id", None)
        if not self.announced:
            self.announced = True
            model = getattr(response, "model", None) or None
            yield Started(request_id=self.request_id or self.response_id, model=model)

    def feed(self, event: Any) -> Iterator[Event]:
        kind = getattr(event, "type", None)
        yield from self._announce(getattr(event, "response", None))
        if kind in REASONING_DELTAS:
            if event.delta:
                self.started = True
                yield ReasoningDelta(event.delta)
        elif kind == "response.output_text.delta":
            if event.delta:
                self.started = True
                yield from self.splitter.feed(event.delta)
        elif kind in FINAL:
            yield from self._final(event.response)
        elif kind == "error":
            self.failed = True
            yield Failed(failure_of(event))
        elif kind == "response.failed":
            self.failed = True
            yield Failed(failure_of(getattr(event.response, "error", None)))

    def _final(self, response: Any) -> Iterator[Event]:
        self.response = response
        self.response_id = getattr(response, "id", None) or self.response_id
        self.finish_reason = finish_reason_of(response)
        if getattr(response, "usage", None) is not None:
            yield usage_from_responses(response.usage)

    def whole(self, response: Any) -> Iterator[Event]:
        """A non-stream response: its reasoning items, its message text, its usage."""
        yield from self._announce(response)
        if getattr(response, "status", None) == "failed":
            self.failed = True
            yield Failed(failure_of(getattr(response, "error", None)))
            return
        reasoning, text = [], []
        for item in getattr(response, "output", None) or []:
            kind = getattr(item, "type", None)
            if kind == "reasoning":
                parts = getattr(item, "summary", None) or getattr(item, "content", None) or []
                reasoning += [part.text for part in parts if getattr(part, "text", None)]
            elif kind == "message":
                parts = getattr(item, "content", None) or []
                text += [p.text for p in parts if getattr(p, "type", None) == "output_text"]
        if reasoning:
            yield ReasoningDelta("".join(reasoning))
        if "".join(text):
            yield from self.splitter.feed("".join(text))
        yield from self._final(response)
        yield from self.finish()

    def finish(self) -> Iterator[Event]:
        yield from self.splitter.flush()
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


class ResponsesProvider:
    def __init__(self, request: Request) -> None:
        self.request = request
        self._stream: Any = None
        self._client: Any = None

    def prepare(self) -> None:
        """Import the SDK and build (or reuse) the client, before the clock starts."""
        req = self.request
        self._client = openai_client(req.base_url, req.api_key, req.timeout, req.max_retries)
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
        extra = {**thinking_options(req), **sampling}
        if extra:
            args["extra_body"] = extra
        return args

    def events(self) -> Iterator[Event]:
        req = self.request
        if self._client is None:
            self.prepare()
        client = self._client
        state = None
        try:
            if req.stream:
                stream = client.responses.create(stream=True, **self._arguments())
                self._stream = stream
                state = ResponsesStream(stream.response.headers.get("x-request-id"))
                with stream:
                    for event in stream:
                        yield from state.feed(event)
                        if state.failed:
                            return
                yield from state.finish()
            else:
                raw = client.responses.with_raw_response.create(**self._arguments())
                state = ResponsesStream(raw.headers.get("x-request-id"))
                yield from state.whole(raw.parse())
        except Exception as exc:  # every SDK/transport failure ends as one Failed event
            if not is_service_failure(exc):
                raise  # a bug: the runner shows it with its traceback
            yield Failed(from_openai_error(exc, started=state is not None and state.started))

    def abort(self) -> None:
        stream = self._stream
        if stream is not None:
            stream.response.close()

    async def aevents(self) -> AsyncIterator[Event]:
        """The same Events over ``openai.AsyncOpenAI`` (for batch runs)."""
        from .aio import async_openai_client

        req = self.request
        async with async_openai_client(
            req.base_url, req.api_key, req.timeout, req.max_retries
        ) as client:
            state = None
            try:
                if req.stream:
                    stream = await client.responses.create(stream=True, **self._arguments())
                    state = ResponsesStream(stream.response.headers.get("x-request-id"))
                    async with stream:
                        async for event in stream:
                            for item in state.feed(event):
                                yield item
                            if state.failed:
                                return
                    for item in state.finish():
                        yield item
                else:
                    raw = await client.responses.with_raw_response.create(**self._arguments())
                    state = ResponsesStream(raw.headers.get("x-request-id"))
                    for item in state.whole(raw.parse()):  # parsed synchronously
                        yield item
            except Exception as exc:
                if not is_service_failure(exc):
                    raise  # a bug: the runner shows it with its traceback
                yield Failed(from_openai_error(exc, started=state is not None and state.started))
