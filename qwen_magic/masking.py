"""The one mask: API keys never shown, whatever field or form a server echoes them in.

The key is held as a :class:`Secret` (a ``str`` the SDKs accept whose ``repr`` is masked, so a
verbose traceback or a debugger shows ``sk-…f3a9``). Every Secret made in this session is
remembered, and :func:`redact` masks any of them in text or nested data — verbatim, escaped
(JSON, URL, repr, HTML), or a long enough piece of one — so anything a server sends back can
be shown safely, whatever field it echoes the key in.
"""

from __future__ import annotations

import html
import json
import threading
from dataclasses import fields, is_dataclass
from typing import Any
from urllib.parse import quote, quote_plus

_known: dict[str, tuple[str, ...]] = {}  # every key seen this session -> its shown forms


_lock = threading.Lock()


MIN_KEY = 8  # shorter "keys" are placeholders; masking them would garble ordinary text


BLOCK = 6  # any piece of a key of 2*BLOCK-1 characters or more is found and masked...


MIN_PIECE = 10  # ...and so is any found piece of at least this many characters


class Secret(str):
    """An API key. A ``str`` (the SDKs take it as is) whose repr never shows it."""

    __slots__ = ()

    def __new__(cls, value: str) -> Secret:
        secret = super().__new__(cls, value)
        _remember(secret)
        return secret

    def __repr__(self) -> str:
        return repr(mask(self))


def mask(key: str | None) -> str:
    """``sk-…f3a9``: enough to tell keys apart, not enough to use one."""
    if not key:
        return "(not set)"
    if len(key) <= MIN_KEY:
        return "…"
    return f"{key[:3]}…{key[-4:]}"


def _remember(key: str) -> None:
    global _known
    key = str(key)  # a plain str: repr() of a Secret is its mask
    if len(key) < MIN_KEY or key in _known:
        return
    forms = {key}
    for _ in range(2):  # escaped once, or twice (a JSON string inside a JSON string)
        for form in list(forms):
            forms |= {
                json.dumps(form)[1:-1],
                json.dumps(form)[1:-1].replace("/", "\\/"),
                repr(form)[1:-1],
                quote(form, safe=""),
                quote(form),
                quote_plus(form),
                html.escape(form),
            }
    with _lock:  # a new dict, so that a reader in another thread never sees one change
        _known = {**_known, key: tuple(sorted(forms, key=len, reverse=True))}


def forget(key: str) -> None:
    """Stop remembering ``key`` (``%unload_ext`` forgets the key typed with ``%qwencmd key``)."""
    global _known
    with _lock:
        _known = {k: v for k, v in _known.items() if k != str(key)}


def redact(value: Any) -> Any:
    """``value`` with every key of this session masked: text, or dicts/lists/tuples of it.

    Mask before cutting: a cut can split a key into two pieces no longer recognisable whole.
    """
    if not _known:
        return value
    if isinstance(value, str):
        return _redact_text(value)
    if isinstance(value, dict):
        return {redact(k): redact(v) for k, v in value.items()}
    if type(value) is list:
        return [redact(v) for v in value]
    if type(value) is tuple:
        return tuple(redact(v) for v in value)
    return value


def redact_fields(obj: Any) -> Any:
    """Mask every field of a dataclass (e.g. a ServiceError) in place; returns it."""
    if _known and is_dataclass(obj) and not isinstance(obj, type):
        for f in fields(obj):
            value = getattr(obj, f.name)
            masked = redact(value)
            if masked is not value and masked != value:
                setattr(obj, f.name, masked)
    return obj


def redact_object(obj: Any) -> Any:
    """An SDK object (pydantic model, dashscope response, dict) as is, or — when it holds a
    key anywhere — as plain data with the key masked."""
    if not _known or obj is None:
        return obj
    dump = getattr(obj, "model_dump", None)
    try:
        plain = dump(warnings=False) if callable(dump) else obj
    except Exception:  # a model that cannot dump itself: judge it by its text
        plain = repr(obj)
    masked = redact(plain)
    return obj if masked == plain else masked


def hold_back(text: str) -> str:
    """``text`` without a trailing piece that could be the start of a key still arriving.

    While an answer streams, a key can come in several chunks: what is shown must not end in
    the first characters of one. The held-back characters are shown with the next chunk (or
    masked, if the key completes)."""
    if not _known or not text:
        return text
    longest = 0
    for forms in _known.values():
        for form in forms:
            for size in range(min(len(form), len(text)), longest, -1):
                if text[-size:] in form:
                    longest = size
                    break
    return text[: len(text) - longest] if longest else text


# The blocks _pieces searches for, of every form of every key, found once per set of keys:
# a text holding none of them holds no key (most texts), and is returned after a few finds.
_probe: tuple[dict[str, tuple[str, ...]], tuple[str, ...]] = ({}, ())


def _probe_for(known: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    global _probe
    if _probe[0] is not known:
        blocks = {
            form[offset : offset + BLOCK]
            for forms in known.values()
            for form in forms
            for offset in _starts(len(form))
        }
        _probe = (known, tuple(sorted(blocks)))
    return _probe[1]


def _starts(n: int) -> list[int]:
    """Where the blocks of a form of ``n`` characters start (none under MIN_KEY)."""
    return sorted({*range(0, n - BLOCK + 1, BLOCK), n - BLOCK}) if n >= MIN_KEY else []


def _redact_text(text: str) -> str:
    known = _known  # one set of keys throughout, whatever another thread adds meanwhile
    if len(text) < BLOCK or not any(block in text for block in _probe_for(known)):
        return text
    spans: list[tuple[int, int, str]] = []
    for key, forms in known.items():
        for form in forms:
            spans += [(a, b, mask(key)) for a, b in _pieces(text, form)]
    if not spans:
        return text
    spans.sort()
    merged: list[list[Any]] = []
    for start, end, shown in spans:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end, shown])
    out, last = [], 0
    for start, end, shown in merged:
        out += [text[last:start], shown]
        last = end
    out.append(text[last:])
    return "".join(out)


def _pieces(text: str, form: str) -> list[tuple[int, int]]:
    """Where ``text`` holds ``form`` whole, or a run of at least MIN_PIECE of its characters.

    A run of 2*BLOCK-1 characters or more always contains one of the aligned blocks searched
    for, so a key cut anywhere (by a server, or by a 300-character limit) is still found."""
    n = len(form)
    found: list[tuple[int, int]] = []
    for offset in _starts(n):
        block = form[offset : offset + BLOCK]
        at = text.find(block)
        while at != -1:
            left = 0
            while (
                left < offset and at - left > 0 and text[at - left - 1] == form[offset - left - 1]
            ):
                left += 1
            right, end = 0, offset + BLOCK
            while (
                end + right < n
                and at + BLOCK + right < len(text)
                and text[at + BLOCK + right] == form[end + right]
            ):
                right += 1
            if left + BLOCK + right >= min(MIN_PIECE, n):
                found.append((at - left, at + BLOCK + right))
            at = text.find(block, at + 1)
    return found
