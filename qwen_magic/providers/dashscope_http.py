"""The HTTP under the dashscope SDK: one ``requests.Session`` whose connections report to the
call's ReadGuard, and replies read in linear time, bounded.

The SDK reads a stream with ``response.iter_lines()`` (requests' 512-byte steps, each
re-splitting everything pending: a 10 MB event takes hours) and a body with
``response.content`` (unbounded). The provider hands it responses whose ``iter_lines`` reads
as the bytes arrive and splits each byte once, and whose content was read already, both
through the guard.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from qwen_magic.providers.guard import ReadGuard, current
from qwen_magic.providers.wire import not_a_stream

READ_SIZE = 65536

_session: Any = None
_session_lock = threading.Lock()


def shared_session() -> Any:
    """One ``requests.Session`` for every sync call: pooled connections, like the SDK's."""
    global _session
    with _session_lock:
        if _session is None:
            import requests

            session = requests.Session()
            adapter = _guarded_adapter()
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            _session = session
        return _session


def close_session() -> None:
    """Close the shared session and its pooled connections (``%unload_ext``)."""
    global _session
    with _session_lock:
        session, _session = _session, None
    if session is not None:
        session.close()


def _guarded_adapter() -> Any:
    from requests.adapters import HTTPAdapter
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    class Guarded:
        """A connection that hands itself to the running call's guard before sending, so
        Stop can shut its socket while the SDK waits for the response headers."""

        def connect(self) -> None:
            super().connect()  # type: ignore[misc]
            guard = current()
            if guard is not None:
                guard.bind(self)  # stopped while connecting: shut, and nothing is sent

        def request(self, *args: Any, **kwargs: Any) -> Any:
            guard = current()
            if guard is not None:
                guard.bind(self)
            return super().request(*args, **kwargs)  # type: ignore[misc]

    class GuardedHTTPConnection(Guarded, HTTPConnection):
        pass

    class GuardedHTTPSConnection(Guarded, HTTPSConnection):
        pass

    class Pool(HTTPConnectionPool):
        ConnectionCls = GuardedHTTPConnection

    class HTTPSPool(HTTPSConnectionPool):
        ConnectionCls = GuardedHTTPSConnection

    class GuardedAdapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = {"http": Pool, "https": HTTPSPool}

    return GuardedAdapter()


def bounded(response: Any, guard: ReadGuard, *, stream: bool, timeout: float) -> Any:
    """Make ``response`` (opened with ``stream=True``) safe to hand to the SDK."""
    shutdown = getattr(response.raw, "shutdown", None)
    if shutdown is not None:  # the connection may have handed its socket to the response
        guard.bind(shutdown)
    content_type = response.headers.get("content-type", "")
    if stream and response.status_code == 200:
        if "text/event-stream" not in content_type:
            response.close()
            raise not_a_stream(content_type)
        response.iter_lines = lambda *args, **kwargs: _lines(response, guard, timeout)
        return response
    response._content = b"".join(_chunks(response, guard, timeout))  # what .content returns
    return response


def _chunks(response: Any, guard: ReadGuard, timeout: float) -> Iterator[bytes]:
    """The body as it arrives (one socket read each), counted by the guard; urllib3's errors
    become requests' as in ``Response.iter_content``."""
    import requests.exceptions as rex
    from urllib3.exceptions import DecodeError, ProtocolError, ReadTimeoutError, SSLError

    raw = response.raw
    clamped = False
    try:
        while True:
            if guard.first_token_by is not None:  # the deadline shortens each wait
                _set_timeout(raw, guard.read_timeout(timeout))
                clamped = True
            elif clamped:
                _set_timeout(raw, timeout)
                clamped = False
            data = raw.read1(READ_SIZE, decode_content=True)
            if not data:
                return
            guard.received(data)
            yield data
    except ProtocolError as exc:
        raise rex.ChunkedEncodingError(exc) from exc
    except DecodeError as exc:
        raise rex.ContentDecodingError(exc) from exc
    except ReadTimeoutError as exc:
        raise rex.ConnectionError(exc) from exc
    except SSLError as exc:
        raise rex.SSLError(exc) from exc


def _set_timeout(raw: Any, seconds: float | None) -> None:
    sock = getattr(getattr(raw, "connection", None), "sock", None)
    if sock is not None:
        sock.settimeout(seconds)


def _lines(response: Any, guard: ReadGuard, timeout: float) -> Iterator[bytes]:
    """``iter_lines`` in linear time: each byte is looked at once, a long line is joined once."""
    pending: list[bytes] = []
    for chunk in _chunks(response, guard, timeout):
        start = 0
        while True:
            end = chunk.find(b"\n", start)
            if end < 0:
                break
            piece = chunk[start:end]
            if pending:
                pending.append(piece)
                piece = b"".join(pending)
                pending.clear()
            yield piece[:-1] if piece.endswith(b"\r") else piece
            start = end + 1
        if start < len(chunk):
            pending.append(chunk[start:])
    if pending:
        yield b"".join(pending)
