"""Async plumbing for the providers' ``aevents`` twins (for batch runs; no UI here).

Async HTTP clients belong to one event loop, so each is kept per (loop, endpoint) and shared
by the calls running on that loop at the same time; the last call to finish closes it. Nothing
is left open when a batch ends: no "Unclosed client session" warnings, no dangling sockets.
"""

from __future__ import annotations

import asyncio
import hashlib
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from qwen_magic.errors import ServiceError
from qwen_magic.events import Event, Failed, Finished, ReasoningDelta, Started
from qwen_magic.providers.attempts import Attempts, aretrying
from qwen_magic.providers.guard import ReadGuard, guarding
from qwen_magic.providers.openai_common import failure
from qwen_magic.providers.think_tags import ThinkTagSplitter
from qwen_magic.providers.wire import NO_EVENTS, BadReply, not_a_stream, text

if TYPE_CHECKING:
    from qwen_magic.providers.chat import ChatProvider


@dataclass
class _Entry:
    resource: Any
    users: int = 0


_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[Any, ...], _Entry]] = (
    weakref.WeakKeyDictionary()
)


@asynccontextmanager
async def _borrow(
    key: tuple[Any, ...], create: Callable[[], Any], close: Callable[[Any], Awaitable[Any]]
) -> AsyncIterator[Any]:
    """The loop's resource for ``key`` (created on first use), closed when nobody uses it."""
    entries = _pools.setdefault(asyncio.get_running_loop(), {})
    entry = entries.get(key)
    if entry is None:
        entry = entries[key] = _Entry(create())
    entry.users += 1
    try:
        yield entry.resource
    finally:
        entry.users -= 1
        if entry.users == 0 and entries.get(key) is entry:
            del entries[key]
            await close(entry.resource)


def async_openai_client(
    base_url: str, api_key: str, timeout: float, max_retries: int = 0
) -> Any:  # an async context manager yielding openai.AsyncOpenAI
    """``openai.AsyncOpenAI`` for this endpoint, shared by the calls on the running loop."""
    fingerprint = hashlib.sha256(api_key.encode()).hexdigest()

    def create() -> Any:
        import openai

        from qwen_magic.providers.openai_common import guarded_async_transport

        return openai.AsyncOpenAI(
            base_url=base_url,
            api_key=api_key,
            timeout=timeout,
            max_retries=max_retries,
            http_client=openai.DefaultAsyncHttpxClient(transport=guarded_async_transport()),
        )

    async def close(client: Any) -> None:
        await client.close()

    return _borrow(("openai", base_url, fingerprint, timeout, max_retries), create, close)


def dashscope_session() -> Any:  # an async context manager yielding aiohttp.ClientSession
    """Our own aiohttp session for the dashscope Aio* calls (passed as ``session=``).

    The SDK's shared session would need ``await dashscope.close_shared_aio_session()`` at the
    right moment, and closing it could cut another user's calls on the same loop.
    """

    def create() -> Any:
        import aiohttp
        from dashscope.api_entities.aio_session import get_ssl_context

        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=get_ssl_context()), trust_env=True
        )

    async def close(session: Any) -> None:
        await session.close()

    return _borrow(("dashscope",), create, close)


async def chat_events(provider: ChatProvider) -> AsyncIterator[Event]:
    """``ChatProvider.aevents``: the sync translation, over ``AsyncOpenAI``."""
    req = provider.request
    guard = ReadGuard(req.timeout)
    async with async_openai_client(req.base_url, req.api_key, req.timeout) as client:
        with guarding(guard):
            async for event in aretrying(
                lambda attempts: _chat_attempt(provider, client, attempts),
                Attempts(req, guard=guard),
            ):
                yield event


async def _chat_attempt(
    provider: ChatProvider, client: Any, attempts: Attempts
) -> AsyncIterator[Event]:
    from qwen_magic.providers.chat import (
        SHAPE_ERRORS,
        UNFINISHED,
        _reasoning_of,
        completion_events,
        explain,
        usage_from_chat,
    )

    timeout = attempts.begin()
    started = False  # once a token arrived, a lost connection is a broken stream
    try:
        if provider.request.stream:
            stream = await client.chat.completions.create(
                stream=True, stream_options={"include_usage": True}, timeout=timeout,
                **provider._arguments(),
            )  # fmt: skip
            headers = stream.response.headers
            if "json" in headers.get("content-type", ""):
                await stream.close()
                raise not_a_stream(headers.get("content-type"))
            request_id = headers.get("x-request-id")
            splitter = ThinkTagSplitter()
            finish_reason = response_id = None
            async with stream:
                async for chunk in stream:
                    try:
                        if response_id is None:
                            response_id = chunk.id if type(chunk.id) is str else ""
                            model = chunk.model if type(chunk.model) is str else None
                            yield Started(request_id=request_id or response_id or None, model=model)
                        if chunk.choices:
                            choice = chunk.choices[0]
                            reasoning = _reasoning_of(choice.delta)
                            if reasoning:
                                started = True
                                yield ReasoningDelta(reasoning)
                            content = choice.delta.content
                            if content:
                                if type(content) is not str:
                                    raise TypeError
                                started = True
                                for event in splitter.feed(content):
                                    yield event
                            if choice.finish_reason:
                                finish_reason = text(choice.finish_reason, "finish_reason")
                        if chunk.usage is not None:
                            yield usage_from_chat(chunk.usage)
                    except SHAPE_ERRORS as exc:
                        raise BadReply(explain(chunk, "choices[0].delta")) from exc
            if response_id is None:
                raise BadReply(NO_EVENTS)
            for event in splitter.flush():
                yield event
            if finish_reason is None:
                yield Failed(ServiceError("stream", UNFINISHED))
                return
            yield Finished(
                finish_reason,
                request_id=request_id or response_id or None,
                response_id=response_id or None,
            )
        else:
            raw = await client.chat.completions.with_raw_response.create(
                timeout=timeout, **provider._arguments()
            )
            completion = raw.parse()  # a legacy raw response: parsed synchronously
            for event in completion_events(completion, raw.headers.get("x-request-id")):
                yield event
    except Exception as exc:
        error = failure(exc, attempts.stopped, attempts.guard, started)
        if error is not None:
            yield Failed(error)
