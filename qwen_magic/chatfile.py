"""Chat files on disk: a bounded read, a strict schema check, and a save that never clobbers.

A chat file is re-sent to the service as history, so what loads must be exactly what we save:
every field has its type checked (wrong types used to load and crash a later cell), user
messages carry only ``role`` and ``content`` with the content parts we make, a turn's tool
messages only the fields a tool call and its result have (each call answered, each result
answering a call), and the file is
read only if it is a regular file under ``CHAT_FILE_LIMIT``. A file too deeply nested for the
JSON parser is a clear error, not a RecursionError.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from qwen_magic.errors import QwenUsageError
from qwen_magic.files import FileProblem, FileTooBig, read_limited, size_text

FORMAT = "qwen_magic.chat"
VERSION = 2  # 2: turns may hold ``tool_messages``; version 1 files load as they are

CHAT_FILE_LIMIT = 256 * 1_048_576  # inline images make chats big; this is far beyond text
SAVE_AGAIN = "save it again with `%qwencmd save NAME PATH`"

# The content parts a user turn may hold (``Media.chat_part`` and the prompt's text), and the
# field each one carries.
_PARTS = {"text": str, "image_url": dict, "video_url": dict, "video": list, "input_audio": dict}
_PART_FIELDS = {"input_audio": ({"data", "format"}, "data and format")}  # others: only a url
_TURN_FIELDS: dict[str, tuple[type, ...]] = {
    "answer": (str,),
    "reasoning": (str,),
    "cell_id": (str, type(None)),
    "execution": (str, type(None)),
    "model": (str,),
    "usage": (dict,),
}


class Damaged(Exception):
    """Where a chat file breaks the schema: ``turns[2].answer must be text (it is a list)``."""


def read_chat(path: Path) -> dict[str, Any]:
    """The parsed, checked JSON of a chat file, or a UsageError saying what is wrong."""
    shown = str(path)
    try:
        raw = read_limited(path, CHAT_FILE_LIMIT)
    except FileTooBig as exc:
        raise QwenUsageError(
            f"The chat file {shown!r} is {size_text(exc.size)}; chat files are read up to "
            f"{size_text(exc.limit)}. Is it the right file?"
        ) from None
    except FileProblem as problem:
        raise QwenUsageError(f"Could not read the chat file {shown!r}: it {problem}.") from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except RecursionError:
        raise QwenUsageError(
            f"The chat file {shown!r} is nested too deeply to be a qwen_magic chat; {SAVE_AGAIN}."
        ) from None
    except ValueError as exc:  # not JSON, not UTF-8, or a number too long to read
        raise QwenUsageError(f"Could not read the chat file {shown!r}: {exc}.") from None
    return checked_chat(data, f"The file {shown!r}", f"The chat file {shown!r}")


def checked_chat(data: Any, the_file: str, the_chat_file: str) -> dict[str, Any]:
    """``data`` if it is one of our chats with every field as we save it; else a UsageError
    naming the file (``the_file`` / ``the_chat_file`` start its sentences)."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise QwenUsageError(
            f'{the_file} is not a qwen_magic chat (no "format": "{FORMAT}"): save one '
            "with `%qwencmd save NAME PATH`."
        )
    try:
        check_chat(data)
    except Damaged as exc:
        raise QwenUsageError(f"{the_chat_file} is damaged: {exc}; {SAVE_AGAIN}.") from None
    return data


def check_chat(data: dict[str, Any]) -> None:
    """Raise ``Damaged`` at the first field whose type or value is not what we save."""
    version = data.get("version", 1)
    if type(version) is not int or version < 1:
        raise Damaged(f"version must be a whole number (it is {_kind(version)})")
    if version > VERSION:
        raise Damaged(
            f"it was saved by a newer qwen_magic (format version {version}; this one reads "
            f"{VERSION}): upgrade qwen_magic to load it"
        )
    _expect(data.get("system"), (str, type(None)), "system")
    _expect(data.get("name", ""), (str,), "name")
    turns: Any = data.get("turns")
    _expect(turns, (list,), "turns")
    for index, turn in enumerate(turns):
        where = f"turns[{index}]"
        _expect(turn, (dict,), where)
        if "user" not in turn or "answer" not in turn:
            missing = "user" if "user" not in turn else "answer"
            raise Damaged(f"{where} has no {missing!r}")
        _check_user(turn["user"], f"{where}.user")
        for name, types in _TURN_FIELDS.items():
            if name in turn:
                _expect(turn[name], types, f"{where}.{name}")
        for key, value in turn.get("usage", {}).items():
            if type(value) is not int and value is not None:
                raise Damaged(f"{where}.usage.{key} must be a whole number (it is {_kind(value)})")
        if "tool_messages" in turn:
            if version < 2:
                raise Damaged(f"{where} has tool_messages, which format version 1 never saved")
            _check_tool_messages(turn["tool_messages"], f"{where}.tool_messages")


def _check_tool_messages(messages: Any, where: str) -> None:
    """Assistant messages asking for calls, each call followed by its one result."""
    _expect(messages, (list,), where)
    pending: list[str] = []  # calls asked for and not answered yet, in order
    for index, message in enumerate(messages):
        at = f"{where}[{index}]"
        _expect(message, (dict,), at)
        role = message.get("role")
        if role == "assistant":
            if pending:
                raise Damaged(f"{at} asks for calls before call {pending[0]!r} was answered")
            _only(message, {"role", "content", "tool_calls"}, at)
            _expect(message.get("content"), (str, type(None)), f"{at}.content")
            calls = message.get("tool_calls")
            _expect(calls, (list,), f"{at}.tool_calls")
            if not calls:
                raise Damaged(f"{at}.tool_calls is empty")
            for number, call in enumerate(calls):
                pending.append(_check_call(call, f"{at}.tool_calls[{number}]"))
        elif role == "tool":
            _only(message, {"role", "tool_call_id", "content"}, at)
            call_id = message.get("tool_call_id")
            _expect(call_id, (str,), f"{at}.tool_call_id")
            _expect(message.get("content"), (str,), f"{at}.content")
            if call_id not in pending:
                raise Damaged(f"{at} answers {call_id!r}, a call that was not asked for")
            pending.remove(call_id)
        else:
            raise Damaged(f"{at}.role must be 'assistant' or 'tool' (it is {role!r})")
    if pending:
        raise Damaged(f"{where}: call {pending[0]!r} has no result")


def _check_call(call: Any, where: str) -> str:
    _expect(call, (dict,), where)
    _only(call, {"id", "type", "function"}, where)
    _expect(call.get("id"), (str,), f"{where}.id")
    if call.get("type") != "function":
        raise Damaged(f"{where}.type must be 'function' (it is {call.get('type')!r})")
    function = call.get("function")
    _expect(function, (dict,), f"{where}.function")
    _only(function, {"name", "arguments"}, f"{where}.function")
    _expect(function.get("name"), (str,), f"{where}.function.name")
    _expect(function.get("arguments"), (str,), f"{where}.function.arguments")
    return str(call["id"])


def _only(value: dict[str, Any], allowed: set[str], where: str) -> None:
    extra = set(value) - allowed
    if extra:
        raise Damaged(f"{where} has a field we never save: {sorted(extra)[0]!r}")


def _check_user(user: Any, where: str) -> None:
    _expect(user, (dict,), where)
    _only(user, {"role", "content"}, where)
    if user.get("role") != "user":
        raise Damaged(f"{where}.role must be 'user' (it is {user.get('role')!r})")
    content = user.get("content")
    _expect(content, (str, list), f"{where}.content")
    if isinstance(content, str):
        return
    for index, part in enumerate(content):
        at = f"{where}.content[{index}]"
        _expect(part, (dict,), at)
        kind = part.get("type")
        if kind not in _PARTS or set(part) != {"type", kind}:
            raise Damaged(f"{at} is not a text, image, video or audio part")
        value = part[kind]
        _expect(value, (_PARTS[kind],), f"{at}.{kind}")
        if isinstance(value, dict):
            names, said = _PART_FIELDS.get(kind, ({"url"}, "a url"))
            if set(value) != names:
                raise Damaged(f"{at}.{kind} must hold only {said}")
            for name in sorted(names):
                _expect(value[name], (str,), f"{at}.{kind}.{name}")
        elif isinstance(value, list):
            for frame, url in enumerate(value):
                _expect(url, (str,), f"{at}.video[{frame}]")


def _expect(value: Any, types: tuple[type, ...], where: str) -> None:
    if type(value) not in types:  # exact: True is not a number here, nor a str subclass text
        wanted = " or ".join(_NAMES.get(t, t.__name__) for t in types)
        raise Damaged(f"{where} must be {wanted} (it is {_kind(value)})")


_NAMES = {str: "text", list: "a list", dict: "an object", type(None): "null", int: "a number"}


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    name = _NAMES.get(type(value), f"a {type(value).__name__}")
    return f"{name} {value!r}" if isinstance(value, (int, float, bool)) else name


def is_chat_file(path: Path) -> bool:
    """Whether ``path`` holds a qwen_magic chat (so saving over it loses nothing foreign)."""
    try:
        data = json.loads(read_limited(path, CHAT_FILE_LIMIT).decode("utf-8"))
    except (FileProblem, ValueError, RecursionError):
        return False
    return isinstance(data, dict) and data.get("format") == FORMAT


def write_chat(target: Path, text: str, *, force: bool) -> None:
    """Write ``text`` to ``target``: never over a file that is not one of our chats (unless
    ``force``), never into a device or a FIFO, and atomically (a full disk leaves the old file)."""
    shown = str(target)
    if target.exists() or target.is_symlink():
        if not target.is_file():
            raise QwenUsageError(
                f"Could not save the chat to {shown!r}: it is not a regular file (a folder, a "
                "device or a pipe). Give a file path such as chats/trip.json."
            )
        if not force and not is_chat_file(target):
            raise QwenUsageError(
                f"{shown!r} already exists and is not a qwen_magic chat file: choose another "
                "path, or add --force to replace it (`%qwencmd save NAME PATH --force`)."
            )
    directory = target.parent
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=directory)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                file.write(text)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise QwenUsageError(
            f"Could not save the chat to {shown!r}: {exc.strerror or exc}. Check the folder "
            "exists and is writable."
        ) from None
