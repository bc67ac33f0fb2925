"""Answering from a recording (``Emulator(replay=PATH)``; docs/recording.md).

A recording stores answers, not the wire: each entry is a normalized request (model, the
messages' roles and texts with media as hashes, the options that change an answer) and the
answer (text, reasoning, usage, tool calls, sources) with its pacing (time to first token and
tokens per second). A request is normalized the same way whichever of the three protocols it
came on, looked up, and the answer becomes a `Reply` that the protocol handlers render as
usual. A request with no recording gets the echo, prefixed with `MARKER` so a student sees it.

Stdlib only, like the rest of the emulator. ``scripts/make_recording.py`` and
``qwen_magic.recording`` compute their keys with `normalize_messages` and `entry_key` here,
so a recording made by hand or by a kernel matches exactly what the emulator will look up.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qwen_magic.emulator.catalog import lookup, requested_thinking, resolve_thinking
from qwen_magic.emulator.faults import ApiError
from qwen_magic.emulator.replies import Reply, content_text, last_user_text
from qwen_magic.emulator.tools import search_asked, tool_names, trailing_outputs

FORMAT = "qwen-magic-recording"
VERSION = 1
HEADER = {"format": FORMAT, "version": VERSION}
MARKER = "[no recording for this request] "
OPTION_NAMES = ("thinking", "temperature", "top_p", "seed", "n", "tools", "response_format",
                "search", "voice")  # fmt: skip
BUILT_IN_TOOLS = ("web_search", "code_interpreter", "web_extractor")
MEDIA_KEYS = ("image_url", "video_url", "input_audio", "image", "video", "audio", "input_image")


class RecordingError(ValueError):
    """A recording that cannot be read: the message says which file, where, and what to do."""


# -- normalizing ------------------------------------------------------------------------------
def media_hash(value: Any) -> str:
    """``sha256:<hex>`` of a media payload as sent (a URL or a data URL; a list of frames as
    its JSON): the recording never holds the picture, only what identifies it."""
    if isinstance(value, dict):  # {"url": …} (chat image_url/video_url), {"data": …} (audio)
        value = value.get("url") or value.get("data") or value
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def _media_of(part: dict[str, Any]) -> str | None:
    for name in MEDIA_KEYS:
        if name in part and part[name] not in (None, ""):
            return media_hash(part[name])
    return None


def _content(content: Any) -> tuple[str, list[str]]:
    """The text (stripped, parts joined by a space) and the media hashes of a content."""
    media: list[str] = []
    if isinstance(content, list):
        for part in content:
            if isinstance(part, dict):
                found = _media_of(part)
                if found is not None:
                    media.append(found)
    return content_text(content).strip(), media


def _call(name: Any, arguments: Any) -> str:
    """A tool call as ``name {arguments}`` with the arguments' JSON made canonical."""
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except ValueError:
            return f"{name} {arguments.strip()}"
    return f"{name} {json.dumps(arguments, sort_keys=True, ensure_ascii=False)}"


def normalize_messages(messages: list[Any]) -> list[dict[str, Any]]:
    """Messages of any protocol (chat, Responses items, native) as ``{"role", "text"}`` with
    ``"media"`` (hashes) and ``"calls"`` (an assistant's tool calls) when there are any."""
    out: list[dict[str, Any]] = []
    for message in messages:
        if not isinstance(message, dict):
            continue
        kind = message.get("type")
        if kind == "function_call":  # Responses: a call item after the assistant's text
            call = _call(message.get("name"), message.get("arguments"))
            if out and out[-1]["role"] == "assistant":
                out[-1].setdefault("calls", []).append(call)
            else:
                out.append({"role": "assistant", "text": "", "calls": [call]})
            continue
        if kind == "function_call_output":
            out.append({"role": "tool", "text": content_text(message.get("output")).strip()})
            continue
        if kind not in (None, "message"):
            continue  # reasoning items and the like: not what the user asked
        role = str(message.get("role") or "user")
        if role == "developer":
            role = "system"
        text, media = _content(message.get("content"))
        entry: dict[str, Any] = {"role": role, "text": text}
        if media:
            entry["media"] = media
        calls = [
            _call((c.get("function") or {}).get("name"), (c.get("function") or {}).get("arguments"))
            for c in message.get("tool_calls") or []
            if isinstance(c, dict)
        ]
        if calls:
            entry["calls"] = calls
        if role == "assistant" and not text and not calls and not media:
            continue  # an empty assistant turn says nothing
        out.append(entry)
    return out


def clean_options(options: dict[str, Any]) -> dict[str, Any]:
    """Only the options that change an answer, without unset ones (None, False, [])."""
    cleaned: dict[str, Any] = {}
    for name in OPTION_NAMES:
        value = options.get(name)
        if value is None or value == [] or (value is False and name not in ("thinking",)):
            continue
        if name == "tools":
            value = sorted(str(v) for v in value)
        if name in ("temperature", "top_p") and isinstance(value, (int, float)):
            value = float(value)
        cleaned[name] = value
    return cleaned


def entry_key(model: str, messages: list[dict[str, Any]], options: dict[str, Any]) -> str:
    """What a lookup compares (``thinking`` apart: an entry without it matches either way)."""
    rest = {k: v for k, v in clean_options(options).items() if k != "thinking"}
    return json.dumps([model, messages, rest], sort_keys=True, ensure_ascii=False)


def default_thinking(model: str, asked: object = None) -> bool:
    """Whether a request to ``model`` thinks: as asked, else the model's default (catalog)."""
    info = lookup(model)
    if info is None:
        return asked is True
    try:
        return resolve_thinking(info, asked)
    except ApiError:
        return asked is True


def request_options(protocol: str, body: dict[str, Any]) -> dict[str, Any]:
    """The options of a wire request that change its answer, in the recording's names."""
    native = protocol.startswith("native")
    params = body.get("parameters") if native else body
    params = params if isinstance(params, dict) else {}
    model = str(body.get("model") or "")
    if protocol == "responses":
        from qwen_magic.emulator.responses import wants_thinking

        asked: object = wants_thinking(body)
    else:
        asked = requested_thinking(params)
    options: dict[str, Any] = {"thinking": default_thinking(model, asked)}
    for name in ("temperature", "top_p", "seed", "n"):
        options[name] = params.get(name)
    options["tools"] = [t for t in tool_names(params.get("tools")) if t not in BUILT_IN_TOOLS]
    fmt = params.get("response_format")
    if protocol == "responses":
        text = body.get("text")
        fmt = text.get("format") if isinstance(text, dict) else None
    if isinstance(fmt, dict) and fmt.get("type") not in (None, "text"):
        options["response_format"] = fmt.get("type")
    options["search"] = search_asked(body, protocol)
    audio = body.get("audio")
    if "audio" in (body.get("modalities") or []) and isinstance(audio, dict):
        options["voice"] = audio.get("voice")
    return clean_options(options)


def streams(protocol: str, body: dict[str, Any], headers: dict[str, str]) -> bool:
    if protocol.startswith("native"):
        return headers.get("x-dashscope-sse", "").lower() == "enable" or (
            "text/event-stream" in headers.get("accept", "")
        )
    return body.get("stream") is True


# -- the file ---------------------------------------------------------------------------------
@dataclass
class Entry:
    """One recorded answer (the JSON object of one line)."""

    model: str
    messages: list[dict[str, Any]]
    options: dict[str, Any]
    answer: dict[str, Any]
    pacing: dict[str, Any] = field(default_factory=dict)
    line: int = 0

    @property
    def key(self) -> str:
        return entry_key(self.model, self.messages, self.options)


def parse_entry(data: Any, where: str) -> Entry:
    """An entry checked enough to serve (a RecordingError naming ``where`` otherwise)."""
    if not isinstance(data, dict):
        raise RecordingError(f"{where}: an entry must be a JSON object.")
    request, answer = data.get("request"), data.get("answer")
    if not isinstance(request, dict) or not isinstance(request.get("model"), str):
        raise RecordingError(f'{where}: "request" needs a "model" (text).')
    messages = request.get("messages")
    if not isinstance(messages, list) or not all(
        isinstance(m, dict) and isinstance(m.get("text", ""), str) for m in messages
    ):
        raise RecordingError(f'{where}: "request.messages" must be a list of {{"role", "text"}}.')
    if not isinstance(answer, dict) or not isinstance(answer.get("text", ""), str):
        raise RecordingError(f'{where}: "answer" must be an object with a "text".')
    options = request.get("options") or {}
    pacing = data.get("pacing") or {}
    if not isinstance(options, dict) or not isinstance(pacing, dict):
        raise RecordingError(f'{where}: "options" and "pacing" must be objects.')
    normalized = [
        {k: v for k, v in {**m, "text": str(m.get("text", "")).strip()}.items()} for m in messages
    ]
    return Entry(request["model"], normalized, clean_options(options), answer, pacing)


def check_header(data: Any, where: str) -> None:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise RecordingError(
            f"{where} is not a qwen_magic recording: its first line must be "
            f"{json.dumps(HEADER)} (see docs/recording.md)."
        )
    version = data.get("version")
    if version != VERSION:
        raise RecordingError(
            f"{where} is a recording of format version {version!r}, but this qwen_magic reads "
            f"version {VERSION} only. Use the qwen_magic that made it, or make the file again "
            "(scripts/make_recording.py)."
        )


def read_entries(path: str | os.PathLike[str]) -> list[Entry]:
    """Every entry of a recording file (JSON Lines, a header line first)."""
    where = str(path)
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise RecordingError(f"Cannot read the recording {where}: {exc.strerror or exc}.") from None
    entries: list[Entry] = []
    header_seen = False
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except ValueError as exc:
            raise RecordingError(f"{where}, line {number}: not JSON ({exc}).") from None
        if not header_seen:
            check_header(data, where)
            header_seen = True
            continue
        entry = parse_entry(data, f"{where}, line {number}")
        entry.line = number
        entries.append(entry)
    if not header_seen:
        raise RecordingError(f"{where} is empty: a recording starts with {json.dumps(HEADER)}.")
    return entries


class Recording:
    """The entries of one file, by key. Several entries with one key are served in turn."""

    def __init__(self, path: str | os.PathLike[str], speed: float = 1.0) -> None:
        self.path = str(path)
        self.speed = speed
        self.entries = read_entries(path)
        self._by_key: dict[str, list[Entry]] = defaultdict(list)
        for entry in self.entries:
            self._by_key[entry.key].append(entry)
        self._served: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def find(self, protocol: str, body: dict[str, Any], messages: list[Any]) -> Entry | None:
        """The entry answering this request, or None."""
        options = request_options(protocol, body)
        key = entry_key(str(body.get("model") or ""), normalize_messages(messages), options)
        thinking = options.get("thinking")
        candidates = [
            e for e in self._by_key.get(key, []) if e.options.get("thinking", thinking) == thinking
        ]
        with self._lock:
            if not candidates:
                self.misses += 1
                return None
            self.hits += 1
            turn = self._served[key]
            self._served[key] = turn + 1
        return candidates[turn % len(candidates)]

    def reply(
        self, protocol: str, body: dict[str, Any], headers: dict[str, str], messages: list[Any]
    ) -> tuple[Reply, float]:
        """The reply for this request and the wait before its first byte."""
        entry = self.find(protocol, body, messages)
        if entry is None:
            return unmatched_reply(protocol, body, messages), 0.0
        return entry_reply(entry, streams(protocol, body, headers), self.speed)


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and value >= 0 else None


def entry_reply(entry: Entry, streaming: bool, speed: float = 1.0) -> tuple[Reply, float]:
    """The entry as a `Reply` (one frame per recorded output token, else per word) and the
    seconds to wait before the first byte (the whole answer's time when not streaming)."""
    answer, usage = entry.answer, entry.answer.get("usage") or {}
    text = str(answer.get("text") or "")
    reasoning = str(answer.get("reasoning") or "")
    output, thought = _int(usage.get("output_tokens")), _int(usage.get("reasoning_tokens"))
    if output is not None and reasoning and thought is None:  # share by length
        thought = round(output * len(reasoning) / max(1, len(reasoning) + len(text)))
    chunks = reasoning_chunks = None
    if output is not None:
        chunks = max(1, output - (thought or 0)) if text else None
        reasoning_chunks = max(1, thought or 0) if reasoning else None
    rate = entry.pacing.get("tokens_per_second")
    delay = (
        1.0 / float(rate) / speed
        if speed > 0 and isinstance(rate, (int, float)) and rate > 0
        else 0.0
    )
    ttft = entry.pacing.get("ttft")
    wait = float(ttft) / speed if speed > 0 and isinstance(ttft, (int, float)) and ttft > 0 else 0.0
    if not streaming:
        wait += delay * ((chunks or len(text.split())) + (reasoning_chunks or 0))
        delay = 0.0
    calls = answer.get("tool_calls")
    reply = Reply(
        text=text,
        reasoning=reasoning,
        chunks=chunks,
        reasoning_chunks=reasoning_chunks,
        delay=delay,
        finish_reason=str(answer.get("finish_reason") or "stop"),
        prompt_tokens=_int(usage.get("input_tokens")),
        cached_tokens=_int(usage.get("cached_tokens")) or 0,
        tool_calls=[dict(c) for c in calls] if isinstance(calls, list) and calls else None,
        sources=list(answer["sources"]) if isinstance(answer.get("sources"), list) else None,
        samples=[str(t) for t in answer["samples"]]
        if isinstance(answer.get("samples"), list)
        else None,  # -n K: the other choices' answers
    )
    return reply, wait


def unmatched_reply(protocol: str, body: dict[str, Any], messages: list[Any]) -> Reply:
    """The echo a request without a recording gets, saying so in its first words."""
    outputs = trailing_outputs([m for m in messages if isinstance(m, dict)])
    user = last_user_text(messages)
    options = request_options(protocol, body)
    if outputs:
        text = "Echo: " + " ".join(outputs)
    elif options.get("response_format") == "json_object":
        note = MARKER.strip(" []")
        return Reply(text=json.dumps({"echo": user, "note": note}, ensure_ascii=False))
    else:
        text = f"Echo: {user}"
    return Reply(text=MARKER + text)


def write_header(path: str | os.PathLike[str]) -> None:
    """Start a recording file (or check that an existing one is a recording we can add to)."""
    target = Path(path)
    if target.exists() and target.stat().st_size > 0:
        with target.open(encoding="utf-8") as handle:
            first = handle.readline()
        try:
            data = json.loads(first)
        except ValueError:
            data = None
        check_header(data, str(path))
        return
    target.write_text(json.dumps(HEADER) + "\n", encoding="utf-8")


def append_entries(path: str | os.PathLike[str], entries: list[dict[str, Any]]) -> None:
    """Add entries (dicts in the file's shape) at the end of a recording, header first."""
    write_header(path)
    with Path(path).open("a", encoding="utf-8") as handle:
        for entry in entries:
            handle.write(json.dumps(entry, ensure_ascii=False) + "\n")
