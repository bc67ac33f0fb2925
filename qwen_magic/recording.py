"""``%qwencmd record start PATH``: append each finished call's answer to a recording that
``Emulator(replay=PATH)`` serves offline (format: docs/recording.md, ``emulator/replay.py``).

Recorded on the client side from the Request and the Result: the messages as sent, normalized
by the emulator's own code (media as hashes, never the pictures), the options that change an
answer, the answer (text, reasoning, usage, tool calls, sources) and its pacing (time to first
token; output tokens per second after it). The key is never written: every text is masked,
and a line that still held it would not be written at all.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qwen_magic.emulator.replay import (
    append_entries,
    clean_options,
    default_thinking,
    normalize_messages,
    write_header,
)
from qwen_magic.masking import Secret, redact

if TYPE_CHECKING:
    from qwen_magic.request import Request
    from qwen_magic.result import Result, Step


def request_options(request: Request, result: Result) -> dict[str, Any]:
    """The recording's options of a Request (``thinking``: the effective value)."""
    thinking = request.thinking
    if thinking is None:
        known = _known_model(request.model)
        thinking = default_thinking(request.model) if known else bool(result.reasoning)
    from qwen_magic.emulator.tools import tool_names

    tools = [
        name
        for name in tool_names(request.tools)
        if name not in ("web_search", "code_interpreter", "web_extractor")
    ]
    return clean_options(
        {
            "thinking": thinking,
            "temperature": request.temperature,
            "top_p": request.top_p,
            "seed": request.seed,
            "tools": tools,
            "response_format": "json_object" if request.json_mode else None,
            "search": request.search,
            "voice": request.voice,
        }
    )


def _known_model(model: str) -> bool:
    from qwen_magic.emulator.catalog import lookup

    return lookup(model) is not None


def _usage(result: Result) -> dict[str, int]:
    usage = result.usage
    data = {
        "input_tokens": getattr(usage, "input_tokens", None),
        "output_tokens": getattr(usage, "output_tokens", None),
        "reasoning_tokens": getattr(usage, "reasoning_tokens", None),
        "cached_tokens": getattr(usage, "cached_tokens", None),
    }
    return {k: int(v) for k, v in data.items() if isinstance(v, int) and v > 0}


def _pacing(result: Result) -> dict[str, float]:
    pacing: dict[str, float] = {}
    if result.ttft is not None:
        pacing["ttft"] = round(result.ttft, 3)
    rate = result.tokens_per_second
    if rate:
        pacing["tokens_per_second"] = round(rate, 1)
    return pacing


def _rounds(
    result: Result, messages: list[dict[str, Any]]
) -> tuple[list[tuple[list[dict[str, Any]], dict[str, Any]]], list[dict[str, Any]]]:
    """A tool loop's rounds that asked for calls (each one's messages and answer), and the
    messages the last round sent (with every call and its result)."""
    rounds = []
    steps: list[Step] = list(result.steps)
    sent = list(messages)
    index = 0
    while index < len(steps):
        step = steps[index]
        index += 1
        if step.kind != "model":
            continue
        calls = []
        while index < len(steps) and steps[index].kind == "tool":
            calls.append(steps[index])
            index += 1
        if not calls:
            continue
        answer = {
            "text": step.result,
            "finish_reason": "tool_calls",
            "tool_calls": [{"name": c.name, "arguments": c.arguments} for c in calls],
        }
        if step.reasoning:
            answer["reasoning"] = step.reasoning
        rounds.append((list(sent), answer))
        asked = [{"function": {"name": c.name, "arguments": c.arguments}} for c in calls]
        sent.append({"role": "assistant", "content": step.result, "tool_calls": asked})
        sent.extend({"role": "tool", "content": c.result} for c in calls)
    return rounds, sent


def entries_of(request: Request, result: Result) -> list[dict[str, Any]]:
    """The recording's entries for one finished call ([] for a failed or stopped one): one
    per tool-loop round that asked for calls, then the answer."""
    if result.error is not None or result.interrupted:
        return []
    from qwen_magic.messages import chat_messages

    options = request_options(request, result)
    rounds, sent = _rounds(result, chat_messages(request))
    entries = [_entry(request.model, m, options, a, {}) for m, a in rounds]
    answer: dict[str, Any] = {"text": result.text}
    if result.reasoning:
        answer["reasoning"] = result.reasoning
    if result.finish_reason:
        answer["finish_reason"] = result.finish_reason
    usage = _usage(result)
    if usage:
        answer["usage"] = usage
    if result.sources:
        answer["sources"] = [
            {"index": s.index, "title": s.title, "url": s.url} for s in result.sources
        ]
    entries.append(_entry(request.model, sent, options, answer, _pacing(result)))
    return entries


def _entry(
    model: str,
    messages: list[dict[str, Any]],
    options: dict[str, Any],
    answer: dict[str, Any],
    pacing: dict[str, float],
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "request": {"model": model, "messages": normalize_messages(messages), "options": options},
        "answer": answer,
    }
    if pacing:
        entry["pacing"] = pacing
    return entry


class Recorder:
    """Appends each finished call to one recording file."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser()
        write_header(self.path)  # a RecordingError for a file that is not a recording
        self.count = 0
        self._lock = threading.Lock()

    def add(self, result: Result, request: Request | None, user_key: str | None = None) -> int:
        """Append ``result``'s entries; how many were written. ``user_key``: the user's key
        when the call went elsewhere (the emulator): masked too."""
        if request is None:
            return 0
        keys = [str(k) for k in (request.api_key, user_key) if k]
        for key in keys:
            Secret(key)  # the mask knows this key, whatever the call went to
        entries = [redact(entry) for entry in entries_of(request, result)]
        lines = [json.dumps(e, ensure_ascii=False) for e in entries]
        if any(key in line for key in keys for line in lines):
            return 0  # a form of the key the mask missed: write nothing rather than the key
        with self._lock:
            append_entries(self.path, entries)
            self.count += len(entries)
        return len(entries)
