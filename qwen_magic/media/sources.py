"""Sources → ``Media``: resolve paths, globs, URLs and ``{name}`` values; decode, check and
encode them (Pillow, through ``imaging.py``). Every problem is a ``UsageError`` naming the
source and saying what to do, raised before any request.
"""

from __future__ import annotations

import ast
import base64
import binascii
import glob
import os
import re
from pathlib import Path
from typing import Any

from qwen_magic.errors import QwenUsageError
from qwen_magic.files import FileProblem, FileTooBig, read_limited, size_text
from qwen_magic.media import (
    DATA_URI_LIMIT,
    FRAMES_MAX_VL,
    FRAMES_MIN,
    IMAGE_FILE_LIMIT,
    VIDEO_FILE_LIMIT,
    Media,
    frame_count_error,
    imaging,
    is_array,
    is_pil,
    megabytes,
    usage_error,
)

FRAME_SIDE = 1024  # the service samples video frames far below this
VIDEO_TYPES = {
    ".mp4": "video/mp4",
    ".mov": "video/quicktime",
    ".avi": "video/x-msvideo",
    ".mkv": "video/x-matroska",
    ".flv": "video/x-flv",
    ".wmv": "video/x-ms-wmv",
}
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".jpe", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"}
IMAGE_KINDS = (
    "a PIL image, a numpy array (H×W, H×W×3 or H×W×4), bytes of an image file, a path, "
    "an http(s) URL, or a list of these"
)
_GLOB = re.compile(r"[*?[]")


# -- images -----------------------------------------------------------------------------------
def load_media(
    images: list[str],
    videos: list[str],
    inline: list[tuple[int, str, Any]],
    namespace: dict[str, Any],
    calls: bool = False,
) -> list[Media]:
    """Every ``-i``, ``--video`` and image-valued ``{name}`` of one call, in that order.
    ``calls``: a ``{expr}`` source may run code (the interpolation opt-in)."""
    media: list[Media] = []
    for source in images:
        media.extend(_images(source, namespace, calls))
    for source in videos:
        media.extend(_videos(source, namespace, calls))
    for at, source, value in inline:
        for item in _images_of_value(value, source, f"{source} in the prompt"):
            item.at = at
            media.append(item)
    return media


def _images(source: str, namespace: dict[str, Any], calls: bool) -> list[Media]:
    source = source.strip()
    where = f"-i {source}"
    if _is_reference(source):
        return _images_of_value(_evaluate(source, namespace, where, calls), source, where)
    return _images_of_text(source, source, where)


def _images_of_text(text: str, label: str, where: str) -> list[Media]:
    if text.startswith(("http://", "https://")):
        return [Media("image", label, url=text)]
    if text.startswith("data:"):
        return [_image_of_bytes(_data_url_bytes(text, where), label, where)]
    paths = _expand(text, where)
    return [_image_of_path(path, str(path) if len(paths) > 1 else label, where) for path in paths]


def _images_of_value(value: Any, label: str, where: str) -> list[Media]:
    if isinstance(value, (list, tuple)):
        if not value:
            raise usage_error(where, "is an empty list", f"give at least one image: {IMAGE_KINDS}.")
        out: list[Media] = []
        for index, item in enumerate(value):
            out.extend(_images_of_value(item, f"{label}[{index}]", f"{where}[{index}]"))
        return out
    if isinstance(value, str):
        return _images_of_text(value, value, where)
    if isinstance(value, Path):
        return [_image_of_path(_existing(value.expanduser(), where), str(value), where)]
    if is_array(value) and len(getattr(value, "shape", ())) == 4:
        raise usage_error(
            where,
            f"is a stack of {value.shape[0]} frames (shape {value.shape})",
            "send it as a video with --video, or pick one frame, e.g. {name[0]}.",
        )
    return [_image_of_object(value, label, where)]


def _image_of_object(value: Any, label: str, where: str) -> Media:

    if isinstance(value, (bytes, bytearray, memoryview)):
        return _image_of_bytes(bytes(value), label, where)
    return _encoded_picture(value, label, where, "an image")


def _image_of_path(path: Path, label: str, where: str) -> Media:
    if path.suffix.lower() in VIDEO_TYPES:
        raise usage_error(where, "is a video", f"send it with --video {label}.")
    return _image_of_bytes(_read(path, where), label, where)


def _image_of_bytes(data: bytes, label: str, where: str, max_side: int | None = None) -> Media:

    try:
        image = imaging.open_bytes(data)
        return _encoded(image, data, label, max_side=max_side)
    except imaging.ImageProblem as problem:
        fix = "convert it to PNG or JPEG."
        if "corrupt" in str(problem):
            fix = "re-export or re-download it."
        elif "megapixels" in str(problem):
            fix = "downscale it first (e.g. to 4000 px on the long side)."
        raise usage_error(where, str(problem), fix) from None


def _encoded(image: Any, data: bytes | None, label: str, max_side: int | None = None) -> Media:

    encoded = imaging.for_service(image, data, max_side=max_side)
    thumb, thumb_size = imaging.thumbnail(image)
    return Media(
        "image",
        label,
        url=encoded.data_url,
        thumbnail=thumb,
        thumbnail_size=thumb_size,
        size=encoded.size,
        resized_from=encoded.resized_from,
        nbytes=len(encoded.data),
    )


# -- video -------------------------------------------------------------------------------------
def _videos(source: str, namespace: dict[str, Any], calls: bool) -> list[Media]:
    source = source.strip()
    where = f"--video {source}"
    if not _is_reference(source):
        return _videos_of_text(source, source, where)
    value = _evaluate(source, namespace, where, calls)
    if isinstance(value, (str, Path)):
        return _videos_of_text(str(value), str(value), where)
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        mime = _video_mime(data)
        if mime is None:
            raise usage_error(
                where,
                "is bytes that are not a video file (MP4, MOV, AVI, MKV, FLV or WMV)",
                "for a single picture use -i; a video of frames is a list of 4 or more images.",
            )
        return [_video_file(data, mime, source, where)]
    if is_array(value) and len(getattr(value, "shape", ())) == 4:
        value = list(value)
    if isinstance(value, (list, tuple)):
        return [_frames(list(value), source, where)]
    kind = "a single image" if is_pil(value) or is_array(value) else f"a {type(value).__name__}"
    raise usage_error(
        where,
        f"is {kind}",
        f"a video is a file, a URL, or at least {FRAMES_MIN} frames (a list of images, a "
        "T×H×W×C array, or a glob such as 'frames/*.jpg'); for one picture use -i.",
    )


def _videos_of_text(text: str, label: str, where: str) -> list[Media]:
    if text.startswith(("http://", "https://")):
        return [Media("video", label, url=text)]
    paths = _expand(text, where)
    if len(paths) == 1 and paths[0].is_dir():
        frames = _natural_sorted(p for p in paths[0].iterdir() if _is_image_file(p))
        if not frames:
            raise usage_error(
                where, "is a folder with no image files", "give a video file or frames."
            )
        return [_frames(frames, label, where)]
    videos = [p for p in paths if p.suffix.lower() in VIDEO_TYPES]
    if videos and len(videos) != len(paths):
        raise usage_error(where, "matched both videos and other files", "narrow the pattern.")
    if videos:
        return [_video_of_path(p, where) for p in videos]
    if len(paths) == 1:
        path = paths[0]
        if _is_image_file(path):
            raise usage_error(
                where,
                "is a single image",
                f"a video of frames needs at least {FRAMES_MIN} images (a glob such as "
                "'frames/*.jpg'); for one picture use -i.",
            )
        raise usage_error(
            where,
            f"is not a video format the service reads ({path.suffix or 'no extension'})",
            f"use {', '.join(s[1:].upper() for s in VIDEO_TYPES)}, or frames.",
        )
    return [_frames(list(paths), label, where)]


def _video_of_path(path: Path, where: str) -> Media:
    """A video file, refused from its size (``stat``) when it can't be sent: never read whole."""
    try:
        data = read_limited(path, VIDEO_FILE_LIMIT)
    except FileTooBig as exc:
        raise _video_too_big(where, exc.size) from None
    except FileProblem as problem:
        raise _unreadable(where, problem) from None
    return _video_file(data, VIDEO_TYPES[path.suffix.lower()], str(path), where)


def _video_file(data: bytes, mime: str, label: str, where: str) -> Media:
    url = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
    if len(url) > DATA_URI_LIMIT:
        raise _video_too_big(where, len(data))
    return Media("video", label, url=url, nbytes=len(data))


def _video_too_big(where: str, size: int) -> QwenUsageError:
    return usage_error(
        where,
        f"is {megabytes(size)}; sent inline a video may be at most about "
        f"{megabytes(VIDEO_FILE_LIMIT - 64)} (10 MB after base64)",
        "trim or compress it, put it at an http(s) URL and pass that, or pass frames.",
    )


def _frames(items: list[Any], label: str, where: str) -> Media:
    if len(items) > FRAMES_MAX_VL:
        raise frame_count_error(where, len(items), FRAMES_MAX_VL, "")
    urls: list[str] = []
    first: Media | None = None
    for index, item in enumerate(items):
        frame_where = f"{where} frame {index}" if not isinstance(item, Path) else f"{where} {item}"
        if isinstance(item, str) and item.startswith(("http://", "https://")):
            urls.append(item)
            continue
        if isinstance(item, (str, Path)):
            path = _existing(Path(item).expanduser(), frame_where)
            frame = _image_of_bytes(_read(path, frame_where), str(item), frame_where, FRAME_SIDE)
        elif isinstance(item, (bytes, bytearray, memoryview)):
            frame = _image_of_bytes(bytes(item), label, frame_where, FRAME_SIDE)
        else:
            frame = _frame_of_object(item, label, frame_where)
        first = first or frame
        urls.append(frame.url or "")
    return Media(
        "video",
        label,
        frames=urls,
        thumbnail=first.thumbnail if first else None,
        thumbnail_size=first.thumbnail_size if first else None,
        size=first.size if first else None,
        nbytes=sum(len(u) for u in urls if u.startswith("data:")) * 3 // 4,
    )


def _frame_of_object(value: Any, label: str, where: str) -> Media:

    return _encoded_picture(value, label, where, "a frame", max_side=FRAME_SIDE)


def _encoded_picture(
    value: Any, label: str, where: str, what: str, max_side: int | None = None
) -> Media:
    """A PIL image or an array, encoded; or a UsageError naming ``where``."""
    try:
        if is_pil(value):
            image = value
        elif is_array(value):
            image = imaging.from_array(value)
        else:
            raise usage_error(where, f"is a {type(value).__name__}", f"{what} is {IMAGE_KINDS}.")
        return _encoded(image, None, label, max_side=max_side)
    except imaging.ImageProblem as problem:
        raise usage_error(where, str(problem), "") from None


def _video_mime(data: bytes) -> str | None:
    head = data[:16]
    if head[4:8] == b"ftyp":
        return "video/quicktime" if head[8:10] == b"qt" else "video/mp4"
    if head.startswith(b"RIFF") and head[8:11] == b"AVI":
        return "video/x-msvideo"
    if head.startswith(b"\x1aE\xdf\xa3"):
        return "video/x-matroska"
    if head.startswith(b"FLV"):
        return "video/x-flv"
    if head.startswith(b"0&\xb2u"):
        return "video/x-ms-wmv"
    return None


# -- helpers ----------------------------------------------------------------------------------
def _is_reference(source: str) -> bool:
    return len(source) > 2 and source.startswith("{") and source.endswith("}")


def _evaluate(source: str, namespace: dict[str, Any], where: str, calls: bool) -> Any:
    """``{expr}`` in ``-i``/``--video``: the prompt's rule (it reads data; with the opt-in it
    may run code, but never exit/quit)."""
    from qwen_magic.expressions import OPT_IN, may_run

    expression = source[1:-1].strip()
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError:
        raise usage_error(
            where, "is not a Python name or expression", "write e.g. {img}."
        ) from None
    if not may_run(tree, calls):
        if calls:
            raise usage_error(where, "calls exit() or quit()", "remove it.")
        raise usage_error(
            where,
            "runs code (a call or an operator) where a variable is read",
            f"assign it to a variable in a cell above and pass {{name}}, or {OPT_IN}.",
        )
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    missing = sorted(names - namespace.keys())
    if missing and not calls:  # data: the user's variables, not Python's builtins
        raise _undefined(where, missing[0])
    try:
        return eval(compile(tree, "<media>", "eval"), namespace)  # noqa: S307 - checked above
    except NameError as exc:
        raise _undefined(where, getattr(exc, "name", None) or expression) from None
    except (Exception, SystemExit) as exc:
        raise usage_error(
            where, f"could not be evaluated ({type(exc).__name__}: {exc})", ""
        ) from None


def _undefined(where: str, name: str) -> QwenUsageError:
    return usage_error(where, f"names {name!r}, which is not defined", "define it in a cell above.")


def _expand(text: str, where: str) -> list[Path]:
    """A path (``~`` and ``file://`` allowed) or a glob → existing paths, naturally sorted."""
    if text.startswith("file://"):
        text = text[len("file://") :]
    text = os.path.expanduser(text)
    if _GLOB.search(text) and not os.path.exists(text):
        matches = [Path(p) for p in glob.glob(text, recursive=True) if os.path.isfile(p)]
        if not matches:
            raise usage_error(
                where, f"matched no files (in {os.getcwd()})", "check the pattern and the folder."
            )
        return _natural_sorted(matches)
    return [_existing(Path(text), where)]


def _existing(path: Path, where: str) -> Path:
    if path.exists():
        if path.is_dir() and not where.startswith("--video"):
            raise usage_error(
                where, "is a folder", "give an image file, or a glob such as 'dir/*.png'."
            )
        return path
    place = "" if path.is_absolute() else f" (looked in {os.getcwd()})"
    raise usage_error(
        where, f"is not a file{place}", "check the name, or give an absolute path or a URL."
    )


def _read(path: Path, where: str) -> bytes:
    """An image file's bytes: a regular file of at most ``IMAGE_FILE_LIMIT``."""
    try:
        return read_limited(path, IMAGE_FILE_LIMIT)
    except FileTooBig as exc:
        raise usage_error(
            where,
            f"is {size_text(exc.size)}; image files are read up to {size_text(exc.limit)}",
            "downscale or compress it (e.g. save it as JPEG) and try again.",
        ) from None
    except FileProblem as problem:
        raise _unreadable(where, problem) from None


def _unreadable(where: str, problem: FileProblem) -> QwenUsageError:
    if "could not be read" in str(problem):
        return usage_error(where, str(problem), "check its permissions.")
    return usage_error(where, str(problem), "give a file saved on disk.")


def _natural_sorted(paths: Any) -> list[Path]:
    """``frame2`` before ``frame10``."""

    def key(path: Path) -> list[Any]:
        pieces = re.split(r"(\d+)", str(path))
        return [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in pieces]

    return sorted(paths, key=key)


def _is_image_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES


def _data_url_bytes(url: str, where: str) -> bytes:
    head, _, payload = url.partition(",")
    if not head.endswith(";base64"):
        raise usage_error(
            where, "is a data URL without base64", "the service needs base64 data URLs."
        )
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise usage_error(where, "is a data URL whose base64 is broken", "re-encode it.") from None
