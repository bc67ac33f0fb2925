"""What we know about model names, in one place (docs/wire.md §2.4, §4.7, §7)."""

from __future__ import annotations

import re

# Thinking without streaming is allowed only for these (deep-thinking FAQ).
NON_STREAM_THINKING = {
    "qwen3-max-preview", "qwen3.6-plus", "qwen3.5-plus", "qwen-plus", "qwen3.5-flash",
    "qwen-flash", "qwen-flash-2025-07-28", "qwen-turbo", "qwen3.5-397b-a17b",
    "qwen3.5-122b-a10b", "qwen3.5-27b", "qwen3.5-35b-a3b", "qwen3-next-80b-a3b-thinking",
    "qwen3-235b-a22b-thinking-2507", "qwen3-30b-a3b-thinking-2507", "deepseek-v3.2",
    "deepseek-v3.2-exp", "deepseek-r1", "deepseek-r1-0528", "kimi-k2-thinking",
}  # fmt: skip

_THINKS_BY_DEFAULT = re.compile(
    r"^qwen3\.[5-9]|^qwen3-\d+(\.\d+)?b|^qwen3-\d+b-a\d+b$|^glm-5|^deepseek-v4"
)
_THINKING_ONLY = re.compile(r"^(qwq|qvq)|-thinking|^deepseek-r1|^kimi-k2-thinking")
# `n` (1-4 samples in one request) on Qwen Plus and the open Qwen3 models, when not thinking
# (docs/wire.md §13). Where a model refuses or ignores it, the samples are asked one by one.
_SAMPLES = re.compile(r"^qwen-plus|^qwen3(\.\d+)?-plus|^qwen3(\.\d+)?-\d+(\.\d+)?b")
MAX_SAMPLES = 4
_MULTIMODAL_NATIVE = re.compile(r"^qwen3\.[5-9]|-vl-|^qwen-vl|^qwen3-vl|^qvq|omni")


def base_name(model: str) -> str:
    """``qwen3.5-plus-2026-02-15`` -> ``qwen3.5-plus`` (snapshots share their family's rules)."""
    return re.sub(r"-\d{4}-\d{2}-\d{2}$", "", model.lower())


def thinking_only(model: str) -> bool:
    return bool(_THINKING_ONLY.search(base_name(model)))


def thinks_by_default(model: str) -> bool:
    return thinking_only(model) or bool(_THINKS_BY_DEFAULT.search(base_name(model)))


def samples_in_one_request(model: str, thinking: bool | None) -> bool:
    """Whether the chat API's ``n`` gives several samples in one request for this model and
    thinking setting (None: the model's default)."""
    thinks = thinks_by_default(model) if thinking is None else thinking
    return not thinks and bool(_SAMPLES.search(base_name(model)))


def allows_non_stream_thinking(model: str) -> bool:
    return base_name(model) in NON_STREAM_THINKING


def needs_multimodal_endpoint(model: str) -> bool:
    """Native protocol: these models answer only on ``multimodal-generation``."""
    return bool(_MULTIMODAL_NATIVE.search(base_name(model)))
