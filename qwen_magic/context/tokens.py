"""Token counts, offline, with the Qwen tokenizer's vocabulary that the dashscope package
ships (``dashscope/resources/qwen.tiktoken``) and tiktoken (a dashscope dependency).

``dashscope.get_tokenizer("qwen-turbo")`` builds the same encoding, but importing dashscope
takes seconds; here only tiktoken and the vocabulary file are loaded, once per process, and
only when something is counted. A test checks the counts agree with the SDK's tokenizer.
Without tiktoken or the file, counts are estimates (about 4 characters a token), marked ≈.
"""

from __future__ import annotations

import base64
import importlib.util
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# dashscope.tokenizers.qwen_tokenizer.PAT_STR (tests/context/test_tokens.py checks they match)
PAT_STR = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
    r"""|\s*[\r\n]+|\s+(?!\S)|\s+"""
)
EXACT_UP_TO = 400_000  # characters counted exactly; a longer text is estimated (it is far over)
_CHUNK = 100_000  # tiktoken's merge recursion overflows on very long pieces (the SDK splits too)

_lock = threading.Lock()
_encoding: Any = None  # None: not loaded yet; False: not available (estimates)


@dataclass(frozen=True)
class Count:
    tokens: int
    exact: bool = True

    def __str__(self) -> str:
        return f"{'' if self.exact else '≈'}{self.tokens:,} tokens"


def count(text: str) -> Count:
    """How many tokens ``text`` is for Qwen models."""
    encoding: Any = _load() if len(text) <= EXACT_UP_TO else None
    if not encoding:
        return Count(estimate(text), exact=False)
    text = unicodedata.normalize("NFC", text)
    total = 0
    for start in range(0, len(text), _CHUNK):
        total += len(encoding.encode_ordinary(text[start : start + _CHUNK]))
    return Count(total)


def estimate(text: str) -> int:
    return (len(text) + 3) // 4


def vocabulary_file() -> Path | None:
    """The vocabulary the dashscope package ships, found without importing dashscope."""
    spec = importlib.util.find_spec("dashscope")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "resources" / "qwen.tiktoken"
    return path if path.is_file() else None


def _load() -> Any:
    global _encoding
    with _lock:
        if _encoding is None:
            _encoding = _build() or False
        return _encoding


def _build() -> Any:
    path = vocabulary_file()
    if path is None:
        return None
    try:
        import tiktoken
    except ImportError:
        return None
    ranks = {
        base64.b64decode(token): int(rank)
        for token, rank in (line.split() for line in path.read_bytes().splitlines() if line)
    }
    return tiktoken.Encoding("qwen", pat_str=PAT_STR, mergeable_ranks=ranks, special_tokens={})


def encoding() -> Any:
    """The Qwen tokenizer itself (a tiktoken ``Encoding``, loaded once), or None without
    tiktoken or the vocabulary: the emulator splits its answers into these tokens."""
    return _load() or None
