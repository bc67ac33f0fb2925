"""Function calls and web search in the emulator: scripted calls, sources, and the service's
refusals of a malformed tool conversation (docs/wire.md §10, §14).

A round that asks for calls is scripted with ``Reply(tool_calls=[{"name": …, "arguments":
"{…}"}])``; the next queued reply answers the round after the tool results. Sources come
from ``Reply(sources=[(title, url), …])``, numbered from 1 as the answer's ``[ref_N]`` markers.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

MARKER = re.compile(r"\[ref_(\d+)\]")


@dataclass
class ScriptedCall:
    """One call a round asks for, with its argument text cut in the pieces it streams in."""

    id: str
    name: str
    arguments: str
    pieces: list[str] = field(default_factory=list)


@dataclass
class ScriptedSource:
    index: int
    title: str
    url: str
    site: str

    def native(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "title": self.title,
            "url": self.url,
            "site_name": self.site,
            "icon": "",
        }


def scripted_calls(calls: list[dict[str, Any]] | None, pieces: int) -> list[ScriptedCall]:
    """``Reply.tool_calls`` → calls with ids and argument pieces (``pieces`` per call)."""
    made = []
    for call in calls or []:
        arguments = call.get("arguments", "{}")
        if not isinstance(arguments, str):
            arguments = json.dumps(arguments, ensure_ascii=False)
        call_id = call.get("id") or f"call_{uuid.uuid4().hex[:24]}"
        made.append(ScriptedCall(call_id, str(call["name"]), arguments, split(arguments, pieces)))
    return made


def split(text: str, count: int) -> list[str]:
    """``text`` in ``count`` near-equal pieces (fewer when shorter; one empty piece for "")."""
    if not text:
        return [""]
    count = max(1, min(count, len(text)))
    size, extra = divmod(len(text), count)
    pieces, start = [], 0
    for index in range(count):
        end = start + size + (1 if index < extra else 0)
        pieces.append(text[start:end])
        start = end
    return pieces


def scripted_sources(sources: list[Any] | None) -> list[ScriptedSource]:
    """``Reply.sources``: ``(title, url)`` or ``(title, url, site)`` tuples, numbered from 1
    in order, or dicts (``title``, ``url``, optional ``site`` and ``index``), listed by the
    search in the order given."""
    made = []
    for number, source in enumerate(sources or [], start=1):
        index = number
        if isinstance(source, dict):
            title, url = source["title"], source["url"]
            site = source.get("site") or source.get("site_name")
            index = int(source.get("index") or number)
        else:
            title, url, *rest = source
            site = rest[0] if rest else None
        site = site or re.sub(r"^https?://(www\.)?([^/]+).*$", r"\2", url)
        made.append(ScriptedSource(index, str(title), str(url), str(site)))
    return made


def with_markers(text: str, sources: list[ScriptedSource]) -> str:
    """The default answer cites every source (``[ref_1][ref_2]``)."""
    return text + " " + "".join(f"[ref_{s.index}]" for s in sources) if sources else text


def citations(text: str, sources: list[ScriptedSource]) -> list[dict[str, Any]]:
    """The Responses API's ``url_citation`` annotations for the ``[ref_N]`` markers in text."""
    by_index = {s.index: s for s in sources}
    found = []
    for match in MARKER.finditer(text):
        source = by_index.get(int(match.group(1)))
        if source is not None:
            found.append(
                {
                    "type": "url_citation",
                    "start_index": match.start(),
                    "end_index": match.end(),
                    "url": source.url,
                    "title": source.title,
                }
            )
    return found


def fragments(calls: list[ScriptedCall], interleave: bool) -> list[dict[str, Any]]:
    """Streamed call fragments in the chat/native shape, in the order they go out: the first
    of each call carries its id and name, later ones an empty id and no name (DashScope's
    way); ``interleave`` alternates between parallel calls."""
    per_call = []
    for index, call in enumerate(calls):
        frags = []
        for number, piece in enumerate(call.pieces):
            function: dict[str, Any] = {"arguments": piece}
            if number == 0:
                function = {"name": call.name, "arguments": piece}
            frags.append(
                {
                    "index": index,
                    "id": call.id if number == 0 else "",
                    "type": "function",
                    "function": function,
                }
            )
        per_call.append(frags)
    if not interleave:
        return [frag for frags in per_call for frag in frags]
    ordered = []
    for round_ in range(max((len(f) for f in per_call), default=0)):
        ordered += [frags[round_] for frags in per_call if round_ < len(frags)]
    return ordered


def whole_calls(calls: list[ScriptedCall]) -> list[dict[str, Any]]:
    """The calls of a non-streamed reply (chat and native ``message.tool_calls``)."""
    return [
        {
            "index": index,
            "id": call.id,
            "type": "function",
            "function": {"name": call.name, "arguments": call.arguments},
        }
        for index, call in enumerate(calls)
    ]


# -- what a request asks for --------------------------------------------------------------
def tool_names(tools: Any) -> list[str]:
    """The names of the tools a request offers: functions by name (chat/native
    ``function.name``, Responses ``name``), built-in tools by type (``web_search``)."""
    names = []
    for tool in tools if isinstance(tools, list) else []:
        if not isinstance(tool, dict):
            continue
        function = tool.get("function")
        if isinstance(function, dict) and function.get("name"):
            names.append(str(function["name"]))
        elif tool.get("type") == "function" and tool.get("name"):
            names.append(str(tool["name"]))
        elif tool.get("type"):
            names.append(str(tool["type"]))
    return names


def tool_results(messages: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Every tool result a conversation carries, in order: ``role: tool`` messages (chat,
    native) and ``function_call_output`` items (Responses), as ``{"call_id", "output"}``."""
    results = []
    for message in messages:
        if message.get("role") == "tool":
            output = message.get("content")
            results.append({"call_id": str(message.get("tool_call_id")), "output": _text(output)})
        elif message.get("type") == "function_call_output":
            output = message.get("output")
            results.append({"call_id": str(message.get("call_id")), "output": _text(output)})
    return results


def trailing_outputs(messages: list[dict[str, Any]]) -> list[str]:
    """The tool results at the end of a conversation (the round after the tools ran)."""
    outputs: list[str] = []
    for message in reversed(messages):
        if message.get("role") == "tool":
            outputs.insert(0, _text(message.get("content")))
        elif message.get("type") == "function_call_output":
            outputs.insert(0, _text(message.get("output")))
        elif message.get("type") == "function_call" or (
            message.get("role") == "assistant" and message.get("tool_calls")
        ):
            continue
        else:
            break
    return outputs


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):  # content parts
        return " ".join(p.get("text", "") for p in value if isinstance(p, dict))
    return "" if value is None else json.dumps(value, ensure_ascii=False)


def calls_allowed(body: dict[str, Any], protocol: str) -> bool:
    """A model calls only functions it was offered, and none under ``tool_choice: "none"``."""
    where = body.get("parameters") if protocol.startswith("native") else body
    if not isinstance(where, dict):
        return False
    tools = [
        t for t in where.get("tools") or [] if isinstance(t, dict) and t.get("type") == "function"
    ]
    return bool(tools) and where.get("tool_choice") != "none"


# -- search -------------------------------------------------------------------------------
def search_asked(body: dict[str, Any], protocol: str) -> bool:
    """Whether the request turned web search on: ``enable_search`` (chat body, native
    parameters) or a ``web_search`` tool (Responses)."""
    if protocol == "responses":
        return "web_search" in tool_names(body.get("tools"))
    where = body.get("parameters") if protocol.startswith("native") else body
    return isinstance(where, dict) and where.get("enable_search") is True


def search_options(body: dict[str, Any], protocol: str) -> dict[str, Any]:
    where = body.get("parameters") if protocol.startswith("native") else body
    options = where.get("search_options") if isinstance(where, dict) else None
    return options if isinstance(options, dict) else {}
