"""The DashScope emulator: a real HTTP server on 127.0.0.1 speaking the three protocols."""

from __future__ import annotations

import os
import sys
import threading
import uuid
from collections import deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from qwen_magic.emulator import batches, compat, hostile, native, responses
from qwen_magic.emulator.faults import ApiError, http_fault, invalid_api_key, not_found_path
from qwen_magic.emulator.limits import Limits
from qwen_magic.emulator.records import RecordedRequest
from qwen_magic.emulator.replay import Recording
from qwen_magic.emulator.replies import Reply
from qwen_magic.emulator.transport import Disconnected, Exchange, parse_json

REASONING_EVENTS = ("reasoning_text", "reasoning_summary_text")
GENERATION = ("chat", "responses", "native-text", "native-multimodal")
COMPAT = "/compatible-mode/v1"
LEGACY = "/api/v2/apps/protocols/compatible-mode/v1"
NATIVE = "/api/v1"
ROUTES: dict[tuple[str, str], str] = {
    ("POST", f"{COMPAT}/chat/completions"): "chat",
    ("POST", f"{LEGACY}/chat/completions"): "chat",
    ("POST", f"{COMPAT}/responses"): "responses",
    ("POST", f"{LEGACY}/responses"): "responses",
    ("GET", f"{COMPAT}/models"): "models",
    ("GET", f"{LEGACY}/models"): "models",
    ("POST", f"{NATIVE}/services/aigc/text-generation/generation"): "native-text",
    ("POST", f"{NATIVE}/services/aigc/multimodal-generation/generation"): "native-multimodal",
    ("GET", f"{NATIVE}/uploads"): "uploads",
    ("POST", "/oss-upload"): "oss-upload",
}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    emulator: Emulator

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up (a stop, a retry, a timeout) is normal here: stay quiet."""
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # each SSE frame goes out at once, as a real server's do
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Silence the default stderr access log."""

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self.server.emulator._handle(self)

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        self.server.emulator._handle(self)

    def read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""


class Emulator:
    """An offline stand-in for DashScope / Model Studio. See `qwen_magic.testing` for usage."""

    def __init__(
        self,
        api_key: str | None = None,
        reasoning_event: str = "reasoning_text",
        port: int = 0,
        replay: str | os.PathLike[str] | None = None,
        replay_speed: float = 1.0,
    ) -> None:
        self.api_key = api_key
        # replay: answer from a recording (emulator/replay.py, docs/recording.md); a bad file
        # raises RecordingError here, before the server starts.
        self._initial_replay = (replay, replay_speed)
        self.replay: Recording | None = None
        self.replay_from(replay, replay_speed)
        self._initial_reasoning_event = reasoning_event
        self.reasoning_event = reasoning_event
        self.default_reply = Reply()
        self.limits = Limits()  # latency, token rate, requests per second (limits.py)
        self.requests: list[RecordedRequest] = []
        self.responses_store: dict[str, dict[str, Any]] = {}
        self.batches = batches.BatchDesk()  # Files and Batches (and their knobs)
        self._port = port
        self._queue: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._changed = threading.Condition()  # a request came in or a frame went out
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> Emulator:
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _Server(("127.0.0.1", self._port), _Handler)
        self._server.emulator = self
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="qwen-emulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._server = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- configuration ---------------------------------------------------------------------
    @property
    def reasoning_event(self) -> str:
        return self._reasoning_event

    @reasoning_event.setter
    def reasoning_event(self, value: str) -> None:
        if value not in REASONING_EVENTS:
            raise ValueError(f"reasoning_event must be one of {REASONING_EVENTS}, not {value!r}")
        self._reasoning_event = value

    @property
    def running(self) -> bool:
        """Serving now (between ``start()`` and ``stop()``)."""
        return self._server is not None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the emulator is not running; call start() first")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def compat_base(self) -> str:
        return self.url + COMPAT

    @property
    def responses_legacy_base(self) -> str:
        return self.url + LEGACY

    @property
    def native_base(self) -> str:
        return self.url + NATIVE

    def queue(self, *replies: Reply) -> None:
        """Script the next generation requests (any protocol), first in, first out."""
        with self._lock:
            self._queue.extend(replies)

    def replay_from(
        self, path: str | os.PathLike[str] | None, speed: float = 1.0
    ) -> Recording | None:
        """Answer from the recording at ``path`` (None: stop replaying). Queued replies still
        come first; a request it has no answer for gets the echo, marked as such."""
        self.replay = None if path is None else Recording(path, speed)
        return self.replay

    @property
    def replaying(self) -> bool:
        return self.replay is not None

    @property
    def pending(self) -> int:
        """How many queued replies are still unused."""
        return len(self._queue)

    @property
    def last(self) -> RecordedRequest:
        for record in reversed(self.requests):
            if record.protocol in GENERATION:
                return record
        raise LookupError("no generation request has been recorded yet")

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()
            self.requests.clear()
            self.responses_store.clear()
        self.batches.clear()
        self.default_reply = Reply()
        self.limits = Limits()
        self.reasoning_event = self._initial_reasoning_event
        self.replay_from(*self._initial_replay)

    # -- waiting ---------------------------------------------------------------------------
    def wait_until(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Block until ``predicate()`` holds, re-checked whenever a request comes in or a
        frame goes out: a test waits on what the server saw instead of sleeping."""
        with self._changed:
            if not self._changed.wait_for(predicate, timeout):
                raise TimeoutError(f"the emulator did not get there within {timeout} s")

    def wait_for_frames(
        self, frames: int = 1, requests: int = 1, timeout: float = 10.0
    ) -> RecordedRequest:
        """The ``requests``-th generation request, once it has sent ``frames`` frames (e.g.
        "the answer is streaming": the moment to press Stop)."""

        def there() -> bool:
            seen = [r for r in self.requests if r.protocol in GENERATION]
            return len(seen) >= requests and seen[requests - 1].frames_sent >= frames

        self.wait_until(there, timeout)
        return [r for r in self.requests if r.protocol in GENERATION][requests - 1]

    def _notify(self) -> None:
        with self._changed:
            self._changed.notify_all()

    # -- serving ---------------------------------------------------------------------------
    def _next_reply(self) -> Reply:
        with self._lock:
            return self._queue.popleft() if self._queue else self.default_reply

    def _reply_for(self, record: RecordedRequest) -> tuple[Reply, float]:
        """A queued reply, else the recording's answer (and its wait before the first byte)."""
        with self._lock:
            if self._queue:
                return self._queue.popleft(), 0.0
        replay = self.replay
        if replay is None or not isinstance(record.body, dict):
            return self.default_reply, 0.0
        return replay.reply(record.protocol, record.body, record.headers, record.messages)

    def _handle(self, handler: _Handler) -> None:
        parts = urlsplit(handler.path)
        path = parts.path.rstrip("/") or "/"
        query = {k: v[0] if len(v) == 1 else v for k, v in parse_qs(parts.query).items()}
        raw = handler.read_body()
        parsed = parse_json(raw)
        protocol = ROUTES.get((handler.command, path), "")
        if not protocol and handler.command == "GET" and path.startswith(f"{COMPAT}/models/"):
            protocol = "models"
        if not protocol and handler.command == "GET" and "/responses/" in path:
            protocol = "responses-get"
        protocol = protocol or batches.route(handler.command, path, COMPAT)
        record = RecordedRequest(
            method=handler.command,
            path=path,
            query=query,
            headers={k.lower(): v for k, v in handler.headers.items()},
            body=parsed if isinstance(parsed, dict) else raw,
            protocol=protocol or "unknown",
            client=(str(handler.client_address[0]), int(handler.client_address[1])),
            on_change=self._notify,
        )
        with self._lock:
            self.requests.append(record)
        self._notify()
        generation = protocol in GENERATION
        limits, admitted = self.limits, False
        reply, wait = self._reply_for(record) if generation else (Reply(), 0.0)
        reply = limits.paced(reply)
        record.reply = reply if generation else None
        request_id = reply.request_id or str(uuid.uuid4())
        exchange = Exchange(handler, record, reply, request_id, self._stopping)
        module = native if protocol.startswith("native") or protocol == "uploads" else compat
        if protocol.startswith("responses"):
            module = responses
        try:
            if reply.fault == "stall":
                exchange.pause(reply.delay)
            try:
                if protocol != "oss-upload" and not self._authorized(record):
                    raise invalid_api_key()
                if not protocol:
                    raise not_found_path(path)
                if generation:
                    refused = limits.admit()
                    if refused is not None:
                        raise refused
                    admitted = True
                    exchange.pause(limits.latency + wait)
                error = http_fault(reply.fault, str(record.model), reply.retry_after)
                if error is not None:
                    raise error
                whole = hostile.whole_reply(reply.fault) if generation else None
                if whole is not None:
                    exchange.send_body(whole[0], whole[2], whole[1])
                    return
                self._dispatch(protocol, exchange)
            except ApiError as error:
                if error.foreign:
                    exchange.request_id = ""  # no x-request-id header, no id in the body
                module.send_error(exchange, error)
        except Disconnected:
            pass
        except Exception as exc:  # a bug in the emulator: record it, drop the connection
            record.error = f"{type(exc).__name__}: {exc}"
            exchange.abort()
            raise
        finally:
            if admitted:
                limits.leave()
            record.finished.set()

    def _dispatch(self, protocol: str, exchange: Exchange) -> None:
        if protocol == "chat":
            compat.chat(self, exchange)
        elif protocol == "models":
            compat.models(self, exchange)
        elif protocol == "responses":
            responses.create(self, exchange)
        elif protocol == "responses-get":
            responses.retrieve(self, exchange)
        elif protocol.startswith("native"):
            native.generation(self, exchange)
        elif protocol == "uploads":
            native.upload_policy(self, exchange)
        elif protocol == "oss-upload":
            native.oss_upload(self, exchange)
        elif protocol in batches.PROTOCOLS:
            batches.handle(self.batches, exchange, self._next_reply)

    def _authorized(self, record: RecordedRequest) -> bool:
        key = record.api_key
        if not key:
            return False
        return self.api_key is None or key == self.api_key
