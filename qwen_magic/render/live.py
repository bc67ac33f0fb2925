"""The live view: ipywidgets that stream the reasoning and the answer, then step aside.

Only the main thread touches widgets (the runner calls ``update`` from there). Each refresh
re-sends only what changed: finished Markdown blocks are frozen into their own Output widget
and never sent again; only the growing tail is re-rendered.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable
from typing import Any

from qwen_magic.render.markdown import close_open_fence, split_in_code, split_stable
from qwen_magic.render.safe import safe_html, safe_markdown
from qwen_magic.render.static import thinking_summary, to_bundle, usage_line
from qwen_magic.request import Request
from qwen_magic.result import Result


def _markdown_output(text: str, mime: str = "text/markdown") -> dict[str, Any]:
    return {
        "output_type": "display_data",
        "data": {mime: text, "text/plain": text},
        "metadata": {},
    }


class MarkdownStream:
    """A growing Markdown text: frozen blocks + one tail, each rendered by the frontend.

    Each piece is its own Markdown document, made safe on its own (model text is untrusted):
    a frozen block once, the tail at each refresh.
    """

    def __init__(
        self, min_tail: int = 800, mime: str = "text/markdown", freeze_every: float = 1.0
    ) -> None:
        import ipywidgets as w

        self._w = w
        self.mime = mime
        self.freeze_every = freeze_every  # seconds: each freeze costs a new widget
        self._last_freeze = time.monotonic()
        self.min_tail = min_tail
        self.tail = w.Output()
        self.box = w.VBox([self.tail])
        self._frozen_len = 0
        self._carry = ""  # reopens a code block that a freeze closed
        self._shown = ""

    def show(self, text: str) -> None:
        if text == self._shown:
            return
        self._shown = text
        if self.mime != "text/markdown":  # HTML can't be cut into blocks safely
            self.tail.outputs = (_markdown_output(safe_html(text), self.mime),)
            return
        tail = self._carry + text[self._frozen_len :]
        now = time.monotonic()
        if now - self._last_freeze >= self.freeze_every:
            self._freeze(tail, now)
            tail = self._carry + text[self._frozen_len :]
        shown = safe_markdown(close_open_fence(tail)) if tail else ""
        self.tail.outputs = (_markdown_output(shown),) if shown else ()

    def _freeze(self, tail: str, now: float) -> None:
        """Render the finished part of ``tail`` once, in its own widget."""
        stable, used, carry = *split_stable(tail, self.min_tail), ""
        if stable:
            used = len(stable)
        else:
            split = split_in_code(tail, self.min_tail)
            if split is None:
                return
            stable, used, carry = split
        self._last_freeze = now
        frozen = self._w.Output(outputs=(_markdown_output(safe_markdown(stable)),))  # one message
        self.box.children = (*self.box.children[:-1], frozen, self.tail)
        self._frozen_len += used - len(self._carry)
        self._carry = carry


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
        inputs = [thumbnail_row(request.media)] if request.media else []
        self._box = w.VBox([top, *inputs, self.thinking, self.answer.box, self.footer])
        self._answer_started = False
        self._footer_state: tuple[int, object] | None = None
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
        # The footer's clock changes every refresh: refresh it about once a second, or when
        # the token counts change, so it doesn't double the UI traffic.
        elapsed = int(result.elapsed or 0)
        if (elapsed, result.usage) != self._footer_state:
            self._footer_state = (elapsed, result.usage)
            line = usage_line(result, name_model=False)  # the header names the model
            self.footer.value = f"<small>{html.escape(line)}</small>"

    def finish(self, result: Result) -> None:
        self.handle.update(to_bundle(result), raw=True)
        self.close()

    def close(self) -> None:
        """Free every widget model; the static output has replaced them."""
        if self._box is not None:
            close_tree(self._box)
            self._box = None


def thumbnail_row(media: list[Any]) -> Any:
    """The inputs, small, before the answer: each thumbnail captioned with where it came from.
    A URL image is shown by the browser from its URL (the kernel never downloads it)."""
    import ipywidgets as w

    cells = []
    for item in media:
        title = html.escape(item.describe(), quote=True)
        if item.thumbnail is not None:  # (no tooltip: ImageView fails on one, ipywidgets 8.1)
            picture = w.Image(value=item.thumbnail, format="jpeg")
        elif item.is_remote and item.kind == "image":
            url = html.escape(item.url or "", quote=True)
            picture = w.HTML(
                f'<img src="{url}" title="{title}" style="max-height:96px;max-width:128px">'
            )
        else:
            picture = w.HTML(f"<small>🎞 {title}</small>")
        caption = w.HTML(f'<small title="{title}">{html.escape(item.source)}</small>')
        cells.append(w.VBox([picture, caption], layout=w.Layout(align_items="center")))
    return w.HBox(cells, layout=w.Layout(flex_flow="row wrap", grid_gap="8px"))


def close_tree(widget: Any) -> None:
    """Close a widget, its children and its layout/style models (``close`` alone leaks those).

    Outputs holding answer text are emptied first: a notebook executed headless (nbclient,
    papermill) saves the last state of every widget, and would keep a second copy.
    """
    for child in getattr(widget, "children", ()):
        close_tree(child)
    if getattr(widget, "outputs", None):
        widget.outputs = ()
    if isinstance(getattr(widget, "value", None), memoryview) and widget.value:
        widget.value = b""  # an input's thumbnail: the static output has its own copy
    for sub in (getattr(widget, "layout", None), getattr(widget, "style", None)):
        if sub is not None:
            sub.close()
    widget.close()
