"""The emulator's model table (names and behaviours from docs/wire.md §2.4, §4.3, §7)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

CREATED = 1752741600
_SAMPLES = re.compile(r"qwen-plus|qwen3(\.\d+)?-plus|qwen3(\.\d+)?-\d+(\.\d+)?b")


@dataclass(frozen=True)
class ModelInfo:
    """How one model behaves.

    thinking: "default-on" (hybrid, thinks unless told not to), "default-off" (hybrid),
    "only" (always thinks; enable_thinking:false is rejected), "never" (no thinking mode).
    """

    name: str
    thinking: str = "default-off"
    non_stream_thinking: bool = False
    multimodal_only: bool = False
    native_incremental: bool = False
    stream_only: bool = False

    @property
    def thinks_by_default(self) -> bool:
        return self.thinking in ("default-on", "only")

    @property
    def samples(self) -> bool:
        """Whether ``n`` > 1 (several choices in one reply) is served: Qwen Plus and the open
        Qwen3 models (docs/wire.md §13)."""
        return bool(_SAMPLES.match(self.name))


def _models(*infos: ModelInfo) -> dict[str, ModelInfo]:
    return {info.name: info for info in infos}


MODELS: dict[str, ModelInfo] = _models(
    # Qwen3.5 / 3.6: hybrid, thinking on by default, multimodal endpoint on the native protocol.
    ModelInfo("qwen3.5-plus", "default-on", True, True, True),
    ModelInfo("qwen3.5-flash", "default-on", True, True, True),
    ModelInfo("qwen3.5-397b-a17b", "default-on", True, True, True),
    ModelInfo("qwen3.6-plus", "default-on", True, True, True),
    ModelInfo("qwen3.6-flash", "default-on", False, True, True),
    ModelInfo("qwen3.6-max-preview", "default-on", False, True, True),
    # Commercial hybrids, thinking off by default, cumulative native output by default.
    ModelInfo("qwen-plus", "default-off", True),
    ModelInfo("qwen-flash", "default-off", True),
    ModelInfo("qwen-turbo", "default-off", True),
    ModelInfo("qwen3-max", "default-off", False, False, True),
    ModelInfo("qwen3-max-preview", "default-off", True, False, True),
    # No thinking at all.
    ModelInfo("qwen-max", "never"),
    ModelInfo("qwen-long", "never"),
    ModelInfo("qwen3-coder-plus", "never", native_incremental=True),
    ModelInfo("qwen3-coder-flash", "never", native_incremental=True),
    ModelInfo("qwen-vl-max", "never", multimodal_only=True),
    ModelInfo("qwen-vl-plus", "never", multimodal_only=True),
    # Vision hybrids.
    ModelInfo("qwen3-vl-plus", "default-off", False, True, True),
    ModelInfo("qwen3-vl-flash", "default-off", False, True, True),
    # Thinking only.
    ModelInfo("qwq-plus", "only", False, False, True, stream_only=True),
    ModelInfo("qwq-32b", "only", False, False, True, stream_only=True),
    ModelInfo("qvq-max", "only", False, True, True, stream_only=True),
    ModelInfo("qvq-plus", "only", False, True, True, stream_only=True),
    ModelInfo("qwen3-235b-a22b-thinking-2507", "only", True, False, True),
    ModelInfo("qwen3-30b-a3b-thinking-2507", "only", True, False, True),
    ModelInfo("qwen3-next-80b-a3b-thinking", "only", True, False, True),
    ModelInfo("deepseek-r1", "only", True, False, True),
    ModelInfo("kimi-k2-thinking", "only", True, False, True),
    # Open-source Qwen3 hybrids (thinking on, streaming only when thinking).
    ModelInfo("qwen3-235b-a22b", "default-on", False, False, True),
    ModelInfo("qwen3-32b", "default-on", False, False, True),
    ModelInfo("qwen3-8b", "default-on", False, False, True),
    # Third-party hybrids.
    ModelInfo("deepseek-v3.2", "default-off", True, False, True),
    # Omni: streaming only, multimodal endpoint.
    ModelInfo("qwen3-omni-flash", "default-off", False, True, True, stream_only=True),
    ModelInfo("qwen3.5-omni-plus", "default-off", False, True, True, stream_only=True),
    ModelInfo("qwen-omni-turbo", "never", multimodal_only=True, stream_only=True),
)

_SNAPSHOT = re.compile(r"-(latest|\d{4}-\d{2}-\d{2}|\d{4})$")


def lookup(name: str) -> ModelInfo | None:
    """The model's row; snapshot names (`qwen-plus-2025-04-28`, `-latest`) map to their family."""
    if name in MODELS:
        return MODELS[name]
    base = _SNAPSHOT.sub("", name)
    return MODELS.get(base) if base != name else None


def require(name: object) -> ModelInfo:
    """The model's row, or the real 404 model-not-found error."""
    from qwen_magic.emulator.faults import model_not_found

    info = lookup(name) if isinstance(name, str) else None
    if info is None:
        raise model_not_found(str(name))
    return info


def requested_thinking(body: dict[str, Any]) -> object:
    """The switch as DashScope reads it (top-level ``enable_thinking``), else as vLLM, SGLang
    and llama.cpp do (``chat_template_kwargs.enable_thinking``): the emulator also stands in
    for those when reached through --base-url."""
    if "enable_thinking" in body:
        return body["enable_thinking"]
    kwargs = body.get("chat_template_kwargs")
    return kwargs.get("enable_thinking") if isinstance(kwargs, dict) else None


def resolve_thinking(info: ModelInfo, requested: object) -> bool:
    """Whether this request thinks: the request's `enable_thinking`, else the model's default."""
    from qwen_magic.emulator.faults import ApiError, invalid_parameter

    if info.thinking == "only":
        if requested is False:
            raise invalid_parameter(
                "The value of the enable_thinking parameter is restricted to True."
            )
        return True
    if info.thinking == "never":
        if requested is True:
            raise ApiError(
                400,
                "InvalidParameter.NotSupportEnableThinking",
                f"The model {info.name} does not support enable_thinking.",
            )
        return False
    return bool(requested) if isinstance(requested, bool) else info.thinks_by_default
