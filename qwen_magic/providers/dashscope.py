"""The DashScope SDK: ``Generation`` for text models, ``MultiModalConversation`` for the rest.

Every call passes the key, base URL and timeout explicitly: the SDK's module globals, the
environment it read at import and ``~/.dashscope/api_key`` are never used (docs/wire.md §4.8).
"""

from __future__ import annotations

import threading
from collections.abc import Generator
from contextlib import suppress
from typing import Any

from qwen_magic.errors import ServiceError, is_service_failure
from qwen_magic.events import Event, Failed
from qwen_magic.messages import native_messages, sampling_options, thinking_options
from qwen_magic.models import needs_multimodal_endpoint
from qwen_magic.providers.attempts import Attempts, retrying
from qwen_magic.providers.dashscope_errors import from_dashscope_exception
from qwen_magic.providers.dashscope_http import bounded, shared_session
from qwen_magic.providers.guard import ReadGuard, ReplyRefused, guarding
from qwen_magic.providers.logprobs import logprob_arguments
from qwen_magic.providers.native_stream import NativeStream
from qwen_magic.providers.tool_wire import chat_tool_arguments, search_arguments
from qwen_magic.providers.wire import BadReply, not_json, sdk_shape_error, undecodable
from qwen_magic.request import Request


def uses_multimodal_endpoint(request: Request) -> bool:
    """The one decision between text-generation and multimodal-generation.

    The model table (Qwen3.5+, ``*-vl-*``, QVQ, Omni), or any media in the request — attached
    now, or in an earlier turn of the chat it continues.
    """
    from qwen_magic.media import has_media_parts

    return (
        needs_multimodal_endpoint(request.model)
        or bool(request.media)
        or has_media_parts(request.history)
    )


class SendFailed(Exception):
    """A connection error on send, passed through the SDK without its own retry (the SDK
    re-sends once on any ``ConnectionError``; retries are decided in ``attempts.py``)."""


class _TrackedSession:
    """Given to the SDK as ``session=``: sends with the shared session, bounded reading."""

    def __init__(self, provider: DashScopeProvider, timeout: float) -> None:
        self._provider = provider
        self._timeout = timeout

    def post(self, **kwargs: Any) -> Any:
        return self._provider._send("post", kwargs, self._timeout)

    def get(self, **kwargs: Any) -> Any:
        return self._provider._send("get", kwargs, self._timeout)


class DashScopeProvider:
    def __init__(self, request: Request, *, incremental_output: bool | None = True) -> None:
        """``incremental_output``: what to ask for when streaming (None: send nothing, the
        server's default applies — cumulative text for many models)."""
        self.request = request
        self.incremental_output = incremental_output
        self.multimodal = uses_multimodal_endpoint(request)
        self._stopped = threading.Event()
        self.guard = ReadGuard(request.timeout)
        self._lock = threading.Lock()
        self._response: Any = None  # the requests.Response being read

    def prepare(self) -> None:
        """Import the SDK (a slow first import) before the clock starts."""
        import dashscope  # noqa: F401

        shared_session()

    def _arguments(self, timeout: float) -> dict[str, Any]:
        req = self.request
        args: dict[str, Any] = {
            "model": req.model,
            "messages": native_messages(req, multimodal=self.multimodal),
            "api_key": req.api_key,
            "base_address": req.base_url,
            "request_timeout": timeout,
            "result_format": "message",
            "stream": req.stream,
            **sampling_options(req),
            **thinking_options(req),
        }
        if req.max_tokens is not None:
            args["max_tokens"] = req.max_tokens
        if req.json_mode:
            args["response_format"] = {"type": "json_object"}
        args.update(chat_tool_arguments(req))  # tools need result_format "message" (above)
        args.update(search_arguments(req))
        args.update(logprob_arguments(req))
        if req.stream and self.incremental_output is not None:
            args["incremental_output"] = self.incremental_output
        return args

    def events(self) -> Generator[Event, None, None]:
        attempts = Attempts(self.request, self._stopped, self.guard)
        with guarding(self.guard):
            yield from retrying(self._attempt, attempts)

    def _attempt(self, attempts: Attempts) -> Generator[Event, None, None]:
        import dashscope

        api = dashscope.MultiModalConversation if self.multimodal else dashscope.Generation
        timeout = attempts.begin()
        stream = NativeStream()
        try:
            result: Any = api.call(
                **self._arguments(timeout), session=_TrackedSession(self, timeout)
            )
            for response in result if self.request.stream else (result,):
                yield from stream.feed(response)
                if stream.failed:
                    return
            yield from stream.finish(streamed=self.request.stream)
        except Exception as exc:  # transport failures escape the SDK as exceptions
            error = self._failure(exc, stream.started)
            if error is not None:
                yield Failed(error)
        finally:
            self._release()

    def _failure(self, exc: Exception, started: bool) -> ServiceError | None:
        """What to report; None once the user stopped. A bug of ours is raised again."""
        if self._stopped.is_set():
            return None
        if self.guard.violation is not None:
            return self.guard.violation
        status = getattr(self._response, "status_code", None)
        bad = reply_problem(exc, status)
        if bad is not None:
            return bad.error()
        if isinstance(exc, SendFailed) and exc.__cause__ is not None:
            exc = exc.__cause__  # type: ignore[assignment]
        if not is_service_failure(exc):
            raise exc  # a bug: the runner shows it with its traceback
        return from_dashscope_exception(exc, started=started, status=status)

    def _send(self, method: str, kwargs: dict[str, Any], timeout: float) -> Any:
        """One HTTP request of the SDK: never sent once stopped, never re-sent by the SDK,
        read bounded."""
        import requests

        if self._stopped.is_set():
            raise ReplyRefused("the request was stopped")
        wants_stream = bool(kwargs.get("stream"))
        kwargs["stream"] = True  # the body is read here, bounded, not by requests
        try:
            response = getattr(shared_session(), method)(**kwargs)
        except requests.exceptions.ConnectionError as exc:
            raise SendFailed(str(exc)) from exc
        with self._lock:
            self._response = response
        return bounded(response, self.guard, stream=wants_stream, timeout=timeout)

    def _release(self) -> None:
        with self._lock:
            response, self._response = self._response, None
        if response is not None:
            with suppress(Exception):
                response.close()

    def abort(self) -> None:
        """Stop now, from any thread: no retry, and the socket is shut even while the request
        still waits for its first byte (then its connection is closed)."""
        self._stopped.set()
        self.guard.abort()


def reply_problem(exc: BaseException, status: int | None) -> BadReply | None:
    """The server's fault, if ``exc`` says its reply was malformed: our own check, bytes that
    are not UTF-8, a 200 body that is not JSON, or the SDK failing to build its objects from
    it. (``status``: the HTTP status, when known; an error reply that is not JSON is the
    service's error, shown as such.)"""
    import json

    if isinstance(exc, BadReply):
        return exc
    if isinstance(exc, UnicodeDecodeError):
        return undecodable(exc)
    framed = isinstance(exc, json.JSONDecodeError) and any(
        line.startswith("data:") for line in str(exc.doc).splitlines()
    )  # an SSE-framed error body labelled JSON: the service's error, read elsewhere
    if isinstance(exc, json.JSONDecodeError) and status in (None, 200) and not framed:
        return not_json(exc)
    return sdk_shape_error(exc, "dashscope")
