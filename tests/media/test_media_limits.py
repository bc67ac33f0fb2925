"""Every read of a user's file is bounded: devices, FIFOs, huge files and pixel bombs are refused
at once, with their sizes, before anything is sent (issue 9, "bounded everything")."""

from __future__ import annotations

import io
import os
import struct
import warnings
import zlib

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output
from PIL import Image

from qwen_magic.files import FileProblem, FileTooBig, read_limited


def refused(ip, line: str) -> str:
    """The UsageError ``%%qwen line`` raises (no Pillow warning may escape on the way)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(UsageError) as info:
            ip.run_cell_magic("qwen", line, "What is this?")
    return str(info.value)


def sparse(path, size: int):
    """A file that says it holds ``size`` bytes without using the disk (or the test's time)."""
    with open(path, "wb") as file:
        file.truncate(size)
    return path


def png_header(width: int, height: int) -> bytes:
    """A PNG that declares ``width``×``height`` pixels but holds almost none: a pixel bomb."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


@pytest.mark.timeout(10)
@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_a_device_is_refused_at_once(ip, emulator, tmp_path) -> None:
    message = refused(ip, "-i /dev/zero")
    assert message == "-i /dev/zero is a device, not a regular file: give a file saved on disk."
    os.symlink("/dev/zero", tmp_path / "zero.mp4")  # a link is followed, then refused
    assert "--video zero.mp4 is a device, not a regular file" in refused(ip, "--video zero.mp4")
    assert emulator.requests == []


@pytest.mark.timeout(10)
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_is_refused_at_once_and_never_opened(ip, emulator, tmp_path) -> None:
    os.mkfifo(tmp_path / "pipe.png")
    os.mkfifo(tmp_path / "pipe.mp4")
    assert "-i pipe.png is a named pipe (FIFO), not a regular file" in refused(ip, "-i pipe.png")
    assert "--video pipe.mp4 is a named pipe (FIFO)" in refused(ip, "--video pipe.mp4")
    ip.user_ns["where"] = tmp_path / "pipe.png"  # a Path in a variable takes the same road
    assert "is a named pipe (FIFO)" in refused(ip, "-i {where}")
    assert emulator.requests == []


@pytest.mark.timeout(10)
def test_a_huge_video_is_refused_from_its_size_without_reading_it(ip, emulator, tmp_path) -> None:
    sparse(tmp_path / "film.mp4", 1 << 30)
    message = refused(ip, "--video film.mp4")
    # The size shown is the file's own (stat), not the few MB a bounded read would have seen.
    assert message.startswith("--video film.mp4 is 1.0 GB; sent inline a video may be at most")
    assert "put it at an http(s) URL" in message
    assert emulator.requests == []


@pytest.mark.timeout(10)
def test_a_huge_image_file_is_refused_with_both_sizes(ip, emulator, tmp_path) -> None:
    sparse(tmp_path / "scan.png", 60 * 1_048_576)
    assert refused(ip, "-i scan.png") == (
        "-i scan.png is 60.0 MB; image files are read up to 50.0 MB: downscale or compress it "
        "(e.g. save it as JPEG) and try again."
    )


@pytest.mark.timeout(10)
def test_a_pixel_bomb_is_refused_before_it_is_decoded(ip, emulator, tmp_path) -> None:
    (tmp_path / "bomb.png").write_bytes(png_header(12000, 12000))  # 144 megapixels, 100 bytes
    message = refused(ip, "-i bomb.png")
    assert message.startswith(
        "-i bomb.png is 12000×12000 px (144 megapixels); images are decoded up to 64 megapixels"
    )
    assert "downscale it first" in message
    ip.user_ns["blob"] = png_header(9000, 9000)  # the same bytes in a variable
    assert "9000×9000 px (81 megapixels)" in refused(ip, "-i {blob}")
    assert emulator.requests == []


def test_a_big_jpeg_is_decoded_at_a_reduced_scale_and_sent(ip, magics, emulator, tmp_path):
    """A 66-megapixel photo (a phone's "high resolution" mode) still works: JPEG decodes at
    half scale, cheaply, instead of being refused."""
    Image.new("L", (8200, 8000), 128).save(tmp_path / "big.jpg", quality=50)
    with capture_output():
        ip.run_cell_magic("qwen", "-q -o r -i big.jpg", "What is this?")
    (item,) = ip.user_ns["r"].media
    assert item.size == (4100, 4000) and item.resized_from == (8200, 8000)
    assert item.describe() == "big.jpg · 4100×4000 (from 8200×8000)"
    assert len(emulator.requests) == 1


def test_read_limited_reads_at_most_the_limit(tmp_path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"x" * 10)
    assert read_limited(path, 10) == b"x" * 10
    with pytest.raises(FileTooBig) as info:
        read_limited(path, 9)
    assert (info.value.size, info.value.limit) == (10, 9)
    with pytest.raises(FileProblem, match="is a folder, not a regular file"):
        read_limited(tmp_path, 10)
    with pytest.raises(FileProblem, match=r"could not be read \(No such file"):
        read_limited(tmp_path / "missing", 10)


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs /proc")
def test_a_file_that_lies_about_its_size_is_still_bounded() -> None:
    """``/proc`` files report 0 bytes: the bounded read, not ``stat``, catches them."""
    with pytest.raises(FileTooBig) as info:
        read_limited("/proc/self/status", 16)
    assert info.value.size == 17  # limit + 1: never more


def test_the_global_pillow_limit_is_left_alone(ip, emulator, tmp_path) -> None:
    before = Image.MAX_IMAGE_PIXELS
    (tmp_path / "bomb.png").write_bytes(png_header(12000, 12000))
    refused(ip, "-i bomb.png")
    assert before == Image.MAX_IMAGE_PIXELS
    small = io.BytesIO()
    Image.new("RGB", (20, 20)).save(small, format="PNG")
    assert Image.open(io.BytesIO(small.getvalue())).size == (20, 20)
