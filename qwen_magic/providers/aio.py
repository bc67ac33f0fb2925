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

from ..errors import is_service_failure
from ..events import Event, Failed, Finished, ReasoningDelta, Started
from .openai_common import from_openai_error
from .think_tags import ThinkTagSplitter

if TYPE_CHECKING:
    from .chat import ChatProvider


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
    base_url: str, api_key: str, timeout: float, max_retries: int
) -> Any:  # an async context manager yielding openai.AsyncOpenAI
    """``openai.AsyncOpenAI`` for this endpoint, shared by the calls on the running loop."""
    fingerprint = hashlib.sha256(api_key.encode()).hexdigest()

    def create() -> Any:
        import openai

        return openai.AsyncOpenAI(
            base_url=base_url, api_key=api_key, timeout=timeout, max_retries=max_retries
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
    from .chat import _reasoning_of, completion_events, usage_from_chat

    req = provider.request
    started = False  # once a token arrived, a lost connection is a broken stream
    async with async_openai_client(
        req.base_url, req.api_key, req.timeout, req.max_retries
    ) as client:
        try:
            if req.stream:
                stream = await client.chat.completions.create(
                    stream=True, stream_options={"include_usage": True}, **provider._arguments()
                )
                request_id = stream.response.headers.get("x-request-id")
                splitter = ThinkTagSplitter()
                finish_reason = response_id = None
                async with stream:
                    async for chunk in stream:
                        if response_id is None:
                            response_id = chunk.id
                            yield Started(request_id=request_id or chunk.id, model=chunk.model)
                        if chunk.choices:
                            choice = chunk.choices[0]
                            reasoning = _reasoning_of(choice.delta)
                            if reasoning:
                                started = True
                                yield ReasoningDelta(reasoning)
                            if choice.delta.content:
                                started = True
                                for event in splitter.feed(choice.delta.content):
                                    yield event
                            finish_reason = choice.finish_reason or finish_reason
                        if chunk.usage is not None:
                            yield usage_from_chat(chunk.usage)
                for event in splitter.flush():
                    yield event
                yield Finished(
                    finish_reason, request_id=request_id or response_id, response_id=response_id
                )
            else:
                raw = await client.chat.completions.with_raw_response.create(
                    **provider._arguments()
                )
                completion = raw.parse()  # a legacy raw response: parsed synchronously
                for event in completion_events(completion, raw.headers.get("x-request-id")):
                    yield event
        except Exception as exc:
            if not is_service_failure(exc):
                raise  # a bug: the runner shows it with its traceback
            yield Failed(from_openai_error(exc, started=started))
