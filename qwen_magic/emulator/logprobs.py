"""Tokens and invented, deterministic log probabilities for the emulator (``--logprobs``).

Answers are split with the offline Qwen tokenizer (``qwen_magic.context.tokens``: the
vocabulary the dashscope package ships), so the usage the emulator reports is what that
tokenizer counts, and there is one ``logprobs.content`` entry per token. A character of
several UTF-8 bytes that the tokenizer splits goes on the wire in one piece, its tokens as
separate entries (their ``bytes`` do not decode alone), as a real service sends them.

The probabilities are invented, never sampled: a hash of (position, token) gives base logits
for the token (always the likeliest), five alternatives and the rest of the vocabulary, and
the request's temperature scales them (softmax of logits / T): at -t 0.1 nearly every token is
near-certain, at -t 1.5 many are not. That is the shape of the real effect, not its numbers.
"""

from __future__ import annotations

import hashlib
import math
import unicodedata
from typing import Any

# Tokens the invented alternatives are drawn from (a few common Qwen tokens).
POOL = (
    " the", " a", " an", " of", " to", " and", " in", " is", " it", " that", ",", ".", ":",
    " not", " with", " for", " on", " this", " be", " as", " or", "\n", " I", " you",
)  # fmt: skip
REST = 150_000  # the vocabulary the remaining probability is spread over
TEMPLATE_PER_MESSAGE = 5  # <|im_start|> role \n … <|im_end|> \n
TEMPLATE_REPLY = 3  # <|im_start|> assistant \n


def _encoding() -> Any:
    from qwen_magic.context.tokens import encoding

    return encoding()


def token_bytes(text: str) -> list[bytes] | None:
    """``text`` as the Qwen tokenizer splits it, or None without the tokenizer."""
    encoding = _encoding()
    if encoding is None:
        return None
    text = unicodedata.normalize("NFC", text)
    return [encoding.decode_single_token_bytes(t) for t in encoding.encode_ordinary(text)]


def count(text: str) -> int | None:
    tokens = token_bytes(text)
    return None if tokens is None else len(tokens)


def pieces(text: str) -> tuple[list[str], list[list[bytes]]] | None:
    """One wire piece per token (several where a character spans tokens), and each piece's
    tokens; None without the tokenizer."""
    tokens = token_bytes(text)
    if tokens is None:
        return None
    out: list[str] = []
    groups: list[list[bytes]] = []
    pending: list[bytes] = []
    for token in tokens:
        pending.append(token)
        try:
            piece = b"".join(pending).decode("utf-8")
        except UnicodeDecodeError:
            continue
        out.append(piece)
        groups.append(pending)
        pending = []
    if pending:  # cannot happen for text that came from a str; kept whole all the same
        out.append(b"".join(pending).decode("utf-8", "replace"))
        groups.append(pending)
    return out, groups


def prompt_tokens(messages: list[dict[str, Any]], text_of: Any) -> int | None:
    """The prompt as the chat template makes it: each message's text plus its markers."""
    total = TEMPLATE_REPLY
    for message in messages:
        if not isinstance(message, dict):
            continue
        tokens = count(text_of(message.get("content")))
        if tokens is None:
            return None
        total += tokens + TEMPLATE_PER_MESSAGE
    return total


def _unit(*parts: object) -> float:
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def entry(token: bytes, position: int, k: int, temperature: float | None) -> dict[str, Any]:
    """One ``logprobs.content`` entry: the token, its logprob and the top ``k``."""
    text = token.decode("utf-8", "replace")
    top = 1.0 + 5.0 * _unit("top", position, text)  # the token's base logit over the rest
    names = [p for p in POOL if p != text]
    start = int(_unit("pool", position, text) * len(names))
    alternatives = [names[(start + 3 * i) % len(names)] for i in range(5)]
    logits = [top] + [top - (0.5 + 3.0 * _unit("gap", position, i)) * (i + 1) for i in range(5)]
    t = max(temperature if temperature is not None else 1.0, 0.05)
    scaled = [x / t for x in logits]
    rest = -12.0 / t + math.log(REST)  # the other tokens together (base logit -12 each)
    high = max(*scaled, rest)
    norm = high + math.log(sum(math.exp(x - high) for x in [*scaled, rest]))
    logprobs = [round(x - norm, 6) for x in scaled]
    raws = [token, *(a.encode() for a in alternatives)]
    ranked = sorted(
        zip([text, *alternatives], logprobs, raws, strict=True), key=lambda item: -item[1]
    )
    return {
        "token": text,
        "logprob": logprobs[0],
        "bytes": list(token),
        "top_logprobs": [
            {"token": name, "logprob": lp, "bytes": list(raw)} for name, lp, raw in ranked[:k]
        ],
    }
