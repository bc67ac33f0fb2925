"""What the emulator records of a request, and what its protocol handlers need of the server.

Low in the emulator package (stdlib only) so that the handlers (compat, responses, native) and
the transport import it, and nothing here imports them back.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from qwen_magic.emulator.replies import Reply


class Host(Protocol):
    """The server as a protocol handler sees it (``Emulator`` is one)."""

    reasoning_event: str
    responses_store: dict[str, dict[str, Any]]

    @property
    def url(self) -> str: ...

    @property
    def compat_base(self) -> str: ...


@dataclass
class RecordedRequest:
    """One request as the emulator saw it, and what it did with it."""

    method: str
    path: str
    query: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    protocol: str = ""
    stream: bool = False
    reply: Reply | None = None
    frames_sent: int = 0
    disconnected: bool = False
    finished: threading.Event = field(default_factory=threading.Event, repr=False)
    status: int | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    client: tuple[str, int] | None = None  # the connection it came on (host, port)
    on_change: Callable[[], None] = field(default=lambda: None, repr=False, compare=False)

    def count_frame(self) -> None:
        """One more frame went out (the emulator's waiters are told)."""
        self.frames_sent += 1
        self.on_change()

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The messages (chat, native) or the input items (responses) this request sent."""
        body = self.body if isinstance(self.body, dict) else {}
        if self.protocol == "chat":
            return list(body.get("messages") or [])
        if self.protocol == "responses":
            return responses_input(body)
        if self.protocol.startswith("native"):
            return native_input(body)
        return []

    @property
    def tools(self) -> list[str]:
        """The names of the tools this request offered (built-in ones by type: web_search)."""
        from qwen_magic.emulator.tools import tool_names

        return tool_names(self._parameters.get("tools"))

    @property
    def tool_choice(self) -> Any:
        """``tool_choice`` as sent (chat and Responses body, native parameters)."""
        return self._parameters.get("tool_choice")

    @property
    def tool_results(self) -> list[dict[str, str]]:
        """The tool results this request sent back, in order, as ``{"call_id", "output"}``:
        ``role: tool`` messages (chat, native) or ``function_call_output`` items (Responses)."""
        from qwen_magic.emulator.tools import tool_results

        return tool_results(self.messages)

    @property
    def search(self) -> bool:
        """Web search was turned on: ``enable_search`` (chat, native) or ``web_search``
        (Responses)."""
        from qwen_magic.emulator.tools import search_asked

        body = self.body if isinstance(self.body, dict) else {}
        return search_asked(body, self.protocol)

    @property
    def _parameters(self) -> dict[str, Any]:
        body = self.body if isinstance(self.body, dict) else {}
        where = body.get("parameters") if self.protocol.startswith("native") else body
        return where if isinstance(where, dict) else {}

    @property
    def model(self) -> str | None:
        body = self.body if isinstance(self.body, dict) else {}
        return body.get("model") or self.query.get("model")

    @property
    def form(self) -> dict[str, str | bytes]:
        """The fields of a multipart/form-data body (e.g. an OSS upload); {} otherwise."""
        content_type = self.headers.get("content-type", "")
        if not isinstance(self.body, bytes) or "multipart/form-data" not in content_type:
            return {}
        return parse_multipart(content_type, self.body)

    @property
    def api_key(self) -> str | None:
        auth = self.headers.get("authorization", "")
        return auth[7:].strip() if auth.lower().startswith("bearer ") else None


def responses_input(body: dict[str, Any]) -> list[dict[str, Any]]:
    """`instructions` plus `input` (a string or a list of items) as a list of messages/items."""
    messages: list[dict[str, Any]] = []
    if isinstance(body.get("instructions"), str):
        messages.append({"role": "system", "content": body["instructions"]})
    given = body.get("input")
    if isinstance(given, str):
        messages.append({"role": "user", "content": given})
    elif isinstance(given, list):
        messages.extend(item for item in given if isinstance(item, dict))
    return messages


def native_input(body: dict[str, Any]) -> list[dict[str, Any]]:
    """`input.messages`, or `input.prompt` as one user message."""
    given = body.get("input") or {}
    if isinstance(given.get("messages"), list):
        return [m for m in given["messages"] if isinstance(m, dict)]
    if isinstance(given.get("prompt"), str):
        return [{"role": "user", "content": given["prompt"]}]
    return []


def parse_multipart(content_type: str, data: bytes) -> dict[str, str | bytes]:
    """Form fields of a multipart body: text fields as str, file parts as bytes."""
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + data)
    fields: dict[str, str | bytes] = {}
    for part in message.iter_parts() if message.is_multipart() else []:
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        if not isinstance(payload, bytes):  # decode=True gives bytes for a leaf part
            continue
        fields[str(name)] = payload if part.get_filename() else payload.decode("utf-8", "replace")
    return fields
