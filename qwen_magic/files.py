"""Bounded reads of the user's files: only regular files, never more than a limit.

``/dev/zero`` would be read until memory runs out, a FIFO would block forever, and a 1 GB
video would be read whole only to say it is too big. So: ``stat`` first (a device is never
even opened), open without blocking, check again on the open file (it may have been swapped),
and read at most ``limit + 1`` bytes (a file may grow, and ``/proc`` files report size 0).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


class FileProblem(Exception):
    """Why a file can't be read, in words for the user (the caller names the file)."""


class FileTooBig(FileProblem):
    """Over the limit: ``size`` is what ``stat`` said, or at least ``limit + 1``."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"is {size_text(size)}; at most {size_text(limit)} is read")
        self.size, self.limit = size, limit


_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)


def read_limited(path: str | Path, limit: int) -> bytes:
    """The bytes of the regular file ``path`` if it holds at most ``limit`` of them."""
    try:
        _check_regular(os.stat(path), limit)
        fd = os.open(path, _OPEN_FLAGS | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise FileProblem(f"could not be read ({exc.strerror or exc})") from None
    with os.fdopen(fd, "rb") as file:
        _check_regular(os.fstat(file.fileno()), limit)  # the path may have changed meanwhile
        try:
            data = file.read(limit + 1)
        except OSError as exc:
            raise FileProblem(f"could not be read ({exc.strerror or exc})") from None
    if len(data) > limit:
        raise FileTooBig(len(data), limit)
    return data


def _check_regular(info: os.stat_result, limit: int) -> None:
    mode = info.st_mode
    if not stat.S_ISREG(mode):
        raise FileProblem(f"is {_kind(mode)}, not a regular file")
    if info.st_size > limit:
        raise FileTooBig(info.st_size, limit)


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a special file"


def size_text(count: int) -> str:
    """``812 KB``, ``7.6 MB``, ``1.2 GB``."""
    if count >= 1 << 30:
        return f"{count / (1 << 30):.1f} GB"
    if count >= 1 << 20:
        return f"{count / (1 << 20):.1f} MB"
    return f"{count / 1024:.0f} KB"
