"""Qwen-Omni's speech and hearing in the emulator (docs/wire.md §12).

A request whose ``modalities`` include ``"audio"`` gets, after each piece of the answer, a
chunk whose ``delta.audio.data`` is base64 16-bit mono PCM at 24 kHz: a 440 Hz tone (phase
continuous across chunks), ``SAMPLES_PER_CHARACTER`` samples per character of the piece, so a
test knows the speech's exact length from the text. ``input_audio`` parts are checked as the
service would (a URL or a base64 data URL, a format) and counted; the default answer says how
many clips it heard.
"""

from __future__ import annotations

import base64
import binascii
import math
import struct
from typing import Any

from qwen_magic.emulator.faults import ApiError, dumps, invalid_parameter

RATE = 24_000
TONE_HZ = 440.0
AMPLITUDE = 8_000
SAMPLES_PER_CHARACTER = 1_200  # 50 ms of speech per character of the answer
AUDIO_ONLY_STREAM = "'audio' output only support with stream=true"


def speech_asked(body: dict[str, Any], model: str, stream: bool) -> str | None:
    """The voice asked for (None: text only), or the service's 400 for a request it refuses."""
    modalities = body.get("modalities")
    if modalities is None:
        return None
    if not isinstance(modalities, list) or not all(m in ("text", "audio") for m in modalities):
        raise invalid_parameter(f"Invalid modalities: {modalities!r}", param="modalities")
    if "audio" not in modalities:
        return None
    if "omni" not in model.lower():
        raise invalid_parameter(f"The model {model} does not support audio output.")
    if not stream:
        raise ApiError(500, "InternalError", AUDIO_ONLY_STREAM)
    audio = body.get("audio")
    voice = audio.get("voice") if isinstance(audio, dict) else None
    if not isinstance(voice, str) or not voice:
        raise invalid_parameter("audio.voice is required when modalities include audio")
    if audio.get("format", "wav") != "wav":  # type: ignore[union-attr]
        raise invalid_parameter("audio.format only supports wav", param="audio.format")
    if model.lower().startswith(("qwen-omni-turbo", "qwen2.5-omni")) and any(
        isinstance(m, dict) and m.get("role") == "system" for m in body.get("messages") or []
    ):
        raise invalid_parameter("System message is not supported when audio output is enabled.")
    return voice


def heard_clips(messages: list[Any]) -> int:
    """The ``input_audio`` parts of the request, each checked (a 400 for a malformed one)."""
    count = 0
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, list):
            continue
        for part in content:
            if isinstance(part, dict) and part.get("type") == "input_audio":
                _check_part(part)
                count += 1
    return count


def _check_part(part: dict[str, Any]) -> None:
    audio = part.get("input_audio")
    if not isinstance(audio, dict):
        raise invalid_parameter("input_audio must be an object with data and format")
    data, fmt = audio.get("data"), audio.get("format")
    if not isinstance(data, str) or not data:
        raise invalid_parameter("input_audio.data must be a URL or a base64 data URL")
    if fmt is not None and not isinstance(fmt, str):
        raise invalid_parameter("input_audio.format must be a string")
    if data.startswith(("http://", "https://")):
        return
    head, comma, payload = data.partition(",")
    if not (data.startswith("data:") and comma and head.endswith(";base64")):
        raise invalid_parameter(
            "The audio data must be a public URL or a Base64 data URL (data:;base64,...)."
        )
    try:
        base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise invalid_parameter("The Base64 audio data is invalid.") from None


def tone(start: int, count: int) -> bytes:
    """``count`` samples of the tone from sample number ``start`` (16-bit little-endian)."""
    step = 2 * math.pi * TONE_HZ / RATE
    return struct.pack(
        f"<{count}h", *(int(AMPLITUDE * math.sin(step * (start + i))) for i in range(count))
    )


def with_speech(
    frames: list[bytes], plan: Any, completion_id: str, created: int, voice: str | None
) -> list[bytes]:
    """``frames`` with a speech chunk after each piece of the answer (unchanged without a
    voice). Answer frames follow the opening frame and the reasoning frames (``compat.chunks``)."""
    if voice is None:
        return frames
    first = 1 + (len(plan.reasoning_pieces) if plan.thinking else 0)
    out = list(frames[:first])
    start = 0
    for index, piece in enumerate(plan.answer_pieces):
        out.append(frames[first + index])
        count = SAMPLES_PER_CHARACTER * len(piece)
        data = base64.b64encode(tone(start, count)).decode("ascii")
        start += count
        delta = {"content": None, "audio": {"data": data}}
        body = {
            "choices": [{"delta": delta, "index": 0, "logprobs": None, "finish_reason": None}],
            "object": "chat.completion.chunk",
            "usage": None,
            "created": created,
            "system_fingerprint": None,
            "model": plan.model,
            "id": completion_id,
        }
        out.append(f"data: {dumps(body)}\n\n".encode())
    out.extend(frames[first + len(plan.answer_pieces) :])
    return out


def heard_note(plan: Any, clips: int) -> None:
    """The default answer says what it heard: `` (heard 1 audio clip)``."""
    if clips:
        plan.answer_pieces.append(f" (heard {clips} audio clip{'s' if clips != 1 else ''})")
