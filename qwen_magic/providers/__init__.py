"""Providers: a Request in, an iterator of Events out. They know nothing of widgets."""

from __future__ import annotations

from collections.abc import Generator
from typing import Protocol

from qwen_magic.events import Event
from qwen_magic.request import Request


class Provider(Protocol):
    def events(self) -> Generator[Event, None, None]:
        """Call the SDK and translate what it yields. Errors become a final ``Failed``.
        A generator: the runner ``close()``s it to let go of the HTTP stream early."""
        ...

    def abort(self) -> None:
        """Stop now, from another thread (the user pressed Stop): shut the socket, even one
        still waiting for the response headers, and never send the request again."""
        ...


def make_provider(request: Request) -> Provider:
    """The provider of ``request.api``; its module (and SDK) is imported only now."""
    if request.api == "chat":
        from qwen_magic.providers.chat import ChatProvider

        return ChatProvider(request)
    if request.api == "responses":
        from qwen_magic.providers.responses import ResponsesProvider

        return ResponsesProvider(request)
    if request.api == "dashscope":
        from qwen_magic.providers.dashscope import DashScopeProvider

        return DashScopeProvider(request)
    raise NotImplementedError(f"--api {request.api} is not available")
