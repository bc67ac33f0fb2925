"""Pillow work for ``media.py``: decode, orient, fit the service's limits, thumbnails.

Imported only when a prompt carries media, so ``%load_ext qwen_magic`` never loads Pillow;
numpy is imported only to convert an array the user passed.
"""

from __future__ import annotations

import base64
import io
import math
import warnings
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError

# Formats the service reads as they are (vision docs: BMP, JPEG, PNG, TIFF, WEBP); anything
# else Pillow can open (GIF, ICO, PPM...) is converted.
SERVICE_FORMATS = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "BMP": "image/bmp",
    "TIFF": "image/tiff",
}
RAW_LIMIT = 7 * 1024 * 1024  # the docs' advice for base64: 7 MB raw stays under 10 MB encoded
MIN_SIDE = 11  # the service wants more than 10 px a side; smaller is upscaled (nearest)
MAX_ASPECT = 200  # the service refuses images longer than 200:1
THUMB_SIDE = 128
THUMB_BUDGET = 6000  # base64 characters per thumbnail in the saved notebook
# Pixels decoded from a file at most (8000×8000): below Pillow's decompression-bomb warning
# (~89 M), and what the service could use anyway (it downscales far below this).
MAX_PIXELS = 64_000_000
DECODED_FROM = "qwen_magic.decoded_from"  # image.info key: the file's size before draft()


class ImageProblem(Exception):
    """Why an image can't be used, in words for the user (``media.py`` adds which one)."""


@dataclass
class Encoded:
    """An image ready to send: the bytes, their MIME type and the pixel size sent."""

    data: bytes
    mime: str
    size: tuple[int, int]
    resized_from: tuple[int, int] | None = None

    @property
    def data_url(self) -> str:
        return f"data:{self.mime};base64,{base64.b64encode(self.data).decode('ascii')}"


def open_bytes(data: bytes) -> Image.Image:
    """Decode an image file's bytes completely (a truncated or corrupt file fails here).

    The size is checked from the header before any pixel is decoded: at most ``MAX_PIXELS``
    (a JPEG over it is decoded at 1/2, 1/4 or 1/8 scale instead). Pillow's own
    decompression-bomb warning sits higher and is a process-wide setting we leave alone.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # refused below
            image = Image.open(io.BytesIO(data))
        full = image.size
        if _pixels(full) > MAX_PIXELS and image.format == "JPEG":
            image.draft(image.mode, _draft_size(full))
        if _pixels(image.size) > MAX_PIXELS:
            raise _too_many_pixels(full)
        image.load()
    except UnidentifiedImageError:
        raise ImageProblem("is not an image Pillow can read") from None
    except Image.DecompressionBombError:
        raise ImageProblem(
            f"has far more pixels than can be decoded safely (at most {MAX_PIXELS // 10**6} "
            "megapixels)"
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageProblem(
            f"could not be decoded ({exc}); the file looks truncated or corrupt"
        ) from None
    if image.size != full:
        image.info[DECODED_FROM] = full  # for_service reports the size the file had
    return image


def _pixels(size: tuple[int, int]) -> int:
    return size[0] * size[1]


def _draft_size(size: tuple[int, int]) -> tuple[int, int]:
    """The size to ask ``draft`` for: the mildest JPEG scale (1/2, 1/4, 1/8) under the cap."""
    width, height = size
    for scale in (2, 4, 8):
        if math.ceil(width / scale) * math.ceil(height / scale) <= MAX_PIXELS:
            break
    return max(1, width // scale), max(1, height // scale)


def _too_many_pixels(size: tuple[int, int]) -> ImageProblem:
    width, height = size
    return ImageProblem(
        f"is {width}×{height} px ({_pixels(size) / 10**6:.0f} megapixels); images are decoded "
        f"up to {MAX_PIXELS // 10**6} megapixels"
    )


def from_array(array: Any) -> Image.Image:
    """A numpy array H×W, H×W×1, H×W×3 or H×W×4; uint8, bool, integers in 0–255 or floats in
    [0, 1]."""
    import numpy as np

    a = np.asarray(array)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)):
        hint = ""
        if a.ndim == 3 and a.shape[0] in (1, 3, 4):
            hint = " (channels first? use arr.transpose(1, 2, 0))"
        raise ImageProblem(
            f"is an array of shape {a.shape}; an image is H×W, H×W×3 (RGB) or H×W×4 (RGBA){hint}"
        )
    if a.size == 0:
        raise ImageProblem(f"is an empty array of shape {a.shape}")
    if a.dtype == np.uint8:
        pass
    elif a.dtype.kind == "b":
        a = a.astype(np.uint8) * 255
    elif a.dtype.kind == "f":
        if not np.isfinite(a).all() or a.min() < 0 or a.max() > 1:
            raise ImageProblem(
                f"is a float array with values in [{a.min():g}, {a.max():g}]; float images must "
                "be in [0, 1] (divide by 255?) or use uint8"
            )
        a = np.rint(a * 255).astype(np.uint8)
    elif a.dtype.kind in "iu" and a.min() >= 0 and a.max() <= 255:
        a = a.astype(np.uint8)
    else:
        raise ImageProblem(f"has dtype {a.dtype}; use uint8 (0–255) or floats in [0, 1]")
    return Image.fromarray(np.ascontiguousarray(a))


def oriented(image: Image.Image) -> tuple[Image.Image, bool]:
    """The image as it should be seen (EXIF orientation applied) and whether that changed it."""
    orientation = image.getexif().get(0x0112, 1) if hasattr(image, "getexif") else 1
    if orientation in (None, 1):
        return image, False
    return ImageOps.exif_transpose(image), True


def for_service(
    image: Image.Image,
    original: bytes | None = None,
    *,
    max_bytes: int | None = None,
    max_side: int | None = None,
) -> Encoded:
    """Encode ``image`` within ``max_bytes`` (and ``max_side``), keeping its aspect.

    A file the service reads as it is (format, size, no EXIF rotation) is sent byte for byte;
    otherwise it is re-encoded: PNG for in-memory pictures (plots stay crisp) while that fits,
    else JPEG (WebP with transparency), downscaled until it fits.
    """
    max_bytes = max_bytes or RAW_LIMIT
    source_format = image.format
    decoded_from = image.info.get(DECODED_FROM)  # a big JPEG decoded at a reduced scale
    before = image.size
    image, rotated = oriented(image)
    width, height = image.size
    if decoded_from is not None and image.size != before:
        decoded_from = decoded_from[::-1]  # the EXIF rotation swapped the sides
    origin = tuple(decoded_from) if decoded_from is not None else (width, height)
    if max(width, height) > MAX_ASPECT * min(width, height):
        raise ImageProblem(
            f"is {width}×{height} px; the service refuses images longer than {MAX_ASPECT}:1"
        )
    fits_side = max_side is None or max(width, height) <= max_side
    if (
        original is not None
        and decoded_from is None
        and source_format in SERVICE_FORMATS
        and not rotated
        and len(original) <= max_bytes
        and fits_side
        and min(width, height) >= MIN_SIDE
    ):
        return Encoded(original, SERVICE_FORMATS[source_format], (width, height))
    if min(width, height) < MIN_SIDE:
        scale = MIN_SIDE / min(width, height)
        size = (max(MIN_SIDE, round(width * scale)), max(MIN_SIDE, round(height * scale)))
        image = image.resize(size, Image.Resampling.NEAREST)
    alpha = _has_alpha(image)
    lossless = source_format != "JPEG"
    if not fits_side:
        assert max_side is not None
        image = _scaled(image, max_side / max(width, height))
    for _attempt in range(12):
        data, mime = _encode(image, lossless=lossless, alpha=alpha)
        if len(data) <= max_bytes:
            resized = origin if image.size != origin else None
            return Encoded(data, mime, image.size, resized)
        if lossless:
            lossless = False  # try the same pixels lossy before shrinking them
            continue
        image = _scaled(image, min(0.9, math.sqrt(max_bytes / len(data)) * 0.95))
    raise ImageProblem(f"could not be made smaller than {max_bytes // 1024} KB")


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info


def _scaled(image: Image.Image, factor: float) -> Image.Image:
    width, height = image.size
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    return image.resize(size, Image.Resampling.LANCZOS)


def _encode(image: Image.Image, *, lossless: bool, alpha: bool) -> tuple[bytes, str]:
    buffer = io.BytesIO()
    if lossless:
        if image.mode not in ("1", "L", "LA", "P", "RGB", "RGBA", "I", "I;16"):
            image = image.convert("RGBA" if alpha else "RGB")
        image.save(buffer, format="PNG", optimize=False)
        return buffer.getvalue(), "image/png"
    if alpha:
        image.convert("RGBA").save(buffer, format="WEBP", quality=90, method=4)
        return buffer.getvalue(), "image/webp"
    if image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    image.save(buffer, format="JPEG", quality=90, optimize=True)
    return buffer.getvalue(), "image/jpeg"


def thumbnail(image: Image.Image) -> tuple[bytes, tuple[int, int]]:
    """A small JPEG (≤ 128 px a side, ≤ ~4.5 KB) for the live view and the saved notebook."""
    image, _ = oriented(image)
    if image.mode in ("RGB", "RGBA", "L", "LA"):  # shrink first: it may be 64 megapixels
        image = _within(image, THUMB_SIDE)
    if _has_alpha(image):  # flatten on white: JPEG has no transparency
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, "white")
        flat.paste(rgba, mask=rgba.getchannel("A"))
        image = flat
    elif image.mode != "RGB":
        image = image.convert("RGB")
    data, size = b"", image.size
    for side in (THUMB_SIDE, 96, 64):
        small = _within(image, side)
        for quality in (70, 50, 35):
            buffer = io.BytesIO()
            small.save(buffer, format="JPEG", quality=quality, optimize=True)
            data, size = buffer.getvalue(), small.size
            if len(data) * 4 / 3 <= THUMB_BUDGET:
                return data, size
    return data, size


def _within(image: Image.Image, side: int) -> Image.Image:
    """``image`` shrunk to fit a ``side`` square, keeping its aspect (never enlarged)."""
    width, height = image.size
    if max(width, height) <= side:
        return image
    factor = side / max(width, height)
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
