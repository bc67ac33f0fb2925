"""The live view: ipywidgets that stream the reasoning and the answer, then step aside.

Only the main thread touches widgets (the runner calls ``update`` from there). Each refresh
re-sends only what changed: finished Markdown blocks are frozen into their own Output widget
and never sent again; only the growing tail is re-rendered.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

from ..request import Request, Result
from .markdown import close_open_fence, split_stable
from .static import thinking_summary, to_bundle, usage_line


def _markdown_output(text: str, mime: str = "text/markdown") -> dict[str, Any]:
    return {
        "output_type": "display_data",
        "data": {mime: text, "text/plain": text},
        "metadata": {},
    }


class MarkdownStream:
    """A growing Markdown text: frozen blocks + one tail, each rendered by the frontend."""

    def __init__(self, min_tail: int = 2000, mime: str = "text/markdown") -> None:
        import ipywidgets as w

        self._w = w
        self.mime = mime
        self.min_tail = min_tail
        self.tail = w.Output()
        self.box = w.VBox([self.tail])
        self._frozen_len = 0
        self._shown = ""

    def show(self, text: str) -> None:
        if text == self._shown:
            return
        self._shown = text
        if self.mime != "text/markdown":  # HTML can't be cut into blocks safely
            self.tail.outputs = (_markdown_output(text, self.mime),)
            return
        stable, tail = split_stable(text[self._frozen_len :], self.min_tail)
        if stable:
            frozen = self._w.Output()
            frozen.outputs = (_markdown_output(stable),)
            self.box.children = (*self.box.children[:-1], frozen, self.tail)
            self._frozen_len += len(stable)
        self.tail.outputs = (_markdown_output(close_open_fence(tail)),) if tail else ()


class LiveRenderer:
    """Header, thinking section, answer, footer and a Stop button, refreshed by the runner."""

    def __init__(self, stoppable: bool = True) -> None:
        self.stoppable = stoppable  # False when a click could not arrive before the cell ends
        self.refreshes = 0
        self._box: Any = None

    def start(self, request: Request, on_stop: Callable[[], None]) -> None:
        import ipywidgets as w
        from IPython.display import display

        where = " · ".join(x for x in (request.model, request.api, request.region) if x)
        self.header = w.HTML(f"<small><b>{html.escape(where)}</b></small>")
        self.stop_button = w.Button(
            description="Stop",
            icon="stop",
            tooltip="Stop the answer here (keeps what has arrived)",
            layout=w.Layout(width="auto"),
        )
        self.stop_button.on_click(lambda _button: on_stop())
        if not self.stoppable:
            self.stop_button.layout.display = "none"
        self.reasoning = MarkdownStream()
        self.thinking = w.Accordion(children=[self.reasoning.box], selected_index=0)
        self.thinking.set_title(0, "Thinking…")
        self.thinking.layout.display = "none"
        mime = "text/html" if request.format == "html" else "text/markdown"
        self.answer = MarkdownStream(mime=mime)
        self.footer = w.HTML("<small>waiting for the first token…</small>")
        top = w.HBox([self.header, self.stop_button], layout=w.Layout(align_items="center"))
        self._box = w.VBox([top, self.thinking, self.answer.box, self.footer])
        self._answer_started = False
        self.handle = display(self._box, display_id=True)

    def update(self, result: Result) -> None:
        self.refreshes += 1
        if result.reasoning:
            self.thinking.layout.display = ""
            self.reasoning.show(result.reasoning)
        if result.text and not self._answer_started:
            self._answer_started = True
            self.thinking.selected_index = None  # collapse when the answer begins
            self.thinking.set_title(0, thinking_summary(result))
        self.answer.show(result.text)
        self.footer.value = f"<small>{html.escape(usage_line(result))}</small>"

    def finish(self, result: Result) -> None:
        self.update(result)
        self.handle.update(to_bundle(result), raw=True)
        self.close()

    def close(self) -> None:
        """Free every widget model; the static output has replaced them."""
        if self._box is not None:
            close_tree(self._box)
            self._box = None


def close_tree(widget: Any) -> None:
    """Close a widget, its children and its layout/style models (``close`` alone leaks those).

    Values are emptied first: a saved notebook's widget state would otherwise keep a second
    copy of the answer.
    """
    for child in getattr(widget, "children", ()):
        close_tree(child)
    if hasattr(widget, "outputs"):
        widget.outputs = ()
    if isinstance(getattr(widget, "value", None), str):
        widget.value = ""
    for sub in (getattr(widget, "layout", None), getattr(widget, "style", None)):
        if sub is not None:
            sub.close()
    widget.close()
