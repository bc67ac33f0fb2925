"""``-a/--audio`` sources → audio ``Media``: a path or glob (WAV, MP3, M4A, FLAC, OGG, AAC,
AMR…), an http(s) URL, a data URL, or ``{name}`` holding bytes of an audio file, ``(samples,
rate)`` (a numpy array or a list of samples, and its sample rate), an
``IPython.display.Audio``, a path or a list of these. Local and in-memory audio goes inline as a
base64 data URL (the service takes at most 10 MB per item after base64); a URL goes as it is.
Every problem is a ``UsageError`` naming the source, raised before any request.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from qwen_magic.audio import Audio, pcm_of_array, wav_info
from qwen_magic.files import FileProblem, FileTooBig, read_limited
from qwen_magic.media import DATA_URI_LIMIT, Media, is_array, megabytes, usage_error

AUDIO_FILE_LIMIT = DATA_URI_LIMIT * 3 // 4 - 64  # a file sent inline: its data URL fits 10 MB
AUDIO_TYPES = {  # suffix → (the input_audio part's format, the data URL's MIME type)
    ".wav": ("wav", "audio/wav"),
    ".mp3": ("mp3", "audio/mpeg"),
    ".m4a": ("m4a", "audio/mp4"),
    ".aac": ("aac", "audio/aac"),
    ".flac": ("flac", "audio/flac"),
    ".ogg": ("ogg", "audio/ogg"),
    ".opus": ("opus", "audio/ogg"),
    ".amr": ("amr", "audio/amr"),
    ".webm": ("webm", "audio/webm"),
    ".3gp": ("3gp", "audio/3gpp"),
}
KINDS = (
    "a path, an http(s) URL, bytes of an audio file, (samples, rate) such as (array, 16000), "
    "an IPython.display.Audio, or a list of these"
)


def load_audio(sources: list[str], namespace: dict[str, Any], calls: bool = False) -> list[Media]:
    """Every ``-a`` of one call, in order."""
    from qwen_magic.media.sources import _evaluate, _is_reference

    media: list[Media] = []
    for source in sources:
        source = source.strip()
        where = f"-a {source}"
        if _is_reference(source):
            value = _evaluate(source, namespace, where, calls)
            media.extend(_of_value(value, source, where))
        else:
            media.extend(_of_text(source, source, where))
    return media


def _of_text(text: str, label: str, where: str) -> list[Media]:
    from qwen_magic.media.sources import _data_url_bytes, _expand

    if text.startswith(("http://", "https://")):
        suffix = Path(text.split("?", 1)[0].split("#", 1)[0]).suffix.lower()
        fmt = AUDIO_TYPES.get(suffix, ("mp3" if suffix == ".mpga" else "wav", ""))[0]
        return [Media("audio", label, url=text, audio_format=fmt)]
    if text.startswith("data:"):
        return [_of_bytes(_data_url_bytes(text, where), label, where)]
    paths = _expand(text, where)
    return [_of_path(path, str(path) if len(paths) > 1 else label, where) for path in paths]


def _of_path(path: Path, label: str, where: str) -> Media:
    kind = AUDIO_TYPES.get(path.suffix.lower())
    if kind is None:
        raise usage_error(
            where,
            f"is not an audio file the service reads ({path.suffix or 'no extension'})",
            f"use {', '.join(s[1:].upper() for s in AUDIO_TYPES)}.",
        )
    try:
        data = read_limited(path, AUDIO_FILE_LIMIT)
    except FileTooBig as exc:
        raise _too_big(where, exc.size) from None
    except FileProblem as problem:
        raise usage_error(where, str(problem), "give an audio file saved on disk.") from None
    return _media(data, kind[0], kind[1], label, where)


def _of_value(value: Any, label: str, where: str) -> list[Media]:
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], int):
        return [_of_samples(value[0], value[1], label, where)]
    if isinstance(value, (list, tuple)):
        if not value:
            raise usage_error(where, "is an empty list", f"give {KINDS}.")
        out: list[Media] = []
        for index, item in enumerate(value):
            out.extend(_of_value(item, f"{label}[{index}]", f"{where}[{index}]"))
        return out
    if isinstance(value, (bytes, bytearray, memoryview)):
        return [_of_bytes(bytes(value), label, where)]
    if isinstance(value, (str, Path)):
        return _of_text(str(value), str(value), where)
    if _is_ipython_audio(value):
        if value.data:
            return [_of_bytes(bytes(value.data), label, where)]
        return _of_text(str(value.url or value.filename), label, where)
    if isinstance(value, Audio):  # a spoken answer (_qwen.audio) sent back
        return [_media(value.wav_bytes, "wav", "audio/wav", label, where)]
    if is_array(value):
        raise usage_error(
            where,
            "is an array of samples without its sample rate",
            "pass (samples, rate), e.g. -a {(clip, 16000)} with --eval, or keep the pair in a "
            "variable: sound = (clip, 16000), then -a {sound}.",
        )
    raise usage_error(where, f"is a {type(value).__name__}", f"audio is {KINDS}.")


def _of_samples(samples: Any, rate: int, label: str, where: str) -> Media:
    if not 1_000 <= rate <= 384_000:
        raise usage_error(where, f"gives the sample rate {rate}", "give it in Hz, e.g. 16000.")
    try:
        pcm, channels = pcm_of_array(samples)
    except ImportError:
        raise usage_error(where, "needs numpy to read samples", "pip install numpy.") from None
    except ValueError as problem:
        raise usage_error(where, str(problem), "give 1-D samples (or frames × channels).") from None
    sound = Audio(pcm, rate, 2, channels)
    return _media(sound.wav_bytes, "wav", "audio/wav", label, where)


def _of_bytes(data: bytes, label: str, where: str) -> Media:
    kind = sniff(data)
    if kind is None:
        raise usage_error(
            where,
            "is bytes that are not an audio file this can recognise (WAV, MP3, FLAC, OGG, M4A, "
            "AMR)",
            "pass the file's path instead, or (samples, rate) for raw samples.",
        )
    if len(data) > AUDIO_FILE_LIMIT:
        raise _too_big(where, len(data))
    return _media(data, kind[0], kind[1], label, where)


def _media(data: bytes, fmt: str, mime: str, label: str, where: str) -> Media:
    url = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
    if len(url) > DATA_URI_LIMIT:
        raise _too_big(where, len(data))
    duration = None
    info = wav_info(data) if fmt == "wav" else None
    if info is not None and info[0]:
        duration = info[3] / info[0]
    return Media("audio", label, url=url, nbytes=len(data), audio_format=fmt, duration=duration)


def sniff(data: bytes) -> tuple[str, str] | None:
    """(format, MIME type) of an audio file from its first bytes."""
    head = data[:16]
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return AUDIO_TYPES[".wav"]
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        if len(head) > 1 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0:
            return AUDIO_TYPES[".aac"]  # ADTS
        return AUDIO_TYPES[".mp3"]
    if head.startswith(b"fLaC"):
        return AUDIO_TYPES[".flac"]
    if head.startswith(b"OggS"):
        return AUDIO_TYPES[".ogg"]
    if head[4:8] == b"ftyp":
        return AUDIO_TYPES[".m4a"]
    if head.startswith(b"#!AMR"):
        return AUDIO_TYPES[".amr"]
    if head.startswith(b"\x1aE\xdf\xa3"):
        return AUDIO_TYPES[".webm"]
    return None


def _is_ipython_audio(value: Any) -> bool:
    import sys

    module = sys.modules.get("IPython.lib.display")
    kind = getattr(module, "Audio", None) if module is not None else None
    return kind is not None and isinstance(value, kind)


def _too_big(where: str, size: int) -> Any:
    return usage_error(
        where,
        f"is {megabytes(size)}; sent inline audio may be at most about "
        f"{megabytes(AUDIO_FILE_LIMIT)} (10 MB after base64)",
        "trim or compress it (e.g. to MP3), or put it at an http(s) URL and pass that.",
    )
