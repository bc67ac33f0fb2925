"""Images and video for a prompt: what the user names → checked, encoded ``Media``.

Sources (``-i/--image``, ``--video``, or ``{name}`` in the prompt): a local path, a glob, an
http(s) URL, or a variable holding a PIL image, a numpy array, ``bytes``, a ``pathlib.Path`` or
a list of these. Local and in-memory media travel inline as base64 data URLs (no upload, so
no second endpoint and no 48-hour temporary URLs); URLs pass through as URLs. Every problem
is a ``UsageError`` naming the source, raised before any request.

This module is light (``request.py`` imports it): the ``Media`` record and its content parts,
the checks that depend on the model and the API, and the elision of base64 in reprs. Loading
is ``sources.load_media`` and Pillow work is in ``imaging.py``, both imported only when a
prompt carries media; numpy is imported only to convert an array the user passed.
"""

from __future__ import annotations

import base64
import re
import sys
from dataclasses import dataclass, fields
from typing import Any

from qwen_magic.errors import QwenUsageError

DATA_URI_LIMIT = 10_485_760  # the service's limit per data URI, after base64 (error-code doc)
VIDEO_FILE_LIMIT = DATA_URI_LIMIT * 3 // 4  # a video file sent inline: read no more than this
IMAGE_FILE_LIMIT = 50 * 1_048_576  # an image file is read up to this, then fitted to the limit
MAX_IMAGES = 50  # per prompt; ours, to keep a request (and its bill) sane
FRAMES_MIN = 4  # a video given as frames: 4…512 (Qwen3-VL, Qwen2.5-VL) or 4…80 (others)
FRAMES_MAX_VL = 512
FRAMES_MAX = 80
_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM", b"II*\x00")


@dataclass(repr=False, eq=False)
class Media:
    """One image or video as it will be sent, and how to show it."""

    kind: str  # "image", "video" or "audio"
    source: str  # how the user named it: "photo.jpg", "{fig}", "{frames}[2]", a URL
    url: str | None = None  # an image or a video file: an http(s) URL or a data URL
    frames: list[str] | None = None  # a video given as frames (URLs or data URLs)
    thumbnail: bytes | None = None  # JPEG ≤ 128 px; None for a URL or a video file
    thumbnail_size: tuple[int, int] | None = None
    size: tuple[int, int] | None = None  # pixels sent (of the first frame, for frames)
    resized_from: tuple[int, int] | None = None  # when downscaled to fit
    nbytes: int = 0  # bytes of the file sent inline (0 for a URL)
    at: int | None = None  # where a {name} in the prompt put it (None: before the text)
    audio_format: str | None = None  # audio: "wav", "mp3", … (the input_audio part's format)
    duration: float | None = None  # audio: seconds, when known (a WAV file)

    @property
    def is_remote(self) -> bool:
        return self.url is not None and self.url.startswith(("http://", "https://"))

    @property
    def thumbnail_url(self) -> str | None:
        if self.thumbnail is None:
            return None
        return "data:image/jpeg;base64," + base64.b64encode(self.thumbnail).decode("ascii")

    def chat_part(self) -> dict[str, Any]:
        """The OpenAI-compatible content part (docs/wire.md §2.2)."""
        if self.frames is not None:
            return {"type": "video", "video": list(self.frames)}
        if self.kind == "audio":
            part = {"data": self.url, "format": self.audio_format or "wav"}
            return {"type": "input_audio", "input_audio": part}
        if self.kind == "video":
            return {"type": "video_url", "video_url": {"url": self.url}}
        return {"type": "image_url", "image_url": {"url": self.url}}

    def describe(self) -> str:
        """``photo.jpg · 640×480``, ``{clip} · 12 frames``, ``talk.mp4 · video 2.1 MB``."""
        bits = [self.source]
        if self.frames is not None:
            bits.append(f"{len(self.frames)} frames")
        elif self.kind == "video":
            bits.append(f"video {megabytes(self.nbytes)}" if self.nbytes else "video")
        elif self.kind == "audio":
            bits.append(f"{self.audio_format or 'audio'} audio")
            if self.duration is not None:
                bits.append(f"{self.duration:.1f} s")
            elif self.nbytes:
                bits.append(megabytes(self.nbytes))
        if self.size and self.frames is None:
            size = f"{self.size[0]}×{self.size[1]}"
            if self.resized_from:
                size += f" (from {self.resized_from[0]}×{self.resized_from[1]})"
            bits.append(size)
        return " · ".join(bits)

    def __repr__(self) -> str:
        return f"<{self.kind} {self.describe()}>"


def is_inline_image(value: Any) -> bool:
    """Whether a ``{name}`` in the prompt is sent as an image rather than as text.

    A PIL image, an RGB/RGBA numpy array (H×W×3 or H×W×4, uint8 or floats in [0, 1], as
    ``plt.imread`` gives), bytes of an image file, or a non-empty list of PIL images. Other arrays
    (a 2-D matrix is more often data than a picture) and paths stay text; ``-i {name}`` sends
    them as images.
    """
    if is_pil(value):
        return True
    if is_array(value):
        shape = value.shape
        if len(shape) != 3 or shape[2] not in (3, 4) or min(shape[:2]) < 2:
            return False
        if value.dtype.kind == "f":
            return bool(value.min() >= 0 and value.max() <= 1)
        return str(value.dtype) == "uint8"
    if isinstance(value, (bytes, bytearray)):
        return bytes(value[:12]).startswith(_IMAGE_MAGIC) or _is_webp(bytes(value[:12]))
    if isinstance(value, list) and value:
        return all(is_pil(item) for item in value)
    return False


# -- checks that depend on the model and the API (Request.validate) ---------------------------
def frame_limit(model: str) -> int:
    """4…512 frames for Qwen3-VL and Qwen2.5-VL models, 4…80 for others (error-code doc)."""
    return FRAMES_MAX_VL if re.search(r"qwen3-vl|qwen2\.5-vl", model.lower()) else FRAMES_MAX


def check_media(media: list[Media], *, model: str, api: str, history: list[Any]) -> None:
    images = [m for m in media if m.kind == "image"]
    if len(images) > MAX_IMAGES:
        raise QwenUsageError(
            f"{len(images)} images in one prompt is too many (at most {MAX_IMAGES}): send fewer, "
            "or, if they are a sequence, send them as one video with --video {name}."
        )
    limit = frame_limit(model)
    for item in media:
        if item.frames is not None and not FRAMES_MIN <= len(item.frames) <= limit:
            raise frame_count_error(f"--video {item.source}", len(item.frames), limit, model)
    if api == "responses" and (
        any(m.kind == "video" for m in media) or any(_has_video(m) for m in history)
    ):
        raise QwenUsageError(
            "The Responses API takes no video (its input parts are text, images and files): "
            "use --api chat or --api dashscope for video."
        )


MEDIA_PART_TYPES = ("image_url", "video_url", "video", "input_image", "input_audio")


def has_media_parts(messages: list[Any]) -> bool:
    """Whether any message carries an image or a video part (e.g. an earlier chat turn)."""
    return any(
        isinstance(m, dict)
        and isinstance(m.get("content"), list)
        and any(isinstance(p, dict) and p.get("type") in MEDIA_PART_TYPES for p in m["content"])
        for m in messages
    )


def _has_video(message: Any) -> bool:
    content = message.get("content") if isinstance(message, dict) else None
    return isinstance(content, list) and any(
        isinstance(p, dict) and p.get("type") in ("video", "video_url") for p in content
    )


def frame_count_error(where: str, count: int, limit: int, model: str) -> QwenUsageError:
    who = f"{model} takes" if model else "the service takes"
    if count < FRAMES_MIN:
        return usage_error(
            where,
            f"has {count} frame{'s' if count != 1 else ''}",
            f"a video needs at least {FRAMES_MIN}; for single pictures use -i.",
        )
    return usage_error(
        where,
        f"has {count} frames; {who} {FRAMES_MIN} to {limit} frames per video (Qwen3-VL and "
        f"Qwen2.5-VL models up to {FRAMES_MAX_VL}, others up to {FRAMES_MAX})",
        f"keep every k-th frame, e.g. {{frames[::{-(-count // limit)}]}}.",
    )


# -- shared helpers ---------------------------------------------------------------------------
def usage_error(where: str, problem: str, fix: str) -> QwenUsageError:
    return QwenUsageError(f"{where} {problem}{': ' + fix if fix else '.'}")


def is_pil(value: Any) -> bool:
    """A PIL image, without importing Pillow: if it isn't loaded, no value can be one."""
    module = sys.modules.get("PIL.Image")
    return module is not None and isinstance(value, module.Image)


def is_array(value: Any) -> bool:
    """A numpy array, without importing numpy."""
    numpy = sys.modules.get("numpy")
    return numpy is not None and isinstance(value, numpy.ndarray)


def _is_webp(head: bytes) -> bool:
    return head.startswith(b"RIFF") and head[8:12] == b"WEBP"


def megabytes(count: int) -> str:
    from qwen_magic.files import size_text

    return size_text(count)


# -- elision: base64 never shows in Result.messages or a repr ---------------------------------
def elide(value: Any) -> Any:
    """``value`` with every base64 data URL cut to its header and size; the same object when it
    holds none (cheap to call on every refresh)."""
    if isinstance(value, str):
        if value.startswith("data:") and ";base64," in value[:200]:
            head = value[: value.index(",") + 1]
            return f"{head}…({megabytes((len(value) - len(head)) * 3 // 4)})"
        return value
    if isinstance(value, dict):
        new = {key: elide(item) for key, item in value.items()}
        return value if all(new[k] is value[k] for k in value) else new
    if isinstance(value, (list, tuple)):
        items = [elide(item) for item in value]
        if all(a is b for a, b in zip(items, value, strict=True)):
            return value
        return type(value)(items) if isinstance(value, list) else tuple(items)
    return value


def elided_repr(obj: Any) -> str:
    """A dataclass's repr with base64 payloads elided."""
    shown = (f"{f.name}={elide(getattr(obj, f.name))!r}" for f in fields(obj) if f.repr)
    return f"{type(obj).__name__}({', '.join(shown)})"
