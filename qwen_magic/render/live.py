"""The live view: ipywidgets that stream the reasoning and the answers, then step aside.

An ``AnswerPanel`` draws one answer (header, thumbnails, reasoning, answer, footer) and does
not display itself; ``LiveRenderer`` owns the display and the one Stop, and shows one panel, a
grid of panels side by side, or a progress view over many runs. At the end the static output
(``static.bundle_of``) replaces it all.

Only the main thread touches widgets (the runner calls ``update`` from there). Each refresh
re-sends only what changed: finished Markdown blocks are frozen into their own Output widget
and never sent again; only the growing tail is re-rendered.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable, Sequence
from typing import Any

from qwen_magic.render import listed, variant_titles
from qwen_magic.render.chips import chips_widgets
from qwen_magic.render.markdown import freeze_cut, live_tail
from qwen_magic.render.safe import safe_html, safe_markdown
from qwen_magic.render.speech import input_audio_widget, speech_progress
from qwen_magic.render.static import (
    GRID_MAX,
    bundle_of,
    counts_line,
    first_line,
    thinking_summary,
    usage_line,
)
from qwen_magic.request import Request
from qwen_magic.result import Result

# What the live view may cost: a frozen piece holds at least PIECE characters; the growing tail
# is re-sent only when the answer bytes that arrived since pay for it at BUDGET bytes each, or
# when it has waited MAX_WAIT seconds (a slow stream still moves); GROUP frozen pieces share a
# box, so a freeze re-sends at most GROUP widget ids. Together they keep what goes to the
# browser near 5 bytes per byte of answer, whatever the answer's shape (benchmarks/).
PIECE = 800
BUDGET = 3.0
MAX_WAIT = 0.5
GROUP = 8
SEND_COST = 160  # bytes of a tail message besides its text
ANSWER_HEIGHT = "60vh"  # the live answer scrolls within this; the static output is full length
REASONING_HEIGHT = "30vh"


# Our own constant CSS (never model text), scoped to the live view: the "Thought for …" title
# reads like the static output's <summary> (not grey on grey), and the pieces of a stream read
# as one Markdown document (no padding between outputs, a paragraph's spacing between pieces).
LIVE_CSS = """
.qwen-live .jupyter-widget-Collapse-header,
.qwen-live .jupyter-widget-Collapse-open > .jupyter-widget-Collapse-header {
  color: var(--jp-content-font-color1); background: none; border: none; font-weight: normal;
  font-size: var(--jp-content-font-size1); line-height: var(--jp-content-line-height);
  padding: 0; cursor: pointer;
}
.qwen-live .jupyter-widget-Collapse-header:hover { color: var(--jp-content-font-color0); }
.qwen-live .jupyter-widget-Collapse-contents { background: none; padding: 0 0 0 12px;
  border: none; border-left: 3px solid var(--jp-border-color2); }
.qwen-live-scroll .jupyter-widgets { margin: 0; }
.qwen-live-scroll .jp-OutputArea-child { padding: 0; border: none; }
.qwen-live-scroll .jp-OutputArea-output { padding: 0; border: none; overflow: visible; }
.qwen-live-scroll .jp-RenderedHTMLCommon > *:last-child { margin-bottom: 1em; }
"""


def _markdown_output(text: str, mime: str = "text/markdown") -> dict[str, Any]:
    """One output of a live piece: the text the frontend renders, nothing else (no
    ``text/plain`` twin: the live view is never saved, the static output has one)."""
    return {"output_type": "display_data", "data": {mime: text}, "metadata": {}}


class MarkdownStream:
    """A growing Markdown text: frozen pieces + one tail, each rendered by the frontend,
    in a box of at most ``max_height`` that scrolls and keeps to the end.

    Each piece is its own Markdown document, made safe on its own (model text is untrusted):
    a frozen piece once, the tail when it is re-sent. Pieces are cut where the text renders the
    same on its own (``markdown.freeze_cut``): between blocks, list items or table rows, inside
    code blocks and long paragraphs. The box is a flex column in reverse, so the browser keeps
    its end in view as it grows, and keeps still when the user has scrolled up.
    """

    def __init__(
        self,
        piece: int = PIECE,
        mime: str = "text/markdown",
        budget: float = BUDGET,
        max_wait: float = MAX_WAIT,
        max_height: str | None = ANSWER_HEIGHT,
        layout: Any = None,
    ) -> None:
        """``layout``: a plain ``Layout`` to share (the panel's), else one of its own."""
        import ipywidgets as w

        self._w = w
        self.mime = mime
        self.piece = piece
        self.budget = budget  # 0: re-send the tail at every change
        self.max_wait = max_wait
        # shared by every piece and group: one model, not one each
        self._layout = layout if layout is not None else w.Layout()
        self.tail = w.Output(layout=self._layout)
        self._frozen: list[Any] = []
        self._groups: list[Any] = []
        self.inner = w.VBox([self.tail], layout=w.Layout(flex="0 0 auto"))
        self.box = w.Box(
            [self.inner],
            layout=w.Layout(
                display="flex",
                flex_flow="column-reverse",  # scrolled to the end unless the user scrolls up
                max_height=max_height,
                overflow="auto" if max_height else None,
            ),
        )
        self.box.add_class("qwen-live-scroll")
        self._frozen_len = 0
        self._carry = ""  # reopens a code block / repeats a table header that a freeze cut
        self._shown = ""
        self._tail_body = ""
        self._sent_len = 0  # length of the text when the tail was last sent
        self._sent_at = 0.0

    def pieces(self) -> list[Any]:
        """Every Output of the stream, in order: the frozen pieces, then the tail."""
        return [*self._frozen, self.tail]

    def show(self, text: str) -> None:
        if text == self._shown:
            return
        if not text.startswith(self._shown):
            self._restart()
        self._shown = text
        now = time.monotonic()
        if self.mime != "text/markdown":  # HTML can't be cut into blocks safely
            self._send(safe_html(text), len(text), now, force=False)
            return
        froze = False
        while True:
            cut = freeze_cut(self._carry + text[self._frozen_len :], self.piece)
            if cut is None:
                break
            self._freeze(safe_markdown(cut.head))
            self._frozen_len += cut.used - len(self._carry)
            self._carry = cut.carry
            froze = True
        tail = self._carry + text[self._frozen_len :]
        body = safe_markdown(live_tail(tail)) if tail.strip() else ""
        self._send(body, len(text), now, force=froze)

    def _send(self, body: str, length: int, now: float, *, force: bool) -> None:
        """Re-send the tail when it changed and it is worth its bytes (or waited long)."""
        if body == self._tail_body:
            return
        arrived = length - self._sent_len
        if not (
            force
            or not self._tail_body  # the first words show at once
            or self.budget <= 0
            or arrived * self.budget >= len(body) + SEND_COST
            or now - self._sent_at >= self.max_wait
        ):
            return
        self._tail_body, self._sent_len, self._sent_at = body, length, now
        self.tail.outputs = (_markdown_output(body, self.mime),) if body else ()

    def _freeze(self, markdown: str) -> None:
        """Render a finished piece once, in its own widget (one message: its state)."""
        w = self._w
        frozen = w.Output(outputs=(_markdown_output(markdown),), layout=self._layout)
        self._frozen.append(frozen)
        if not self._groups or len(self._groups[-1].children) >= GROUP:
            group = w.VBox([frozen], layout=self._layout)
            self._groups.append(group)
            self.inner.children = (*self._groups, self.tail)
        else:
            self._groups[-1].children = (*self._groups[-1].children, frozen)

    def _restart(self) -> None:
        """The text was replaced, not extended: start over (frees the frozen pieces)."""
        for frozen in self._frozen:
            frozen.outputs = ()
            frozen.close()  # (not close_tree: the layout is shared with the tail)
        for group in self._groups:
            group.close()
        self._frozen, self._groups = [], []
        self.inner.children = (self.tail,)
        self._frozen_len, self._carry, self._tail_body, self._sent_len = 0, "", "", 0


class AnswerPanel:
    """One answer as a widget tree (header, thumbnails, reasoning, answer, footer) that does
    not display itself: a view places ``.widget``, feeds ``update(result)``, then ``close()``s.
    """

    def __init__(
        self,
        request: Request,
        title: str | None = None,
        extra: Sequence[Any] = (),
        stop: Any = None,
    ):
        """``stop``: the one answer's Stop button, shown in the footer's row; the panel then
        has no header (the footer names the model, as the static output's last line does), so
        the static output takes the live view's place without a jump."""
        import ipywidgets as w

        if title is None:
            title = variant_titles([request])[0]
        self.request = request
        self.refreshes = 0
        # Widgets with nothing of their own to lay out share one Layout (and the HTML ones one
        # style): each is a model the browser is sent, and a panel is made for every cell.
        self._plain = w.Layout()
        # The reasoning section is made when reasoning first arrives (most answers have none).
        self.reasoning: MarkdownStream | None = None
        self.thinking: Any = None
        mime = "text/html" if request.format == "html" else "text/markdown"
        self.answer = MarkdownStream(mime=mime, layout=self._plain)
        self.footer = w.HTML("<small>connecting…</small>", layout=self._plain)
        # --tools: a folded row per call (and Run/Skip), before the answer; --search: sources
        self.tool_rows: Any = _tool_rows() if request.tools else None
        self.sources: Any = _sources_widget() if request.search else None
        extras = [x.widget for x in (self.tool_rows,) if x is not None]
        after = [self.sources] if self.sources is not None else []
        self.speech: Any = w.HTML(speech_progress(None)) if request.voice else None
        after += [self.speech] if self.speech is not None else []  # --voice: speech so far
        inputs = [thumbnail_row(request.media)] if request.media else []
        inputs += chips_widgets(request.attachments)
        self._name_model = stop is not None
        if stop is None:
            self.header: Any = w.HTML(
                f"<small><b>{html.escape(title)}</b></small>",
                layout=self._plain,
                style=self.footer.style,  # (one HTML style for the panel)
            )
            top = [w.HBox([self.header, *extra], layout=w.Layout(align_items="center"))]
            bottom: Any = self.footer
        else:
            self.header, top = None, []
            bottom = w.HBox([stop, self.footer, *extra], layout=w.Layout(align_items="center"))
        self._thinking_at = len(top) + len(inputs)  # where the reasoning section goes
        self.widget: Any = w.VBox(
            [*top, *inputs, *extras, self.answer.box, *after, bottom], layout=self._plain
        )
        self.widget.add_class("qwen-live")
        self._answer_started = False
        self._footer_state: tuple[int, object, object] | None = None

    def update(self, result: Result) -> None:
        self.refreshes += 1
        if result.reasoning:
            self._reasoning_section(result).show(result.reasoning)
        if result.text and not self._answer_started:
            self._answer_started = True
            if self.thinking is not None:
                self.thinking.selected_index = None  # collapse when the answer begins
                self.thinking.set_title(0, thinking_summary(result))
        if self.tool_rows is not None:
            self.tool_rows.show(result.steps)
        self.answer.show(result.text)
        if self.sources is not None:
            from qwen_magic.render.sources import show_sources

            show_sources(self.sources, result.sources)
        if self.speech is not None and result.audio is not None:
            line = speech_progress(result.audio)
            if line != self.speech.value:
                self.speech.value = line
        # The footer's clock changes every refresh: refresh it about once a second, or when
        # the token counts change, so it doesn't double the UI traffic.
        elapsed = int(result.elapsed or 0)
        retry = result.retry and result.retry.attempt  # a retry announced, or ended
        if (elapsed, result.usage, retry) != self._footer_state:
            self._footer_state = (elapsed, result.usage, retry)
            line = usage_line(result, name_model=self._name_model)  # (or the header does)
            self.footer.value = f"<small>{html.escape(line)}</small>"

    def _reasoning_section(self, result: Result) -> MarkdownStream:
        """The folding "Thinking…" section, made (open) the first time reasoning arrives."""
        if self.reasoning is None:
            import ipywidgets as w

            self.reasoning = MarkdownStream(max_height=REASONING_HEIGHT, layout=self._plain)
            started = self._answer_started  # (reasoning after the answer: a later tool round)
            self.thinking = w.Accordion(
                children=[self.reasoning.box], selected_index=None if started else 0
            )
            self.thinking.set_title(0, thinking_summary(result) if started else "Thinking…")
            children = list(self.widget.children)
            children.insert(self._thinking_at, self.thinking)
            self.widget.children = tuple(children)
        return self.reasoning

    def close(self) -> None:
        """Free every widget model of the panel."""
        if self.widget is not None:
            close_tree(self.widget)
            self.widget = None


class LiveRenderer:
    """The display owner: one panel, a grid of panels, or a progress view, with one Stop.

    ``layout``: "single" (one answer), "grid" (N answers side by side, each headed by its
    variant), "progress" (done/total, failures, and a small live panel of one answer), or
    "auto" (single for one request, grid up to ``GRID_MAX``, progress beyond).
    """

    def __init__(
        self,
        stoppable: bool = True,
        layout: str = "auto",
        titles: Sequence[str] | None = None,
    ) -> None:
        self.stoppable = stoppable  # False when a click could not arrive before the cell ends
        self.layout = layout
        self.titles = list(titles) if titles is not None else None
        self.refreshes = 0
        self.panels: list[AnswerPanel] = []
        self._box: Any = None

    def start(self, requests: Sequence[Request] | Request, on_stop: Callable[[], None]) -> None:
        import ipywidgets as w
        from IPython.display import display

        self.requests = listed(requests)
        n = len(self.requests)
        if self.titles is None or len(self.titles) != n:
            self.titles = variant_titles(self.requests)
        if self.layout == "auto":
            self.layout = "single" if n == 1 else "grid" if n <= GRID_MAX else "progress"
        self.stop_button = w.Button(
            description="Stop",
            icon="stop",
            tooltip="Stop the answer here (keeps what has arrived)",
            layout=w.Layout(width="auto"),
        )
        self.stop_button.on_click(lambda _button: on_stop())
        if not self.stoppable:
            self.stop_button.layout.display = "none"
        self._seen: list[Result | None] = [None] * n
        self._status_text = ""
        if self.layout == "single" and n == 1:
            panel = AnswerPanel(self.requests[0], self.titles[0], stop=self.stop_button)
            self.panels = [panel]
            self._box = panel.widget
        elif self.layout == "progress":
            self.status = w.HTML(f"<small>0/{n} done</small>")
            self.bar = w.IntProgress(value=0, min=0, max=max(1, n), layout=w.Layout(width="auto"))
            self.slot = w.VBox([])  # the small live panel of one answer
            self._followed: int | None = None
            top = w.HBox([self.status, self.stop_button], layout=w.Layout(align_items="center"))
            self._box = w.VBox([top, self.bar, self.slot])
        else:
            self.layout = "grid"
            self.panels = [
                AnswerPanel(r, t) for r, t in zip(self.requests, self.titles, strict=True)
            ]
            self.status = w.HTML(f"<small>0/{n} done</small>")
            top = w.HBox([self.status, self.stop_button], layout=w.Layout(align_items="center"))
            grid = w.GridBox(
                [p.widget for p in self.panels],
                layout=w.Layout(
                    grid_template_columns=f"repeat({n}, minmax(0, 1fr))", grid_gap="12px"
                ),
            )
            self._box = w.VBox([top, grid])
        style = w.HTML(f"<style>{LIVE_CSS}</style>", layout=w.Layout(display="none"))
        self._box.children = (*self._box.children, style)
        self.handle = display(widget_view(self._box), raw=True, display_id=True)

    def update(self, results: Sequence[Result | None] | Result, ended: Sequence[bool] = ()) -> None:
        self.refreshes += 1
        shown = listed(results)
        if self.layout == "progress":
            self._update_progress(shown, ended)
            return
        for index, (panel, result) in enumerate(zip(self.panels, shown, strict=False)):
            if result is not None and result is not self._seen[index]:
                self._seen[index] = result
                panel.update(result)
        if self.layout == "grid":
            self._status(counts_line(shown, ended or None))

    def _update_progress(self, results: Sequence[Result | None], ended: Sequence[bool]) -> None:
        done = [i for i, r in enumerate(results) if r is not None and (ended and ended[i])]
        self.bar.value = len(done)
        self._status(counts_line(results, ended or None))
        in_flight = [i for i, r in enumerate(results) if r is not None and not (ended and ended[i])]
        followed = self._followed
        if followed is None or (
            ended and ended[followed] and results[followed] is self._seen[followed]
        ):
            # follow the latest run in flight; with none, the last one that ended
            pick = in_flight[-1] if in_flight else (done[-1] if done else None)
            if pick is not None and pick != followed:
                old = self.panels
                titles = self.titles or []
                title = f"{titles[pick]}: {first_line(self.requests[pick].prompt, 60)}"
                panel = AnswerPanel(self.requests[pick], title)
                self.panels = [panel]
                self.slot.children = (panel.widget,)
                for gone in old:
                    gone.close()
                self._followed = followed = pick
        if followed is not None:
            result = results[followed]
            if result is not None and result is not self._seen[followed]:
                self._seen[followed] = result
                self.panels[0].update(result)

    def _status(self, text: str) -> None:
        if text != self._status_text:
            self._status_text = text
            self.status.value = f"<small>{html.escape(text)}</small>"

    def finish(self, results: Sequence[Result] | Result) -> None:
        final = listed(results)
        layout = {"single": "single", "grid": "grid", "progress": "table"}.get(self.layout, "auto")
        self.handle.update(bundle_of(final, self.titles, layout), raw=True)
        self.close()

    def close(self) -> None:
        """Free every widget model; the static output has replaced them."""
        if self._box is not None:
            close_tree(self._box)
            self._box = None
        for panel in self.panels:
            panel.widget = None  # (closed with the box, or below)
        self.panels = []


def widget_view(widget: Any, text: str = "qwen: answering… (a live view of widgets)") -> dict:
    """The display bundle of ``widget``: what ``display(widget)`` sends, with a short
    ``text/plain`` instead of the repr of the whole widget tree (which costs more than the
    widgets); the static output replaces it at the end."""
    view = {"version_major": 2, "version_minor": 0, "model_id": widget.model_id}
    return {"application/vnd.jupyter.widget-view+json": view, "text/plain": text}


def _tool_rows() -> Any:
    from qwen_magic.render.tools import ToolRows

    return ToolRows()


def _sources_widget() -> Any:
    from qwen_magic.render.sources import sources_widget

    return sources_widget()


def thumbnail_row(media: list[Any]) -> Any:
    """The inputs, small, before the answer: each thumbnail captioned with where it came from.
    A URL image is shown by the browser from its URL (the kernel never downloads it)."""
    import ipywidgets as w

    cells = []
    for item in media:
        title = html.escape(item.describe(), quote=True)
        if item.thumbnail is not None:  # (no tooltip: ImageView fails on one, ipywidgets 8.1)
            picture = w.Image(value=item.thumbnail, format="jpeg")
        elif item.kind == "audio":  # -a: a small player
            picture = input_audio_widget(item)
        elif item.is_remote and item.kind == "image":
            url = html.escape(item.url or "", quote=True)
            picture = w.HTML(
                f'<img src="{url}" title="{title}" style="max-height:96px;max-width:128px">'
            )
        else:
            picture = w.HTML(f"<small>🎞 {title}</small>")
        caption = w.HTML(f'<small title="{title}">{html.escape(item.source)}</small>')
        cells.append(  # pictures of different heights: captions on one line, at the bottom
            w.VBox(
                [picture, caption],
                layout=w.Layout(align_items="center", justify_content="flex-end"),
            )
        )
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
