"""Speech in a Chat Completions stream (``--voice``): the request's switches and the fold of
``delta.audio``.

The service sends the speech as base64 16-bit mono PCM in ``choices[0].delta.audio["data"]``
(docs/wire.md §12); the openai SDK types it as ``ChoiceDeltaAudio`` (or leaves a dict in the
delta's extra fields, for an SDK without that type), and both are read here. The answer's text
comes in ``delta.content``; older Qwen-Omni streams put it in ``audio.transcript`` instead,
which is then taken as the text (whichever of the two arrives first is the text of the stream).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from typing import Any

from qwen_magic.events import AudioDelta, Event, TextDelta
from qwen_magic.providers.wire import BadReply, describe
from qwen_magic.request import Request


def speech_arguments(request: Request) -> dict[str, Any]:
    """``modalities`` and ``audio`` for a spoken answer (WAV is the one format offered)."""
    if request.voice is None:
        return {}
    return {"modalities": ["text", "audio"], "audio": {"voice": request.voice, "format": "wav"}}


def _part(obj: Any, name: str) -> Any:
    if isinstance(obj, dict):
        return obj.get(name)
    value = getattr(obj, name, None)
    if value is None:
        extra = getattr(obj, "model_extra", None) or {}
        value = extra.get(name)
    return value


class SpeechFold:
    """The speech of one stream, and which field carries its text."""

    def __init__(self) -> None:
        self.text_from: str | None = None  # "content" or "transcript", once one arrived

    def takes_content(self) -> bool:
        """``delta.content`` arrived: whether it is the text (not when transcripts are)."""
        self.text_from = self.text_from or "content"
        return self.text_from == "content"

    def feed(self, message: Any, where: str) -> Iterator[Event]:
        audio = _part(message, "audio")
        if audio is None:
            return
        if isinstance(audio, str | int | float | list):
            raise BadReply(f"{where}.audio is {describe(audio)}, not an object")
        data = _part(audio, "data")
        transcript = _part(audio, "transcript")
        if transcript is not None and not isinstance(transcript, str):
            raise BadReply(f"{where}.audio.transcript is {describe(transcript)}, not text")
        if data:
            if not isinstance(data, str):
                raise BadReply(f"{where}.audio.data is {describe(data)}, not base64 text")
            try:
                pcm = base64.b64decode(data, validate=True)
            except (binascii.Error, ValueError):
                raise BadReply(f"{where}.audio.data is not valid base64") from None
            yield AudioDelta(pcm, transcript or "")
        elif transcript:
            yield AudioDelta(b"", transcript)
        if transcript and self.text_from != "content":
            self.text_from = "transcript"
            yield TextDelta(transcript)
