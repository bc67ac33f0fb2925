"""OpenAI Chat Completions (DashScope compatible mode, or any OpenAI-compatible server)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from ..errors import is_service_failure
from ..events import Event, Failed, Finished, ReasoningDelta, Started, TextDelta, Usage
from ..messages import chat_messages, sampling_options, thinking_options
from ..request import Request
from .openai_common import from_openai_error, openai_client
from .think_tags import ThinkTagSplitter


def usage_from_chat(usage: Any) -> Usage:
    prompt_details = getattr(usage, "prompt_tokens_details", None)
    completion_details = getattr(usage, "completion_tokens_details", None)
    return Usage(
        input_tokens=usage.prompt_tokens,
        output_tokens=usage.completion_tokens,
        reasoning_tokens=getattr(completion_details, "reasoning_tokens", None),
        cached_tokens=getattr(prompt_details, "cached_tokens", None),
    )


def _reasoning_of(obj: Any) -> str | None:
    """DashScope and vLLM say ``reasoning_content``; Ollama and newer vLLM say ``reasoning``.

    Both are extra fields: read them from ``model_extra`` (a dict) rather than through
    pydantic's ``__getattr__``, which raises and catches on every chunk.
    """
    extra = getattr(obj, "model_extra", None) or {}
    value = extra.get("reasoning_content") or extra.get("reasoning")
    return value if isinstance(value, str) else None


def completion_events(completion: Any, request_id: str | None) -> Iterator[Event]:
    """A whole (non-streamed) chat completion → Events; shared with the async twin."""
    request_id = request_id or completion.id
    yield Started(request_id=request_id, model=completion.model)
    finish_reason = None
    if completion.choices:
        message = completion.choices[0].message
        reasoning = _reasoning_of(message)
        if reasoning:
            yield ReasoningDelta(reasoning)
        if message.content:
            splitter = ThinkTagSplitter()
            yield from splitter.feed(message.content)
            yield from splitter.flush()
        finish_reason = completion.choices[0].finish_reason
    if completion.usage is not None:
        yield usage_from_chat(completion.usage)
    yield Finished(finish_reason, request_id=request_id, response_id=completion.id, raw=completion)


class ChatProvider:
    def __init__(self, request: Request) -> None:
        self.request = request
        self._stream: Any = None
        self._client: Any = None

    def _arguments(self) -> dict[str, Any]:
        req = self.request
        args: dict[str, Any] = {
            "model": req.model,
            "messages": chat_messages(req),
            **sampling_options(req),
        }
        if req.max_tokens is not None:
            args["max_tokens"] = req.max_tokens
        if req.json_mode:
            args["response_format"] = {"type": "json_object"}
        extra = thinking_options(req)
        if extra:
            args["extra_body"] = extra
        return args

    def prepare(self) -> None:
        """Import the SDK and build (or reuse) the client, before the clock starts."""
        req = self.request
        self._client = openai_client(req.base_url, req.api_key, req.timeout, req.max_retries)

    def events(self) -> Iterator[Event]:
        req = self.request
        if self._client is None:
            self.prepare()
        client = self._client
        answer = self._streamed(client) if req.stream else self._whole(client)
        started = False  # once a token arrived, a lost connection is a broken stream
        try:
            for event in answer:
                started = started or isinstance(event, ReasoningDelta | TextDelta)
                yield event
        except Exception as exc:  # every SDK/transport failure ends as one Failed event
            if not is_service_failure(exc):
                raise  # a bug: the runner shows it with its traceback
            yield Failed(from_openai_error(exc, started=started))
        finally:
            answer.close()  # closes the HTTP stream if we stopped early

    def _streamed(self, client: Any) -> Iterator[Event]:
        stream = client.chat.completions.create(
            stream=True, stream_options={"include_usage": True}, **self._arguments()
        )
        self._stream = stream
        request_id = stream.response.headers.get("x-request-id")
        splitter = ThinkTagSplitter()
        finish_reason = None
        response_id = None
        with stream:
            for chunk in stream:
                if response_id is None:
                    response_id = chunk.id
                    yield Started(request_id=request_id or chunk.id, model=chunk.model)
                if chunk.choices:
                    choice = chunk.choices[0]
                    delta = choice.delta
                    reasoning = _reasoning_of(delta)
                    if reasoning:
                        yield ReasoningDelta(reasoning)
                    if delta.content:
                        yield from splitter.feed(delta.content)
                    if choice.finish_reason:
                        finish_reason = choice.finish_reason
                if chunk.usage is not None:
                    yield usage_from_chat(chunk.usage)
        yield from splitter.flush()
        yield Finished(
            finish_reason,
            request_id=request_id or response_id,
            response_id=response_id,
            raw=chunk if response_id is not None else None,  # the last chunk (usage, ids)
        )

    def _whole(self, client: Any) -> Iterator[Event]:
        raw = client.chat.completions.with_raw_response.create(**self._arguments())
        yield from completion_events(raw.parse(), raw.headers.get("x-request-id"))

    def abort(self) -> None:
        stream = self._stream
        if stream is not None:
            stream.response.close()

    async def aevents(self) -> AsyncIterator[Event]:
        """The same Events over ``openai.AsyncOpenAI`` (for batch runs)."""
        from .aio import chat_events

        async for event in chat_events(self):
            yield event
