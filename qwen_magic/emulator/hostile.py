"""Hostile servers: replies that break their protocol, on all three APIs.

A client must end each of these in a short error that names the server, keep whatever answer
arrived before, and be ready for the next call. The faults (``Reply(fault=...)``):

- ``empty_stream``: a 200 event stream with no event at all (an empty 200 body unstreamed);
- ``done_first``: ``data: [DONE]`` before anything else, then the real events;
- ``json_for_stream``: a whole JSON reply answers a streaming request;
- ``empty_json``: a 200 ``{}`` whether streaming or not;
- ``string_usage``: every token count as a string (``"input_tokens": "12"``);
- ``bad_content_type``: the answer piece is the number ``123`` instead of text;
- ``null_choice``: the choice carrying the answer piece is ``null`` (``choices: [null]``; on
  the Responses API the event or output item is ``null``);
- ``invalid_utf8``: the answer piece holds bytes that are not UTF-8;
- ``html_502``: a proxy's ``502 Bad Gateway`` HTML page;
- ``huge_frame``: the answer piece is 10 MB, in one event;
- ``clean_close``: the stream ends cleanly after ``fault_after`` frames, with no finish
  reason, no ``[DONE]``, no usage;
- ``slow_frame``: frame ``fault_after`` arrives a few bytes at a time, ``delay`` s apart.

For the four answer-piece faults, ``fault_after`` counts the answer pieces sent intact before
the spoiled one (default: half of them), and the stream ends cleanly after it. For
``clean_close`` and ``slow_frame`` it counts frames, as for ``cut``.
"""

from __future__ import annotations

import json
from typing import Any

MARKER = "@@hostile-piece@@"
PIECE_FAULTS = ("bad_content_type", "null_choice", "invalid_utf8", "huge_frame")
STREAM_FAULTS = ("empty_stream", "done_first", "clean_close", "slow_frame", "string_usage")
WHOLE_FAULTS = ("empty_json", "html_502")
HOSTILE_FAULTS = (*PIECE_FAULTS, *STREAM_FAULTS, *WHOLE_FAULTS, "json_for_stream")
HUGE_BYTES = 10 * 2**20
USAGE_KEYS = {
    "input_tokens", "output_tokens", "total_tokens", "prompt_tokens", "completion_tokens",
    "reasoning_tokens", "cached_tokens",
}  # fmt: skip
SLOW_PIECES = 10
BAD_GATEWAY = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
    + b"<!-- a padding to disable MSIE and Chrome friendly error page -->\r\n"
    * 6
)


def mark(pieces: list[str], fault: str | None, fault_after: int | None) -> list[str]:
    """Put the marker in place of the answer piece a piece fault will spoil."""
    if fault not in PIECE_FAULTS or not pieces:
        return pieces
    index = len(pieces) // 2 if fault_after is None else fault_after
    pieces = list(pieces)
    pieces[max(0, min(index, len(pieces) - 1))] = MARKER
    return pieces


def whole_reply(fault: str | None) -> tuple[int, str, bytes] | None:
    """(status, content type, body) for the faults that replace the whole reply."""
    if fault == "empty_json":
        return 200, "application/json", b"{}"
    if fault == "html_502":
        return 502, "text/html", BAD_GATEWAY
    return None


def spoil_frames(frames: list[bytes], fault: str | None, stop_at: int) -> list[bytes]:
    """The frames a stream fault sends (``slow_frame`` is paced by the transport)."""
    if fault == "empty_stream":
        return []
    if fault == "done_first":
        return [b"data: [DONE]\n\n", *frames]
    if fault == "clean_close":
        return frames[:stop_at]
    if fault == "string_usage":
        return [_spoil_frame(frame, fault) for frame in frames]
    if fault in PIECE_FAULTS:
        for index, frame in enumerate(frames):
            if MARKER.encode() in frame:
                return [*frames[:index], _spoil_frame(frame, fault)]
    return frames


def spoil_body(body: object, fault: str | None) -> bytes | None:
    """A non-stream body as a fault sends it, or None for no change."""
    if fault == "empty_stream":
        return b""
    if fault == "done_first":
        return b"data: [DONE]\n\n"
    if fault == "string_usage" or fault in PIECE_FAULTS:
        return _encode(_spoil(body, fault), fault)
    return None


def _spoil_frame(frame: bytes, fault: str) -> bytes:
    lines = frame.split(b"\n")
    for index, line in enumerate(lines):
        if line.startswith(b"data:"):
            try:
                payload = json.loads(line[5:].decode())
            except ValueError:  # data: [DONE]
                break
            lines[index] = b"data:" + _encode(_spoil(payload, fault), fault)
            break
    return b"\n".join(lines)


def _encode(obj: object, fault: str) -> bytes:
    data = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()
    if fault == "invalid_utf8":
        data = data.replace(MARKER.encode(), b"caf\xe9 \xff\xfe")
    return data


def _spoil(obj: Any, fault: str) -> Any:
    if fault == "string_usage":
        return _strings_for_counts(obj)
    if fault == "bad_content_type":
        return _replace_strings(obj, lambda s: 123 if MARKER in s else s)
    if fault == "huge_frame":
        return _replace_strings(obj, lambda s: s.replace(MARKER, "x" * HUGE_BYTES))
    if fault == "null_choice":
        return _null_outermost(obj)
    return obj


def _replace_strings(obj: Any, change: Any) -> Any:
    if isinstance(obj, str):
        return change(obj)
    if isinstance(obj, list):
        return [_replace_strings(item, change) for item in obj]
    if isinstance(obj, dict):
        return {key: _replace_strings(value, change) for key, value in obj.items()}
    return obj


def _strings_for_counts(obj: Any) -> Any:
    if isinstance(obj, list):
        return [_strings_for_counts(item) for item in obj]
    if isinstance(obj, dict):
        return {
            key: str(value)
            if key in USAGE_KEYS and isinstance(value, int)
            else _strings_for_counts(value)
            for key, value in obj.items()
        }
    return obj


def _holds_marker(obj: Any) -> bool:
    return MARKER in json.dumps(obj, ensure_ascii=False)


def _null_outermost(obj: Any) -> Any:
    """The outermost list item holding the marker becomes null (``choices: [null]``); with
    no such list, the whole event is null."""
    found = _null_in(obj)
    return None if found is _MISSING else found


_MISSING = object()


def _null_in(obj: Any) -> Any:
    if isinstance(obj, list):
        for index, item in enumerate(obj):
            if _holds_marker(item):
                return [*obj[:index], None, *obj[index + 1 :]]
        return _MISSING
    if isinstance(obj, dict):
        for key, value in obj.items():
            if _holds_marker(value):
                inner = _null_in(value)
                if inner is not _MISSING:
                    return {**obj, key: inner}
        return _MISSING
    return _MISSING
