"""Every read from a server is bounded, and a request can be withdrawn at any moment.

A ``ReadGuard`` is made per call and set for the worker thread while the SDK runs
(``with guarding(guard):``). The HTTP layers under the SDKs (httpcore2's network streams for
openai, urllib3's connections and requests' responses for dashscope) find it there: they hand
it their socket before sending, and report every read to it. So

- ``abort()`` from another thread shuts the socket, even while the SDK still waits for the
  response headers (closing a socket does not wake a thread blocked reading it; shutting it
  down does), and a request that was withdrawn is never sent again;
- a reply may not pass ``MAX_REPLY_BYTES`` in all, one event of a stream may not pass
  ``MAX_FRAME_BYTES`` or take longer than ``frame_seconds`` from its first byte to its last
  (a server trickling bytes never hits a read timeout), and the wait for the first token
  may not pass the call's deadline.

A guard that trips raises ``ReplyRefused`` inside the read and keeps the ServiceError to show
in ``violation``; the provider reports that instead of whatever the SDK made of the exception.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from typing import Any

from qwen_magic.errors import ServiceError

MAX_REPLY_BYTES = 256 * 2**20  # far above any real answer (a 64k-token stream is ~30 MB)
MAX_FRAME_BYTES = 8 * 2**20  # one event of a stream; a real one is a few KB

# Per thread: each call runs in its own worker thread.
_current: ContextVar[ReadGuard | None] = ContextVar("qwen_magic_read_guard", default=None)


class ReplyRefused(Exception):
    """Raised inside a read when the guard trips, or before a send when the call was stopped."""


def current() -> ReadGuard | None:
    """The guard of the call running on this thread, if any."""
    return _current.get()


@contextmanager
def guarding(guard: ReadGuard) -> Iterator[ReadGuard]:
    """Make ``guard`` the one the HTTP layers of this thread report to."""
    previous = _current.get()
    _current.set(guard)
    try:
        yield guard
    finally:
        _current.set(previous)  # not reset(token): a generator may be closed elsewhere
        guard.release()


def _mb(n: int) -> str:
    return f"{n / 2**20:g} MB"


class ReadGuard:
    """The bounds of one call and the socket it is using now."""

    def __init__(
        self,
        frame_seconds: float,
        *,
        max_bytes: int | None = None,
        max_frame: int | None = None,
    ) -> None:
        self.frame_seconds = frame_seconds
        self.max_bytes = MAX_REPLY_BYTES if max_bytes is None else max_bytes
        self.max_frame = MAX_FRAME_BYTES if max_frame is None else max_frame
        self.first_token_by: float | None = None  # time.monotonic() deadline, until a token
        # Reading what is left of a finished reply so its connection can be reused: reads
        # wait at most this long (None: not draining).
        self.draining: float | None = None
        self.streaming = False  # the per-frame size bound applies to event streams only
        self.aborted = False
        self.violation: ServiceError | None = None
        self._lock = threading.Lock()
        self._target: Any = None  # a socket, or an object with a ``sock`` (urllib3)
        self.begin(streaming=False)

    # -- one request (attempt) ------------------------------------------------------------
    def begin(self, *, streaming: bool) -> None:
        """A new request starts: its bytes are counted from zero."""
        self.streaming = streaming
        self.total = 0
        self.frame = 0
        self.frame_started: float | None = None
        self.violation = None

    def bind(self, target: Any) -> None:
        """What carries this call's request now: a socket, a urllib3 connection (its
        ``sock``), or a function that shuts the socket (see ``_shutdown``)."""
        with self._lock:
            if self.aborted:
                _shutdown(target)
                raise ReplyRefused("the request was stopped")
            self._target = target

    def release(self) -> None:
        with self._lock:
            self._target = None

    def abort(self) -> None:
        """Stop now, from any thread: no further send, and a blocked read wakes up."""
        with self._lock:
            self.aborted = True
            target, self._target = self._target, None
        if target is not None:
            _shutdown(target)

    # -- reads ----------------------------------------------------------------------------
    def read_timeout(self, timeout: float | None) -> float | None:
        """The timeout for the next read: shortened so the first-token deadline holds."""
        if self.draining is not None:
            return self.draining
        by = self.first_token_by
        if by is None:
            return timeout
        left = by - time.monotonic()
        if left <= 0:
            self._trip(ServiceError("timeout", "no answer before the deadline"))
        return left if timeout is None else min(timeout, left)

    def received(self, data: bytes) -> None:
        """Count one read. Runs per network read (not per token), so it stays small."""
        n = len(data)
        self.total += n
        if self.total > self.max_bytes:
            self._trip(
                ServiceError("server", f"the reply passed {_mb(self.max_bytes)}: reading stopped")
            )
        now = time.monotonic()
        started = self.frame_started
        if started is not None and now - started > self.frame_seconds:
            self._trip(
                ServiceError(
                    "timeout",
                    f"one event took more than {self.frame_seconds:g} s to arrive "
                    "(the server sent it a few bytes at a time)",
                )
            )
        end = max(data.rfind(b"\n\n"), data.rfind(b"\n\r\n"))
        if end < 0:
            self.frame += n
            if started is None and n:
                self.frame_started = now
            if self.streaming and self.frame > self.max_frame:
                self._trip(
                    ServiceError("server", f"one event of the stream passed {_mb(self.max_frame)}")
                )
        else:
            rest = n - end - 2
            self.frame = rest
            self.frame_started = now if rest > 2 else None  # a chunk's "\r\n" is no event

    def _trip(self, error: ServiceError) -> None:
        if self.violation is None:
            self.violation = error
        raise ReplyRefused(error.message)


def _shutdown(target: Any) -> None:
    """``target``: a socket, an object holding one in ``sock`` (a urllib3 connection), or a
    function that shuts one (urllib3's ``HTTPResponse.shutdown``)."""
    with suppress(Exception):
        if callable(target):
            target()
            return
        sock = getattr(target, "sock", target)
        if sock is not None:
            sock.shutdown(socket.SHUT_RDWR)
