"""Function tools and web search on the wire: what each API is sent, and the calls and
sources folded out of what it answers (docs/wire.md §10, §14).

Calls stream as fragments keyed by ``index``: the first carries the id and the name, later
ones an empty id (DashScope) or none at all, so they are accumulated by index, never by id.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from qwen_magic.events import Source, Sources, ToolCall
from qwen_magic.providers.wire import BadReply, describe
from qwen_magic.request import Request, search_options

MARKER = re.compile(r"^\[ref_(\d+)\]$")


# -- what is sent -------------------------------------------------------------------------
def _choice(request: Request, named: Any) -> Any:
    choice = request.tool_choice
    if choice is None or choice in ("auto", "none"):
        return choice
    return named(choice)


def chat_tool_arguments(request: Request) -> dict[str, Any]:
    """``tools`` / ``tool_choice`` / ``parallel_tool_calls`` for Chat Completions and the
    native API (the same shapes); nothing when no tool is given."""
    if not request.tools:
        return {}
    args: dict[str, Any] = {"tools": request.tools, "parallel_tool_calls": True}
    choice = _choice(request, lambda name: {"type": "function", "function": {"name": name}})
    if choice is not None:
        args["tool_choice"] = choice
    return args


def responses_tool_arguments(request: Request) -> dict[str, Any]:
    """The Responses API's flat function tools, plus its built-in ``web_search`` for
    ``--search`` (that API has no ``enable_search``)."""
    tools: list[dict[str, Any]] = []
    for tool in request.tools:
        function = tool.get("function") or {}
        flat = {"type": "function", "name": function.get("name")}
        for key in ("description", "parameters", "strict"):
            if key in function:
                flat[key] = function[key]
        tools.append(flat)
    if request.search:
        tools.append({"type": "web_search"})
    if not tools:
        return {}
    args: dict[str, Any] = {"tools": tools}
    if request.tools:
        args["parallel_tool_calls"] = True
        choice = _choice(request, lambda name: {"type": "function", "name": name})
        if choice is not None:
            args["tool_choice"] = choice
    return args


def search_arguments(request: Request) -> dict[str, Any]:
    """``enable_search`` and ``search_options`` (chat ``extra_body``, native parameters)."""
    if not request.search:
        return {}
    return {"enable_search": True, "search_options": search_options(request)}


# -- what comes back ----------------------------------------------------------------------
@dataclass
class _Pending:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


class ToolCallFolder:
    """Call fragments → whole ``ToolCall``s in index order. A fragment's non-empty id and
    name are kept (the first ones win); its arguments are appended."""

    def __init__(self) -> None:
        self._calls: dict[int, _Pending] = {}

    def __bool__(self) -> bool:
        return bool(self._calls)

    def add(self, index: Any, call_id: Any, name: Any, arguments: Any, where: str) -> None:
        if index is None:
            index = len(self._calls)  # a server that numbers nothing: one fragment per call
        if type(index) is not int:
            raise BadReply(f"{where}.index is {describe(index)}, not a number")
        for value, what in ((call_id, "id"), (name, "function.name"), (arguments, "arguments")):
            if value is not None and type(value) is not str:
                raise BadReply(f"{where}.{what} is {describe(value)}, not text")
        pending = self._calls.setdefault(index, _Pending())
        pending.id = pending.id or call_id or ""
        pending.name = pending.name or name or ""
        if arguments:
            pending.arguments.append(arguments)

    def replace(self, index: int, call_id: str, name: str, arguments: str) -> None:
        """A whole call (a Responses ``output_item.done``): it supersedes its fragments."""
        self._calls[index] = _Pending(call_id, name, [arguments])

    def calls(self) -> list[ToolCall]:
        made = []
        for index in sorted(self._calls):
            pending = self._calls[index]
            if not pending.name:
                raise BadReply(f"the tool call at index {index} has no function name")
            call_id = pending.id or f"call_{index}_{uuid.uuid4().hex[:12]}"
            made.append(ToolCall(call_id, pending.name, "".join(pending.arguments)))
        return made

    def events(self, finish_reason: str | None) -> tuple[list[ToolCall], str | None]:
        """The calls, and the finish reason of a round that asked for them ("tool_calls",
        also from a server that said "stop" or nothing)."""
        calls = self.calls()
        if calls and finish_reason in (None, "stop"):
            finish_reason = "tool_calls"
        return calls, finish_reason


def field_of(item: Any, name: str) -> Any:
    """``item[name]`` or ``item.name`` (dicts from dashscope, objects from openai)."""
    if isinstance(item, dict):
        return item.get(name)
    return getattr(item, name, None)


def native_sources(output: dict[str, Any]) -> Sources | None:
    """``output.search_info.search_results`` → Sources (None when there are none)."""
    info = output.get("search_info")
    if not info:
        return None
    results = info.get("search_results") if isinstance(info, dict) else None
    if not isinstance(results, list) or not results:
        return None
    items = []
    for number, result in enumerate(results, start=1):
        if not isinstance(result, dict):
            raise BadReply(f"a search result is {describe(result)}, not an object")
        index = result.get("index")
        items.append(
            Source(
                index=index if type(index) is int else number,
                title=str(result.get("title") or result.get("url") or ""),
                url=str(result.get("url") or ""),
                site=result.get("site_name") or None,
            )
        )
    return Sources(tuple(sorted(items, key=lambda s: s.index)))


class ResponsesSources:
    """Sources of a Responses answer: the URLs of its ``web_search_call`` items, and the
    ``url_citation`` annotations on its text (titles, and the ``[ref_N]`` marker each one
    covers, which gives the source its number)."""

    def __init__(self) -> None:
        self._urls: list[str] = []
        self._titles: dict[str, str] = {}
        self._numbers: dict[str, int] = {}
        self._sent: tuple[Source, ...] = ()

    def add_search(self, item: Any) -> None:
        action = field_of(item, "action")
        for source in field_of(action, "sources") or []:
            url = field_of(source, "url")
            if isinstance(url, str) and url and url not in self._urls:
                self._urls.append(url)

    def add_annotation(self, note: Any, text: str | None) -> None:
        if field_of(note, "type") != "url_citation":
            return
        url = field_of(note, "url")
        if not isinstance(url, str) or not url:
            return
        if url not in self._urls:
            self._urls.append(url)
        title = field_of(note, "title")
        if isinstance(title, str) and title:
            self._titles.setdefault(url, title)
        start, end = field_of(note, "start_index"), field_of(note, "end_index")
        if text is not None and type(start) is int and type(end) is int:
            marker = MARKER.match(text[start:end])
            if marker:
                self._numbers.setdefault(url, int(marker.group(1)))

    def add_message(self, item: Any) -> None:
        """A whole ``message`` item: the annotations of each of its text parts."""
        for part in field_of(item, "content") or []:
            text = field_of(part, "text")
            for note in field_of(part, "annotations") or []:
                self.add_annotation(note, text if isinstance(text, str) else None)

    def events(self) -> Iterator[Sources]:
        """One Sources event, when there are sources not sent yet."""
        taken = set(self._numbers.values())
        free = (n for n in range(1, len(self._urls) + len(taken) + 1) if n not in taken)
        numbered = []
        for url in self._urls:
            number = self._numbers.get(url) or next(free)
            site = re.sub(r"^https?://(www\.)?([^/:]+).*$", r"\2", url)
            numbered.append(Source(number, self._titles.get(url, url), url, site or None))
        items = tuple(sorted(numbered, key=lambda s: s.index))
        if items and items != self._sent:
            self._sent = items
            yield Sources(items)
