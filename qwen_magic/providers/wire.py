"""Checks on what a server sent: the SDKs build their objects without validating them, so a
string where a number belongs, ``content: 123`` or ``choices: [null]`` would otherwise travel
on and crash far away. A reply that breaks its protocol is the server's fault: ``BadReply``,
shown as "The server sent a reply qwen_magic cannot read — <what>".

The checks on the per-chunk path are single ``type(x) is`` tests; the descriptions are built
only once something is wrong.
"""

from __future__ import annotations

import json
from typing import Any

from qwen_magic.errors import ServiceError
from qwen_magic.masking import redact


class BadReply(Exception):
    """The server's reply breaks its protocol (wrong type, missing part, not JSON, empty)."""

    def error(self) -> ServiceError:
        return ServiceError("server", str(self))


def describe(value: Any) -> str:
    """A value as the server sent it, short: ``null``, ``123``, ``'abc'``, ``a list``."""
    if value is None:
        return "null"
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    if isinstance(value, str):
        value = redact(value)  # mask a key before cutting: a cut piece could escape the mask
        return repr(value if len(value) <= 40 else value[:40] + "…")
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return f"an object of type {type(value).__name__}"


def text(value: Any, where: str) -> str | None:
    """A text field: a string or absent."""
    if value is None or type(value) is str:
        return value
    raise BadReply(f"{where} is {describe(value)}, not text")


def count(value: Any, where: str) -> int | None:
    """A token count: a whole number ≥ 0, or absent."""
    if value is None or (type(value) is int and value >= 0):
        return value
    raise BadReply(f"{where} is {describe(value)}, not a token count")


def error_code(code: Any, kind: Any = None) -> str | None:
    """An error's code as text. DashScope sends a name (``"invalid_api_key"``); llama.cpp and
    vLLM send the HTTP status as a number and name the error in ``type``
    (``"exceed_context_size_error"``): the name is what helps, the number is already shown."""
    if isinstance(code, str) and code.strip():
        return code
    if isinstance(kind, str) and kind.strip():
        return kind
    if isinstance(code, bool) or code is None or code == "":
        return None
    return str(code)


def field(obj: Any, name: str) -> Any:
    """``obj.name`` of an SDK object or ``obj[name]`` of a dict; None when absent."""
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def undecodable(exc: UnicodeDecodeError) -> BadReply:
    byte = exc.object[exc.start : exc.start + 1].hex() if exc.object else "?"
    return BadReply(f"its reply is not valid UTF-8 (byte 0x{byte} at position {exc.start})")


def not_json(exc: json.JSONDecodeError) -> BadReply:
    sample = redact(exc.doc)[:60] if isinstance(exc.doc, str) else ""
    return BadReply(f"part of its reply is not JSON ({exc.msg}): {describe(sample)}")


def not_a_stream(content_type: str | None) -> BadReply:
    kind = content_type.split(";")[0].strip() if content_type else "no content type"
    return BadReply(
        f"it answered a streaming request with {kind}, not an event stream (text/event-stream)"
    )


NO_EVENTS = "the event stream ended before its first event: no answer at all"


def sdk_shape_error(exc: BaseException, package: str) -> BadReply | None:
    """``exc`` raised inside ``package`` (an SDK) while it built its objects from a reply of
    the wrong shape (``choices: [null]`` → ``Choice(**None)``), or None if raised elsewhere."""
    import re

    if not isinstance(exc, TypeError | AttributeError | KeyError | IndexError | ValueError):
        return None
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    module = tb.tb_frame.f_globals.get("__name__", "") if tb is not None else ""
    if module != package and not module.startswith(package + "."):
        return None
    match = re.search(r"(\w+)\(\) argument after \*\* must be a mapping, not (\w+)", str(exc))
    if match:
        part, got = match.groups()
        got = "null" if got == "NoneType" else f"a {got}"
        if part.endswith("Output"):
            return BadReply(f"its reply's output is {got}, not an object")
        return BadReply(f"a {part.lower()} in its reply is {got}, not an object")
    return BadReply(f"its reply does not have the expected shape ({type(exc).__name__}: {exc})")
