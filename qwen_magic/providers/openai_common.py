"""What the chat and responses providers share: one client per endpoint, error mapping.

The providers' clients never retry on their own (``max_retries=0``): a retry is decided by
the provider (``attempts.py``), which knows whether the user stopped, how long is left before
the deadline, and that a read timeout is retried once at most. Their HTTP transport reports
to the call's ``ReadGuard`` (``guard.py``), so that Stop can shut a socket that is still
waiting for the response headers, and every read is bounded.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

from qwen_magic.errors import ServiceError, error_body_fields, html_error, is_service_failure
from qwen_magic.messages import thinking_options
from qwen_magic.providers.guard import ReadGuard, current
from qwen_magic.providers.wire import BadReply, error_code, not_json, undecodable
from qwen_magic.request import Request

_clients: dict[tuple[Any, ...], Any] = {}
_lock = threading.Lock()


def thinking_body(request: Request) -> dict[str, Any]:
    """The thinking switches for an OpenAI-style body (``extra_body``), in the form the server
    reads (``Request.thinking_param``): DashScope's top-level ``enable_thinking`` and
    ``thinking_budget``; or ``chat_template_kwargs.enable_thinking``, which vLLM, SGLang and
    llama.cpp hand to the model's chat template, with llama.cpp's ``thinking_budget_tokens``."""
    style = request.thinking_param
    body: dict[str, Any] = {}
    if style in ("enable_thinking", "both"):
        body.update(thinking_options(request))
    if style in ("chat_template_kwargs", "both"):
        if request.thinking is not None:
            body["chat_template_kwargs"] = {"enable_thinking": request.thinking}
        if request.thinking_budget is not None:
            body["thinking_budget_tokens"] = request.thinking_budget
    return body


def openai_client(base_url: str, api_key: str, timeout: float, max_retries: int = 0) -> Any:
    """One ``openai.OpenAI`` per (base URL, key, timeout, retries): connections are reused."""
    fingerprint = hashlib.sha256(api_key.encode()).hexdigest()
    key = (base_url, fingerprint, timeout, max_retries)
    with _lock:
        client = _clients.get(key)
        if client is None:
            import openai

            client = openai.OpenAI(
                base_url=base_url,
                api_key=api_key,
                timeout=timeout,
                max_retries=max_retries,
                http_client=openai.DefaultHttpxClient(transport=guarded_transport()),
            )
            _clients[key] = client
        return client


def close_clients() -> None:
    with _lock:
        for client in _clients.values():
            client.close()
        _clients.clear()


def guarded_transport() -> Any:
    """httpx2's own transport (the openai SDK's connection limits) whose network streams
    report to the running call's ReadGuard, and whose finished streams keep their
    connection (``_reusing``)."""
    import httpcore2
    import httpx2
    from openai._constants import DEFAULT_CONNECTION_LIMITS

    transport = httpx2.HTTPTransport(limits=DEFAULT_CONNECTION_LIMITS)
    pool = getattr(transport, "_pool", None)
    # httpcore2's pool takes a network backend; httpx2's transport does not pass one through.
    if isinstance(pool, httpcore2.ConnectionPool) and hasattr(pool, "_network_backend"):
        backend: Any = _GuardedBackend(pool._network_backend)  # duck-typed NetworkBackend
        pool._network_backend = backend
    return _reusing(transport)


# Reading the end of a finished stream: how long it may take, and how much may be left.
DRAIN_SECONDS = 0.05
DRAIN_BYTES = 64 * 1024


def _reusing(transport: Any) -> Any:
    """``transport`` whose response bodies end with ``_drain`` when closed early.

    The openai SDK stops reading a stream at ``data: [DONE]`` and closes the response before
    the end of its chunked body, which has httpcore2 close the connection: every streamed
    answer would open a new connection (a TCP and TLS handshake). The server sends that end
    right after ``[DONE]``: reading it returns the connection to the pool."""
    import httpx2

    class Reusing(httpx2.SyncByteStream):
        def __init__(self, inner: Any) -> None:
            self._inner = inner
            self._parts: Any = None

        def __iter__(self) -> Iterator[bytes]:
            self._parts = iter(self._inner)
            return self._parts

        def close(self) -> None:
            if self._parts is not None:
                _drain(self._parts)
            self._inner.close()

    class Transport(httpx2.BaseTransport):
        def handle_request(self, request: Any) -> Any:
            response = transport.handle_request(request)
            response.stream = Reusing(response.stream)
            return response

        def close(self) -> None:
            transport.close()

    return Transport()


def _drain(parts: Iterator[bytes]) -> None:
    """Read what little is left of a body (for at most about DRAIN_SECONDS, at most
    DRAIN_BYTES). A stream stopped mid-answer has more than that left, or a socket already
    shut: its connection is closed as before."""
    guard = current()
    if guard is None or guard.aborted:
        return
    guard.draining = DRAIN_SECONDS  # the longest a read may wait
    left, until = DRAIN_BYTES, time.monotonic() + DRAIN_SECONDS
    try:
        for part in parts:
            left -= len(part)
            if left < 0 or time.monotonic() > until:
                return
    except Exception:  # noqa: BLE001 - not at its end: the connection closes
        return
    finally:
        guard.draining = None
    guard.release()  # the connection goes back to the pool: a Stop of this call must not shut it


class _GuardedBackend:
    """A httpcore2 network backend whose streams report to the call's guard."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def connect_tcp(self, *args: Any, **kwargs: Any) -> Any:
        stream = self._inner.connect_tcp(*args, **kwargs)
        sock = stream.get_extra_info("socket")
        with contextlib.suppress(OSError, AttributeError):
            # A reused connection sends a request as two writes (headers, body): without this,
            # the body waits for the server's delayed ACK of the headers (40 ms on Linux).
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return _GuardedStream(stream, sock)

    def connect_unix_socket(self, *args: Any, **kwargs: Any) -> Any:
        stream = self._inner.connect_unix_socket(*args, **kwargs)
        return _GuardedStream(stream, stream.get_extra_info("socket"))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _GuardedStream:
    """One connection. It belongs to the guard of the request that last wrote on it (a pooled
    connection carries one request at a time, and every request starts with a write)."""

    def __init__(self, inner: Any, sock: Any) -> None:
        self._inner = inner
        self._sock = sock
        self._guard: Any = None

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        guard = self._guard = current()
        if guard is not None:
            guard.bind(self._sock)  # refuses to send once the call was stopped
        self._inner.write(buffer, timeout)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        guard = self._guard
        if guard is None:
            return self._inner.read(max_bytes, timeout)
        data = self._inner.read(max_bytes, guard.read_timeout(timeout))
        guard.received(data)
        return data

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, *args: Any, **kwargs: Any) -> Any:
        return _GuardedStream(self._inner.start_tls(*args, **kwargs), self._sock)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


def from_openai_error(exc: Exception, *, started: bool = False) -> ServiceError:
    """Map an ``openai`` exception to what the user is shown (docs/wire.md §5.3).

    ``started``: some reasoning or answer already arrived, so a lost connection is a stream
    that broke off (openai 3.x raises ``APIConnectionError`` for a cut response body too).
    """
    import openai

    if isinstance(exc, openai.APITimeoutError):
        return ServiceError("timeout", "no answer before the timeout")
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__ or exc
        text = f"{type(cause).__name__}: {cause}".strip()
        return ServiceError("stream" if started else "connection", text)
    if isinstance(exc, openai.APIStatusError):
        response = exc.response
        page = html_error(exc.status_code, response.headers.get("content-type"), response.text)
        if page is not None:
            return page
        fields = error_body_fields(exc.body)
        request_id = None
        with contextlib.suppress(Exception):  # not JSON (an SSE-framed body): use the header
            request_id = response.json().get("request_id")
        error = ServiceError(
            "http",
            str(fields.get("message") or exc.message),
            status=exc.status_code,
            code=error_code(fields.get("code"), fields.get("type")),
            request_id=request_id if isinstance(request_id, str) else exc.request_id,
        )
        retry_after = response.headers.get("retry-after")
        if retry_after:
            error.context["retry_after"] = retry_after
        return error
    if isinstance(exc, openai.APIError):  # an {"error": ...} frame inside the stream
        fields = error_body_fields(exc.body)
        return ServiceError(
            "stream",
            str(fields.get("message") or exc.message),
            code=error_code(fields.get("code") or exc.code, fields.get("type")),
            request_id=getattr(exc, "request_id", None),
        )
    return ServiceError("stream", f"{type(exc).__name__}: {exc}")


def failure(
    exc: Exception, stopped: threading.Event, guard: ReadGuard | None, started: bool
) -> ServiceError | None:
    """What to report for an exception out of the openai SDK; None once the user stopped.
    A bug of ours (not an SDK, HTTP or reply problem) is raised again, with its traceback."""
    if stopped.is_set():
        return None
    if guard is not None and guard.violation is not None:
        return guard.violation
    for cause in (exc, exc.__cause__, exc.__context__):
        if isinstance(cause, BadReply):
            return cause.error()
        if isinstance(cause, UnicodeDecodeError):
            return undecodable(cause).error()
        if isinstance(cause, json.JSONDecodeError):
            return not_json(cause).error()
    if not is_service_failure(exc):
        raise exc
    return from_openai_error(exc, started=started)
