"""The DashScope SDK: ``Generation`` for text models, ``MultiModalConversation`` for the rest.

Every call passes the key, base URL and timeout explicitly: the SDK's module globals, the
environment it read at import and ``~/.dashscope/api_key`` are never used (reference §4.8).
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import suppress
from typing import Any

from ..errors import is_service_failure
from ..events import Event, Failed
from ..messages import native_messages, sampling_options, thinking_options
from ..models import needs_multimodal_endpoint
from ..request import Request
from .dashscope_errors import from_dashscope_exception, retry_delay
from .native_stream import NativeStream

_session: Any = None
_session_lock = threading.Lock()


def uses_multimodal_endpoint(request: Request) -> bool:
    """The one decision between text-generation and multimodal-generation.

    The model table (Qwen3.5+, ``*-vl-*``, QVQ, Omni), or any media in the request — attached
    now, or in an earlier turn of the chat it continues.
    """
    from ..media import has_media_parts

    return (
        needs_multimodal_endpoint(request.model)
        or bool(request.media)
        or has_media_parts(request.history)
    )


def _shared_session() -> Any:
    """One ``requests.Session`` for every sync call: pooled connections, like the SDK's."""
    global _session
    with _session_lock:
        if _session is None:
            import requests

            _session = requests.Session()
        return _session


class _TrackedSession:
    """Given to the SDK as ``session=``: sends with the shared session and hands the HTTP
    response to the provider, so that ``abort()`` can shut its socket from another thread."""

    def __init__(self, provider: DashScopeProvider) -> None:
        self._provider = provider

    def post(self, **kwargs: Any) -> Any:
        return self._provider._track(_shared_session().post(**kwargs))

    def get(self, **kwargs: Any) -> Any:
        return self._provider._track(_shared_session().get(**kwargs))


class DashScopeProvider:
    def __init__(self, request: Request, *, incremental_output: bool | None = True) -> None:
        """``incremental_output``: what to ask for when streaming (None: send nothing, the
        server's default applies — cumulative text for many models)."""
        self.request = request
        self.incremental_output = incremental_output
        self.multimodal = uses_multimodal_endpoint(request)
        self._aborted = threading.Event()
        self._lock = threading.Lock()
        self._response: Any = None  # the requests.Response being read

    def prepare(self) -> None:
        """Import the SDK (a slow first import) before the clock starts."""
        import dashscope  # noqa: F401

        _shared_session()

    def _arguments(self) -> dict[str, Any]:
        req = self.request
        args: dict[str, Any] = {
            "model": req.model,
            "messages": native_messages(req, multimodal=self.multimodal),
            "api_key": req.api_key,
            "base_address": req.base_url,
            "request_timeout": req.timeout,
            "result_format": "message",
            "stream": req.stream,
            **sampling_options(req),
            **thinking_options(req),
        }
        if req.max_tokens is not None:
            args["max_tokens"] = req.max_tokens
        if req.json_mode:
            args["response_format"] = {"type": "json_object"}
        if req.stream and self.incremental_output is not None:
            args["incremental_output"] = self.incremental_output
        return args

    def _retry_after(self, event: Event, attempt: int) -> float | None:
        """Seconds before retrying, when ``event`` opens the attempt with a retryable failure.

        The SDK never retries on an HTTP status: this gives ``max_retries`` the meaning it has
        for the openai SDK (before the first token only)."""
        if type(event) is not Failed or attempt >= self.request.max_retries:
            return None
        return retry_delay(event.error, attempt)

    # -- sync ------------------------------------------------------------------------------
    def events(self) -> Iterator[Event]:
        import dashscope

        api = dashscope.MultiModalConversation if self.multimodal else dashscope.Generation
        for attempt in itertools.count():
            delay = None
            attempt_events = self._attempt(api, NativeStream())
            try:
                for index, event in enumerate(attempt_events):
                    delay = self._retry_after(event, attempt) if index == 0 else None
                    if delay is not None:
                        break
                    yield event
            finally:
                attempt_events.close()
            if delay is None or self._aborted.wait(delay):
                return

    def _attempt(self, api: Any, stream: NativeStream) -> Iterator[Event]:
        try:
            result = api.call(**self._arguments(), session=_TrackedSession(self))
            for response in result if self.request.stream else (result,):
                yield from stream.feed(response)
                if stream.failed:
                    return
            yield from stream.finish()
        except Exception as exc:  # transport failures escape the SDK as exceptions
            if self._aborted.is_set():
                return
            if not is_service_failure(exc):
                raise  # a bug: the runner shows it with its traceback
            status = getattr(self._response, "status_code", None)
            yield Failed(from_dashscope_exception(exc, started=stream.started, status=status))
        finally:
            self._release(shutdown=False)

    def _track(self, response: Any) -> Any:
        with self._lock:
            self._response = response
        if self._aborted.is_set():
            self._release(shutdown=True)
        return response

    def _release(self, *, shutdown: bool) -> None:
        with self._lock:
            response, self._response = self._response, None
        if response is None:
            return
        if shutdown:  # wakes a read blocked in another thread (urllib3's HTTPResponse.shutdown)
            with suppress(Exception):
                response.raw.shutdown()
        with suppress(Exception):
            response.close()

    def abort(self) -> None:
        """Stop now, from any thread: shut the socket under the SDK's read and close it."""
        self._aborted.set()
        self._release(shutdown=True)

    # -- async -----------------------------------------------------------------------------
    async def aevents(self) -> AsyncIterator[Event]:
        """The same Events from ``AioGeneration`` / ``AioMultiModalConversation``."""
        import dashscope

        from .aio import dashscope_session

        api = dashscope.AioMultiModalConversation if self.multimodal else dashscope.AioGeneration
        async with dashscope_session() as session:
            for attempt in itertools.count():
                delay = None
                attempt_events = self._aattempt(api, NativeStream(), session)
                try:
                    index = 0
                    async for event in attempt_events:
                        delay = self._retry_after(event, attempt) if index == 0 else None
                        if delay is not None:
                            break
                        index += 1
                        yield event
                finally:
                    await attempt_events.aclose()
                if delay is None:
                    return
                await asyncio.sleep(delay)

    async def _aattempt(self, api: Any, stream: NativeStream, session: Any) -> AsyncIterator[Event]:
        result: Any = None
        try:
            result = await api.call(**self._arguments(), session=session)
            responses = result if self.request.stream else _once(result)
            async for response in responses:
                for event in stream.feed(response):
                    yield event
                if stream.failed:
                    return
            for event in stream.finish():
                yield event
        except Exception as exc:
            if not is_service_failure(exc):
                raise  # a bug: the runner shows it with its traceback
            yield Failed(from_dashscope_exception(exc, started=stream.started))
        finally:
            if self.request.stream and result is not None:
                with suppress(Exception):
                    await result.aclose()


async def _once(item: Any) -> AsyncIterator[Any]:
    yield item
