"""Writing replies on the socket: JSON bodies, chunked SSE streams, and the transport faults."""

from __future__ import annotations

import contextlib
import json
import select
import socket
import threading
import time
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING

from qwen_magic.emulator import hostile
from qwen_magic.emulator.faults import data_inspection, dumps
from qwen_magic.emulator.replies import MID_STREAM_FAULTS, Reply

if TYPE_CHECKING:
    from qwen_magic.emulator.records import RecordedRequest

SSE_CONTENT_TYPE = "text/event-stream;charset=UTF-8"
JSON_CONTENT_TYPE = "application/json"
OUTPUT_INSPECTION = "Output data may contain inappropriate content."
PIECE_PAUSE = 0.002


class Disconnected(Exception):
    """The client went away while we were writing."""


def utf8_pieces(data: bytes) -> list[bytes]:
    """Cut `data` in the middle of every multi-byte character (or in half if there are none)."""
    cuts = [i + 1 for i, byte in enumerate(data) if byte >= 0xC0]
    if not cuts:
        cuts = [len(data) // 2] if len(data) > 1 else []
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in zip(bounds, bounds[1:], strict=False) if b > a]


class Exchange:
    """One request/response: knows the handler, the record and the scripted reply."""

    def __init__(
        self,
        handler: BaseHTTPRequestHandler,
        record: RecordedRequest,
        reply: Reply,
        request_id: str,
        stopping: threading.Event,
    ) -> None:
        self.handler = handler
        self.record = record
        self.reply = reply
        self.request_id = request_id
        self.stopping = stopping
        self._chunked = False

    # -- low level -------------------------------------------------------------------------
    def _write(self, data: bytes) -> None:
        try:
            self.handler.wfile.write(data)
            self.handler.wfile.flush()
        except OSError as exc:  # BrokenPipe, ConnectionReset, ...
            self.record.disconnected = True
            self.handler.close_connection = True
            raise Disconnected from exc

    def _send(self, data: bytes) -> None:
        if self._chunked:
            data = b"%x\r\n%s\r\n" % (len(data), data)
        self._write(data)

    def _send_slowly(self, data: bytes, pause: float) -> None:
        """One frame a few bytes at a time (``slow_frame``)."""
        for piece in _pieces(data, hostile.SLOW_PIECES):
            self._send(piece)
            self.pause(pause)

    def _send_split(self, data: bytes) -> None:
        if self.reply.fault != "split_utf8":
            self._send(data)
            return
        for piece in utf8_pieces(data):
            self._send(piece)
            time.sleep(PIECE_PAUSE)

    def _headers(
        self, status: int, content_type: str, headers: dict[str, str] | None, length: int | None
    ) -> None:
        h = self.handler
        self.record.status = status
        h.send_response(status)
        h.send_header("Content-Type", content_type)
        if self.request_id:
            h.send_header("x-request-id", self.request_id)
        for name, value in (headers or {}).items():
            h.send_header(name, value)
        if length is None:
            h.send_header("Transfer-Encoding", "chunked")
            h.send_header("Cache-Control", "no-cache")
            if self.reply.fault is not None:  # a faulty stream ends its connection too
                h.send_header("Connection", "close")
                h.close_connection = True
            self._chunked = True  # a whole stream keeps it open for the next request
        else:
            h.send_header("Content-Length", str(length))
        try:
            h.end_headers()
        except OSError as exc:
            self.record.disconnected = True
            h.close_connection = True
            raise Disconnected from exc

    def pause(self, seconds: float) -> None:
        """Wait, noticing a client that hangs up meanwhile (``Disconnected``): a stopped
        request shows as ``record.disconnected`` even while the server stalls."""
        end = time.monotonic() + seconds
        conn = self.handler.connection
        while not self.stopping.is_set():
            left = end - time.monotonic()
            if left <= 0:
                return
            try:
                readable, _, _ = select.select([conn], [], [], min(left, 0.05))
                gone = bool(readable) and not conn.recv(1, socket.MSG_PEEK)
            except (OSError, ValueError):
                gone = True
            if gone:
                self.record.disconnected = True
                self.handler.close_connection = True
                raise Disconnected
            if readable:  # bytes we do not expect: just wait
                self.stopping.wait(min(left, 0.05))

    def abort(self) -> None:
        """Close the connection now, without finishing the body (or without any response)."""
        self.handler.close_connection = True
        conn = self.handler.connection
        with contextlib.suppress(OSError):
            conn.shutdown(socket.SHUT_RDWR)

    # -- whole bodies ----------------------------------------------------------------------
    def send_body(
        self,
        status: int,
        data: bytes,
        content_type: str = JSON_CONTENT_TYPE,
        headers: dict[str, str] | None = None,
    ) -> None:
        self._headers(status, content_type, headers, len(data))
        self._send_split(data)

    def send_json(self, status: int, body: object, headers: dict[str, str] | None = None) -> None:
        self.send_body(status, dumps(body).encode(), JSON_CONTENT_TYPE, headers)

    def send_result(self, body: object) -> None:
        """A non-stream 200 body, or what a mid-stream fault becomes without a stream.

        cut: headers and half the body, then the connection closes; error_frame: the 400
        data-inspection error; malformed: a truncated JSON body (with a matching length).
        """
        data = dumps(body).encode()
        fault = self.reply.fault
        spoiled = hostile.spoil_body(body, fault)
        if spoiled is not None:
            self.pause(self.reply.delay)
            content_type = SSE_CONTENT_TYPE if fault == "done_first" else JSON_CONTENT_TYPE
            self._headers(200, content_type, None, len(spoiled))
            self._write(spoiled)
            return
        if fault == "error_frame":
            raise data_inspection(OUTPUT_INSPECTION)
        if fault != "stall":
            self.pause(self.reply.delay)
        if fault == "cut":
            self._headers(200, JSON_CONTENT_TYPE, None, len(data))
            self._write(data[: len(data) // 2])
            self.abort()
            return
        if fault == "malformed":
            data = data[: len(data) // 2]
        self.send_body(200, data)

    # -- streams ---------------------------------------------------------------------------
    def stream(
        self,
        frames: Iterable[bytes],
        *,
        error_frame: Callable[[int], bytes],
        malformed_frame: Callable[[int], bytes],
        content_type: str = SSE_CONTENT_TYPE,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Send SSE frames one per chunk, applying the reply's delay and mid-stream fault.

        `error_frame(n)` / `malformed_frame(n)` build the protocol's frame number n (0-based).
        """
        frames = list(frames)
        reply = self.reply
        fault = reply.fault if reply.fault in MID_STREAM_FAULTS else None
        stop_at = len(frames) // 2 if reply.fault_after is None else reply.fault_after
        frames = hostile.spoil_frames(frames, reply.fault, stop_at)
        slow = stop_at if reply.fault == "slow_frame" else -1
        delay = 0.0 if reply.fault in ("stall", "slow_frame") else reply.delay
        self._headers(200, content_type, headers, None)
        for index, frame in enumerate(frames):
            if fault and index >= stop_at:
                break
            self.pause(delay)
            if index == slow:
                self._send_slowly(frame, reply.delay)
            else:
                self._send_split(frame)
            self.record.count_frame()
        else:
            if not fault:
                self._send(b"")  # the chunked terminator (a zero-length chunk)
                return
        if fault == "cut":
            self.abort()
            return
        index = self.record.frames_sent
        self.pause(delay)
        self._send_split(error_frame(index) if fault == "error_frame" else malformed_frame(index))
        self.record.count_frame()
        self._send(b"")


def _pieces(data: bytes, count: int) -> list[bytes]:
    size = max(1, -(-len(data) // count))
    return [data[i : i + size] for i in range(0, len(data), size)]


def parse_json(data: bytes) -> object:
    try:
        return json.loads(data.decode("utf-8")) if data else None
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
