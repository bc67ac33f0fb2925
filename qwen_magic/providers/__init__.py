"""Providers: a Request in, an iterator of Events out. They know nothing of widgets."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from ..events import Event
from ..request import Request


class Provider(Protocol):
    def events(self) -> Iterator[Event]:
        """Call the SDK and translate what it yields. Errors become a final ``Failed``."""
        ...

    def abort(self) -> None:
        """Close the HTTP stream now (called from another thread when the user stops)."""
        ...


def make_provider(request: Request) -> Provider:
    if request.api == "chat":
        from .chat import ChatProvider

        return ChatProvider(request)
    raise NotImplementedError(f"--api {request.api} is not available yet")
