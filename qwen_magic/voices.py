"""Which models speak and hear, with which voices, and the checks made before sending.

Speech output (``--voice``/``--speak``) is served only by Qwen-Omni models, only through the
OpenAI-compatible Chat Completions API, and only streaming (docs/wire.md §12). Audio input
(``-a``) goes to Qwen-Omni models (chat API; the native API too) and to Qwen-Audio models
(native API only). The voices listed are the ones Model Studio's Qwen-Omni pages name for each
model; voices differ per model and the pages show only some, so any other name is sent as
given (the service refuses one the model lacks).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from qwen_magic.errors import QwenUsageError


@dataclass(frozen=True)
class Voices:
    family: str  # a model name starts with it (qwen3-omni-flash, qwen3-omni-flash-2025-12-01)
    voices: tuple[str, ...]  # the first is the default of --speak
    source: str  # where the docs name them


VOICES = (
    Voices("qwen3.5-omni", ("Tina",), "Qwen-Omni page (2026), the example's voice"),
    Voices("qwen3-omni", ("Cherry",), "Qwen-Omni page, the example's voice"),
    Voices("qwen-omni-turbo", ("Chelsie", "Ethan"), "Qwen-Omni page (2025): valid voices"),
    Voices("qwen2.5-omni", ("Chelsie", "Ethan"), "Qwen-Omni page (2025): valid voices"),
)
MENTIONED = ("Cherry", "Ethan", "Chelsie", "Tina")  # the voices docs/wire.md §12 names
DEFAULT_VOICE = "Cherry"  # for an Omni model the table does not know
# Models of the older page that says "when output modality includes audio, do not set a
# system message".
NO_SYSTEM_WITH_SPEECH = ("qwen-omni-turbo", "qwen2.5-omni")


def can_speak(model: str) -> bool:
    """A Qwen-Omni model (not a realtime one: those speak over a WebSocket, not this API)."""
    name = model.lower()
    return "omni" in name and "realtime" not in name


def hears(model: str, api: str) -> bool:
    """Whether ``model`` takes audio input on ``api``."""
    name = model.lower()
    if "realtime" in name:
        return False
    if "omni" in name:
        return api in ("chat", "dashscope")
    return api == "dashscope" and bool(re.search(r"qwen\d*(\.\d+)?-audio", name))


def family_of(model: str) -> Voices | None:
    name = model.lower()
    return next((v for v in VOICES if name.startswith(v.family)), None)


def default_voice(model: str) -> str:
    family = family_of(model)
    return family.voices[0] if family else DEFAULT_VOICE


def voices_table() -> list[list[str]]:
    """``%qwencmd voices``: one row per model family."""
    rows = [["models", "voices (the first is --speak's)", "source"]]
    rows += [[f"{v.family}*", ", ".join(v.voices), v.source] for v in VOICES]
    rows.append(
        [
            "other *omni* models",
            DEFAULT_VOICE,
            f"voices differ per model; the docs also name {', '.join(MENTIONED)}; any name "
            "is sent as given",
        ]
    )
    return rows


def check_voice(request: Any) -> None:
    """Speech output and audio input the service would refuse, refused before sending.
    (``request``: a Request, duck-typed: ``request.py`` calls this.)"""
    if request.voice is not None:
        _check_speech(request)
    hearing = any(m.kind == "audio" for m in request.media)
    if hearing or any(has_audio(message) for message in request.history):
        _check_hearing(request, hearing)


def _check_speech(request: Any) -> None:
    model, voice = request.model, request.voice or ""
    if not voice.strip() or not re.fullmatch(r"[A-Za-z0-9_\-]{1,64}", voice):
        raise QwenUsageError(
            f"--voice {voice!r} is not a voice name: give one such as Cherry (`%qwencmd voices` "
            "lists them), or use --speak for the model's default voice."
        )
    if request.api != "chat":
        raise QwenUsageError(
            f"Speech output (--voice/--speak) comes only through the Chat Completions API; "
            f"--api {request.api} can't speak. Use --api chat (the default)."
        )
    if not request.stream:
        raise QwenUsageError(
            "--no-stream can't be combined with --voice/--speak: Qwen-Omni speaks only while "
            "streaming (the service refuses audio output without stream). Drop --no-stream."
        )
    checked = request.region is not None  # Model Studio or the emulator, not a server of yours
    if checked and not can_speak(model):
        raise QwenUsageError(
            f"{model} cannot speak: speech output needs a Qwen-Omni model, e.g. "
            f"`-m qwen3-omni-flash --voice Cherry` (`%qwencmd voices` lists the voices)."
        )
    if request.system and any(model.lower().startswith(m) for m in NO_SYSTEM_WITH_SPEECH):
        raise QwenUsageError(
            f"{model} takes no system message when it speaks (Model Studio's Qwen-Omni page): "
            "drop -s (or %config QwenMagics.system = None), or put the instruction in the "
            "prompt."
        )


def _check_hearing(request: Any, this_turn: bool) -> None:
    api, model = request.api, request.model
    where = "-a/--audio" if this_turn else "this chat's earlier audio"
    if api == "responses":
        raise QwenUsageError(
            f"The Responses API takes no audio ({where}): use --api chat with a Qwen-Omni model "
            "(e.g. -m qwen3-omni-flash)."
        )
    if request.region is not None and not hears(model, api):
        hint = "e.g. -m qwen3-omni-flash"
        if "audio" in model.lower() and api == "chat":
            hint = "Qwen-Audio models are served only by the native API: add --api dashscope"
        raise QwenUsageError(
            f"{model} does not take audio ({where}) on --api {api}: use a Qwen-Omni model ({hint})."
        )


def has_audio(message: Any) -> bool:
    content = message.get("content") if isinstance(message, dict) else None
    return isinstance(content, list) and any(
        isinstance(p, dict) and p.get("type") == "input_audio" for p in content
    )
