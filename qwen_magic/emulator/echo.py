"""A hostile server for tests: it echoes the bearer key it receives in every field it can.

A real HTTP server on 127.0.0.1 (stdlib only, like the emulator) that speaks enough of the
three protocols for the real SDKs — Chat Completions (SSE and JSON), the Responses API
(SSE and JSON) and DashScope native generation (``id:``/``event:``/``:HTTP_STATUS/``/``data:``
frames, and JSON) — and ``GET /models``. Whatever key arrives in ``Authorization: Bearer``
is sent back in several forms (verbatim, JSON-escaped, URL-encoded, repr- and HTML-escaped,
after ``Bearer ``, and straddling a 300-character cut) in the answer, the reasoning, ids,
request ids (body and ``x-request-id``), error codes and messages, and model ids::

    with EchoServer(mode="error") as echo:
        ...  # point the magic at echo.compat_base / echo.native_base with the real key
        assert echo.requests[-1].api_key == key

Modes (set ``echo.mode`` per test):

* ``answer``: a normal answer whose text, reasoning and ids carry the key;
* ``error``: HTTP 401 with the key in code, type, param, message and request id;
* ``long_error``: HTTP 400, a plain-text body in which the key straddles character 300;
* ``stream_error``: a few chunks of answer, then a mid-stream error frame echoing the key;
* ``redirect``: 307 to the same path on ``localhost`` (another host name for this server),
  which then answers like ``answer`` — a client must not carry the key across.
"""

from __future__ import annotations

import html
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote, urlsplit

MODES = ("answer", "error", "long_error", "stream_error", "redirect")
COMPAT = "/compatible-mode/v1"
NATIVE = "/api/v1"
CUT = 300  # where errors.error_body_fields cuts a text body
SSE = "text/event-stream;charset=UTF-8"


def forms(key: str) -> list[str]:
    """The key as a careless server might echo it."""
    return [
        key,
        json.dumps(key),
        json.dumps(json.dumps(key)),
        quote(key, safe=""),
        repr(key),
        html.escape(key),
        f"Bearer {key}",
    ]


def echo_text(key: str, what: str) -> str:
    """A text that carries the key in every form (and split across the chunks it is sent in)."""
    return f"{what}: " + " | ".join(forms(key)) + f" | cut: {'x' * (CUT - 12)}{key} end."


@dataclass
class Seen:
    """One request as the echo server received it."""

    method: str
    path: str
    host: str
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None

    @property
    def api_key(self) -> str | None:
        auth = self.headers.get("authorization", "")
        return auth[7:] if auth.lower().startswith("bearer ") else None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    echo: EchoServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hang up mid-stream on errors: that is expected here."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Silence the default stderr access log."""

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self.server.echo._handle(self)

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        self.server.echo._handle(self)


class EchoServer:
    """See the module docstring."""

    def __init__(self, mode: str = "answer", pause: float = 0.001) -> None:
        self.mode = mode
        self.pause = pause  # seconds between stream frames
        self.requests: list[Seen] = []
        self._server: _Server | None = None
        self._lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> EchoServer:
        if self._server is None:
            self._server = _Server(("127.0.0.1", 0), _Handler)
            self._server.echo = self
            threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="qwen-echo",
                daemon=True,
            ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> EchoServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the echo server is not running; call start() first")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def compat_base(self) -> str:
        return self.url + COMPAT

    @property
    def native_base(self) -> str:
        return self.url + NATIVE

    def base_for(self, api: str) -> str:
        return self.native_base if api == "dashscope" else self.compat_base

    @property
    def mode(self) -> str:
        return self._mode

    @mode.setter
    def mode(self, value: str) -> None:
        if value not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {value!r}")
        self._mode = value

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()

    # -- serving ---------------------------------------------------------------------------
    def _handle(self, handler: _Handler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        headers = {k.lower(): v for k, v in handler.headers.items()}
        seen = Seen(
            handler.command,
            urlsplit(handler.path).path.rstrip("/"),
            headers.get("host", "").rsplit(":", 1)[0],
            headers,
            body,
        )
        with self._lock:
            self.requests.append(seen)
        reply = _Reply(handler, seen, seen.api_key or "(no key)", self.pause)
        try:
            if self.mode == "redirect" and seen.host != "localhost":
                reply.redirect(f"http://localhost:{self.port}{handler.path}")
            elif seen.path.endswith("/models"):
                reply.models()
            elif self.mode == "error":
                reply.error()
            elif self.mode == "long_error":
                reply.long_error()
            else:
                reply.answer(stream_error=self.mode == "stream_error")
        except OSError:  # the client went away
            handler.close_connection = True


def _protocol(seen: Seen) -> str:
    if seen.path.startswith(NATIVE):
        return "native"
    return "responses" if seen.path.endswith("/responses") else "chat"


def _streams(seen: Seen) -> bool:
    body = seen.body if isinstance(seen.body, dict) else {}
    if _protocol(seen) == "native":
        return seen.headers.get(
            "x-dashscope-sse", ""
        ).lower() == "enable" or "text/event-stream" in seen.headers.get("accept", "")
    return body.get("stream") is True


def _pieces(text: str, size: int = 7) -> list[str]:
    """Small chunks, so that every echoed key is split across several of them."""
    return [text[i : i + size] for i in range(0, len(text), size)]


class _Reply:
    """What to send for one request, per protocol."""

    def __init__(self, handler: _Handler, seen: Seen, key: str, pause: float) -> None:
        self.handler = handler
        self.pause = pause
        self.seen = seen
        self.key = key
        self.protocol = _protocol(seen)
        self.text = echo_text(key, "answer")
        self.reasoning = echo_text(key, "reasoning")

    # -- low level -------------------------------------------------------------------------
    def _head(self, status: int, content_type: str, length: int | None = None) -> None:
        h = self.handler
        h.send_response(status)
        h.send_header("Content-Type", content_type)
        h.send_header("x-request-id", self.key)
        if length is None:
            h.send_header("Connection", "close")
            h.close_connection = True
        else:
            h.send_header("Content-Length", str(length))
        h.end_headers()

    def _body(self, status: int, data: bytes, content_type: str = "application/json") -> None:
        self._head(status, content_type, len(data))
        self.handler.wfile.write(data)

    def _json(self, status: int, body: object) -> None:
        self._body(status, json.dumps(body, ensure_ascii=False).encode())

    def _stream(self, frames: list[bytes]) -> None:
        self._head(200, SSE)
        for data in frames:
            self.handler.wfile.write(data)
            self.handler.wfile.flush()
            time.sleep(self.pause)

    # -- replies ---------------------------------------------------------------------------
    def redirect(self, location: str) -> None:
        h = self.handler
        h.send_response(307)
        h.send_header("Location", location)
        h.send_header("Content-Length", "0")
        h.end_headers()

    def models(self) -> None:
        ids = [*forms(self.key), "qwen-plus"]
        data = [{"id": i, "object": "model", "created": 0, "owned_by": self.key} for i in ids]
        self._json(200, {"object": "list", "data": data})

    def error(self) -> None:
        key, message = self.key, f"Incorrect API key provided: {' '.join(forms(self.key))}"
        if self.protocol == "native":
            self._json(401, {"code": key, "message": message, "request_id": key})
        else:
            error = {"code": key, "type": key, "param": key, "message": message}
            self._json(401, {"error": error, "request_id": key})

    def long_error(self) -> None:
        text = "Bad request: " + "y" * (CUT - 25) + self.key + " (echoed)"
        self._body(400, text.encode(), "text/plain; charset=utf-8")

    def answer(self, *, stream_error: bool) -> None:
        if self.protocol == "native":
            self._native(stream_error)
        elif self.protocol == "responses":
            self._responses(stream_error)
        else:
            self._chat(stream_error)

    # -- chat completions ------------------------------------------------------------------
    def _chat(self, stream_error: bool) -> None:
        key = self.key
        usage = {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8}
        if not _streams(self.seen):
            message = {
                "role": "assistant",
                "content": self.text,
                "reasoning_content": self.reasoning,
            }
            choice = {"index": 0, "message": message, "finish_reason": "stop"}
            body = {"id": key, "object": "chat.completion", "created": 0, "model": key}
            self._json(200, {**body, "choices": [choice], "usage": usage, "request_id": key})
            return

        def chunk(delta: dict[str, Any] | None, finish: str | None = None) -> bytes:
            choices = (
                [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
            )
            body = {"id": key, "object": "chat.completion.chunk", "created": 0, "model": key}
            data = {**body, "choices": choices, "usage": None if delta else usage}
            return f"data: {json.dumps(data, ensure_ascii=False)}\n\n".encode()

        frames = [chunk({"role": "assistant", "content": None, "reasoning_content": ""})]
        frames += [chunk({"reasoning_content": p}) for p in _pieces(self.reasoning)]
        frames += [chunk({"content": p}) for p in _pieces(self.text)]
        if stream_error:
            error = {"code": key, "message": f"stopped: {key}", "type": key, "param": key}
            frames.append(f"data: {json.dumps({'error': error, 'id': key})}\n\n".encode())
        else:
            frames += [chunk({"content": ""}, "stop"), chunk(None), b"data: [DONE]\n\n"]
        self._stream(frames)

    # -- responses -------------------------------------------------------------------------
    def _response(self, status: str) -> dict[str, Any]:
        key = self.key
        body: dict[str, Any] = {
            "id": key,
            "object": "response",
            "created_at": 0,
            "model": key,
            "status": status,
            "output": [],
            "parallel_tool_calls": False,
            "tool_choice": "auto",
            "tools": [],
        }
        if status == "completed":
            summary = [{"type": "summary_text", "text": self.reasoning}]
            part = {"type": "output_text", "text": self.text, "annotations": []}
            body["output"] = [
                {"type": "reasoning", "id": key, "summary": summary},
                {
                    "type": "message",
                    "id": key,
                    "role": "assistant",
                    "status": "completed",
                    "content": [part],
                },
            ]
            body["usage"] = {
                "input_tokens": 3,
                "output_tokens": 5,
                "total_tokens": 8,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens_details": {"reasoning_tokens": 2},
            }
        return body

    def _responses(self, stream_error: bool) -> None:
        if not _streams(self.seen):
            self._json(200, self._response("completed"))
            return
        key = self.key
        events: list[dict[str, Any]] = [
            {"type": "response.created", "response": self._response("in_progress")}
        ]
        where = {"item_id": key, "output_index": 0}
        events += [
            {"type": "response.reasoning_text.delta", "delta": p, **where}
            for p in _pieces(self.reasoning)
        ]
        where = {"item_id": key, "output_index": 1, "content_index": 0}
        events += [
            {"type": "response.output_text.delta", "delta": p, "logprobs": [], **where}
            for p in _pieces(self.text)
        ]
        if stream_error:
            events.append(
                {"type": "error", "code": key, "message": f"stopped: {key}", "param": key}
            )
            failed = self._response("failed")
            failed["error"] = {"code": key, "message": f"failed: {key}"}
            events.append({"type": "response.failed", "response": failed})
        else:
            events.append({"type": "response.completed", "response": self._response("completed")})
        frames = []
        for number, event in enumerate(events):
            event["sequence_number"] = number
            data = json.dumps(event, ensure_ascii=False)
            frames.append(f"id:{number + 1}\nevent:{event['type']}\ndata:{data}\n\n".encode())
        self._stream(frames)

    # -- dashscope native ------------------------------------------------------------------
    def _native(self, stream_error: bool) -> None:
        key = self.key
        usage = {"input_tokens": 3, "output_tokens": 5, "total_tokens": 8}

        def body(text: str, reasoning: str, finish: str) -> dict[str, Any]:
            message = {"role": "assistant", "content": text, "reasoning_content": reasoning}
            output = {"choices": [{"message": message, "finish_reason": finish}]}
            return {"output": output, "usage": usage, "request_id": key}

        if not _streams(self.seen):
            self._json(200, body(self.text, self.reasoning, "stop"))
            return
        bodies = [body("", p, "null") for p in _pieces(self.reasoning)]
        bodies += [body(p, "", "null") for p in _pieces(self.text)]
        frames = [
            f"id:{n + 1}\nevent:result\n:HTTP_STATUS/200\ndata:{json.dumps(b)}\n\n".encode()
            for n, b in enumerate(bodies)
        ]
        n = len(frames) + 1
        if stream_error:
            error = {"code": key, "message": f"stopped: {key}", "request_id": key}
            frames.append(
                f"id:{n}\nevent:error\n:HTTP_STATUS/400\ndata:{json.dumps(error)}\n\n".encode()
            )
        else:
            final = json.dumps(body("", "", "stop"))
            frames.append(f"id:{n}\nevent:result\n:HTTP_STATUS/200\ndata:{final}\n\n".encode())
        self._stream(frames)
