"""Renderers: Results in, what the user sees out. They know nothing of SDKs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from qwen_magic.request import Request
from qwen_magic.result import Result


class Renderer(Protocol):
    """The runner calls ``start`` once, ``update`` at most once per interval, ``finish`` once."""

    def start(self, request: Request, on_stop: Callable[[], None]) -> None: ...

    def update(self, result: Result) -> None: ...

    def finish(self, result: Result) -> None: ...


class NullRenderer:
    """``display="none"`` / ``-q``: show nothing; the Result is still stored."""

    def start(self, request: Request, on_stop: Callable[[], None]) -> None:
        pass

    def update(self, result: Result) -> None:
        pass

    def finish(self, result: Result) -> None:
        pass


class FinalRenderer(NullRenderer):
    """``display="final"``: one static output at the end; deterministic for docs and nbval."""

    def finish(self, result: Result) -> None:
        from IPython.display import publish_display_data

        from qwen_magic.render.static import to_bundle

        publish_display_data(to_bundle(result))
