"""Token log probabilities (``--logprobs``) as the chat and native protocols send them.

Both carry, per choice, ``logprobs.content = [{"token", "logprob", "bytes", "top_logprobs":
[{"token", "logprob", "bytes"}, …]}, …]`` (docs/wire.md §13): SDK objects on chat, dicts on
native. A character of several UTF-8 bytes may come as several tokens whose ``bytes`` do not
decode alone (Chinese, emoji); they are joined into one token whose probability is their
product, so the shaded answer never shows half a character.
"""

from __future__ import annotations

import math
from typing import Any

from qwen_magic.events import TokenLogprobs, TokenProb
from qwen_magic.providers.wire import BadReply, describe, field


def logprob_arguments(request: Any) -> dict[str, Any]:
    """What ``--logprobs K`` sends (chat and native alike)."""
    if request.logprobs is None:
        return {}
    return {"logprobs": True, "top_logprobs": request.logprobs}


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise BadReply(f"{where} is {describe(value)}, not a log probability")
    return float(value)


def _text(value: Any, where: str) -> str:
    if type(value) is not str:
        raise BadReply(f"{where} is {describe(value)}, not text")
    return value


def _bytes(entry: Any) -> bytes | None:
    raw = field(entry, "bytes")
    if not isinstance(raw, list) or not all(type(b) is int and 0 <= b < 256 for b in raw):
        return None
    return bytes(raw)


class TokenFolder:
    """Reads ``logprobs`` of successive chunks (or one whole reply) into TokenProbs.

    ``cumulative``: the native protocol without incremental output repeats every token so far
    in each frame; then only the ones not seen yet are new."""

    def __init__(self) -> None:
        self.seen = 0  # entries read so far (for cumulative frames)
        self.pending: list[tuple[bytes, float]] = []  # bytes of a character not yet whole

    def feed(self, logprobs: Any, where: str, *, cumulative: bool = False) -> TokenLogprobs | None:
        """The new tokens of one chunk's ``logprobs`` (None or absent: none)."""
        if logprobs is None:
            return None
        content = field(logprobs, "content")
        if content is None:
            return None
        if not isinstance(content, list):
            raise BadReply(f"{where}.content is {describe(content)}, not a list")
        if cumulative:
            content, self.seen = content[self.seen :], max(self.seen, len(content))
        else:
            self.seen += len(content)
        items: list[TokenProb] = []
        for number, entry in enumerate(content):
            item = self._entry(entry, f"{where}.content[{number}]")
            if item is not None:
                items.append(item)
        return TokenLogprobs(tuple(items)) if items else None

    def flush(self) -> TokenLogprobs | None:
        """Bytes still waiting at the end (a cut character): shown as they decode."""
        if not self.pending:
            return None
        data = b"".join(b for b, _ in self.pending)
        logprob = sum(lp for _, lp in self.pending)
        self.pending = []
        return TokenLogprobs((TokenProb(data.decode("utf-8", "replace"), logprob),))

    def _entry(self, entry: Any, where: str) -> TokenProb | None:
        if entry is None or isinstance(entry, str | int | float | list):
            raise BadReply(f"{where} is {describe(entry)}, not an object")
        token = _text(field(entry, "token"), where + ".token")
        logprob = _number(field(entry, "logprob"), where + ".logprob")
        alternatives = self._alternatives(field(entry, "top_logprobs"), where + ".top_logprobs")
        raw = _bytes(entry)
        if raw is not None and (self.pending or not _decodes(raw)):
            self.pending.append((raw, logprob))
            data = b"".join(b for b, _ in self.pending)
            if not _decodes(data):
                return None  # the character is not whole yet
            joined = sum(lp for _, lp in self.pending)
            self.pending = []
            return TokenProb(data.decode("utf-8"), joined, alternatives)
        return TokenProb(token, logprob, alternatives)

    @staticmethod
    def _alternatives(top: Any, where: str) -> tuple[tuple[str, float], ...]:
        if top is None:
            return ()
        if not isinstance(top, list):
            raise BadReply(f"{where} is {describe(top)}, not a list")
        pairs = []
        for number, entry in enumerate(top):
            at = f"{where}[{number}]"
            if entry is None or isinstance(entry, str | int | float | list):
                raise BadReply(f"{at} is {describe(entry)}, not an object")
            token = _text(field(entry, "token"), at + ".token")
            raw = _bytes(entry)
            if raw is not None and _decodes(raw):
                token = raw.decode("utf-8")
            pairs.append((token, _number(field(entry, "logprob"), at + ".logprob")))
        pairs.sort(key=lambda pair: -pair[1])
        return tuple(pairs)


def _decodes(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
