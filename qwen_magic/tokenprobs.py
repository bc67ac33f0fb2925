"""Token probabilities (``Result.logprobs``) as plain data: what the summary says, and the
session's keys masked out of the tokens.

A key a server echoed into the answer is masked in ``Result.text`` by ``masking.redact``; the
tokens must not give it back either (their concatenation is the answer again, and a key is
split over many tokens, none of which alone looks like it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from difflib import SequenceMatcher

from qwen_magic.events import TokenProb
from qwen_magic.masking import redact


def mean_probability(items: Sequence[TokenProb]) -> float | None:
    """The average of the tokens' probabilities (not of their logprobs): 0.83 reads as "83 %
    sure on average"."""
    if not items:
        return None
    return sum(math.exp(item.logprob) for item in items) / len(items)


def least_likely(items: Sequence[TokenProb], count: int = 5) -> list[tuple[int, TokenProb]]:
    """The ``count`` least likely tokens with their positions, least likely first (blank
    tokens such as a lone space or newline are left out: they say little)."""
    ranked = [(i, item) for i, item in enumerate(items) if item.token.strip()]
    ranked.sort(key=lambda pair: (pair[1].logprob, pair[0]))
    return ranked[:count]


def redact_tokens(items: list[TokenProb]) -> list[TokenProb]:
    """``items`` with any key of this session masked, across token boundaries too: the tokens
    that held part of it show the mask instead (the mask goes to the first of them)."""
    if not items:
        return items
    tokens = [item.token for item in items]
    joined = "".join(tokens)
    masked = redact(joined)
    alternatives = [redact(item.alternatives) for item in items]
    changed = [alt != item.alternatives for alt, item in zip(alternatives, items, strict=True)]
    if masked == joined and not any(changed):
        return items
    if masked != joined:
        tokens = _remap(tokens, joined, masked)
    return [
        replace(item, token=token, alternatives=alt)
        for item, token, alt in zip(items, tokens, alternatives, strict=True)
    ]


def _remap(tokens: list[str], joined: str, masked: str) -> list[str]:
    """Each token's text in ``masked``: a replaced span goes to the first token it touches,
    the others lose their part of it."""
    starts, at = [], 0
    for token in tokens:
        starts.append(at)
        at += len(token)
    out = [""] * len(tokens)

    def owner(position: int) -> int:
        low, high = 0, len(tokens) - 1
        while low < high:  # the last token starting at or before position
            mid = (low + high + 1) // 2
            if starts[mid] <= position:
                low = mid
            else:
                high = mid - 1
        return low

    matcher = SequenceMatcher(None, joined, masked, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            for k in range(i2 - i1):
                out[owner(i1 + k)] += masked[j1 + k]
        elif tag == "insert":
            out[owner(max(0, i1 - 1)) if i1 >= len(joined) else owner(i1)] += masked[j1:j2]
        else:  # replace / delete: the mask (if any) to the first token of the span
            out[owner(i1)] += masked[j1:j2]
    return out
