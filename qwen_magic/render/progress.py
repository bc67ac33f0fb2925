"""``--each``: one progress view over many answers, and a compact table when they are done.

Live: a status line (done/total, failures, tokens, elapsed, ETA, how many run at once), a
bar, one Stop, and the latest answer as a small panel. It refreshes at most every
``MIN_INTERVAL`` seconds and sends only the widgets that changed, so the messages to the
browser per second stay bounded whatever the number of prompts or the concurrency. The
static output is a table of the first rows and the counts, never N full answers.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable, Sequence
from typing import Any

from qwen_magic.render import listed
from qwen_magic.render.safe import markdown_html, plain_markdown, plain_text
from qwen_magic.render.static import TABLE_ROWS, counts_line, first_line, status_of
from qwen_magic.request import Request
from qwen_magic.result import Result
from qwen_magic.results import total_usage

PANEL_CHARS = 600  # of the latest answer, in the small live panel


def clock(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    minutes, seconds = divmod(seconds, 60)
    return f"{minutes}:{seconds:02d}" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}"


def status_text(
    results: Sequence[Result | None],
    ended: Sequence[bool] | None,
    elapsed: float,
    level: tuple[int, int] | None = None,
) -> str:
    """``12/64 done · 1 failed · 3,456 tokens out · 0:07 · ETA 0:30 · 16 at once``."""
    bits = [counts_line(results, ended)]
    done = sum(1 for i, r in enumerate(results) if r is not None and (ended is None or ended[i]))
    bits.append(clock(elapsed))
    if 0 < done < len(results):
        bits.append(f"ETA {clock(elapsed / done * (len(results) - done))}")
    if level is not None:
        now, ceiling = level
        bits.append(f"{now} at once" + (f" (of {ceiling}: rate-limited)" if now < ceiling else ""))
    return " · ".join(bits)


def each_bundle(
    results: Sequence[Result], items: Sequence[str], *, rows: int = TABLE_ROWS
) -> dict[str, str]:
    """Counts, token totals and the first ``rows`` rows (item, answer's first line, status)."""
    shown = list(zip(items, results, strict=False))[:rows]
    more = len(results) - len(shown)
    usage = total_usage(results)
    totals = counts_line(results)
    if usage.input_tokens:
        totals += f" · {usage.input_tokens:,} tokens in"
    table = ["| # | item | answer | status |", "|---|---|---|---|"]
    table += [
        f"| {i} | {plain_markdown(first_line(item, 40))} | "
        f"{plain_markdown(first_line(r.text, 80))} | {plain_markdown(status_of(r))} |"
        for i, (item, r) in enumerate(shown)
    ]
    tail = f"*… and {more} more: the Results hold them all (`.texts`, `.to_pandas()`).*"
    lines = [f"**{plain_markdown(totals)}**", "", *table, *(["", tail] if more else [])]
    markdown = "\n".join(lines)
    plain = [totals]
    plain += [
        f"{i}: {first_line(item, 40)} → {first_line(r.text, 80)} [{status_of(r)}]"
        for i, (item, r) in enumerate(shown)
    ]
    if more:
        plain.append(f"… and {more} more")
    return {"text/markdown": markdown, "text/plain": plain_text("\n".join(plain))}


class ProgressView:
    """The live view of ``--each`` (``final=True``: only the table at the end)."""

    MIN_INTERVAL = 0.25  # seconds between refreshes: ≤ 4 refreshes × 3 widgets a second

    def __init__(
        self,
        items: Sequence[str],
        *,
        stoppable: bool = True,
        level: Callable[[], tuple[int, int]] | None = None,
        final: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.items = list(items)
        self.stoppable = stoppable
        self.level = level
        self.final = final
        self.clock = clock
        self.refreshes = 0
        self._box: Any = None
        self._last = -1e9
        self._shown: dict[str, Any] = {}

    def start(self, requests: Sequence[Request] | Request, on_stop: Callable[[], None]) -> None:
        self.started = self.clock()
        self.total = len(listed(requests))
        if self.final:
            return
        import ipywidgets as w
        from IPython.display import display

        self.status = w.HTML(f"<small>0/{self.total} done</small>")
        self.bar = w.IntProgress(value=0, min=0, max=max(1, self.total))
        stop = w.Button(description="Stop", icon="stop", layout=w.Layout(width="auto"))
        stop.tooltip = "Stop every answer (keeps the ones that finished)"
        stop.on_click(lambda _button: on_stop())
        if not self.stoppable:
            stop.layout.display = "none"
        self.panel = w.HTML("")
        top = w.HBox([self.bar, stop, self.status], layout=w.Layout(align_items="center"))
        self._box = w.VBox([top, self.panel])
        from qwen_magic.render.live import widget_view

        view = widget_view(self._box, f"qwen: {self.total} answers… (a live view of widgets)")
        self.handle = display(view, raw=True, display_id=True)

    def due(self) -> bool:
        """Whether the next ``update`` refreshes (the runner snapshots the runs only then)."""
        return self._box is not None and self.clock() - self._last >= self.MIN_INTERVAL

    def update(self, results: Sequence[Result | None] | Result, ended: Sequence[bool] = ()) -> None:
        if not self.due():
            return
        now = self.clock()
        self._last = now
        self.refreshes += 1
        shown = listed(results)
        finished = [bool(e) for e in ended] if ended else [r is not None for r in shown]
        level = self.level() if self.level is not None else None
        status = status_text(shown, finished, now - self.started, level)
        self._set("status", f"<small>{html.escape(status)}</small>")
        self._set_bar(sum(1 for i, r in enumerate(shown) if r is not None and finished[i]))
        self._set("panel", self._panel(shown, finished))

    def _panel(self, results: Sequence[Result | None], ended: Sequence[bool]) -> str:
        """The latest answer that ended, or else the longest-running one in flight."""
        pick = None
        for index in range(len(results) - 1, -1, -1):
            if results[index] is not None and ended[index] and results[index].text:  # type: ignore[union-attr]
                pick = index
                break
        if pick is None:
            flying = [i for i, r in enumerate(results) if r is not None and not ended[i]]
            pick = flying[0] if flying else None
        if pick is None:
            return ""
        result = results[pick]
        assert result is not None
        text = result.text[:PANEL_CHARS] + ("…" if len(result.text) > PANEL_CHARS else "")
        item = html.escape(first_line(self.items[pick] if pick < len(self.items) else "", 60))
        body = markdown_html(text) if text else "<em>thinking…</em>" if result.reasoning else ""
        return (
            f'<div style="font-size:90%;max-height:12em;overflow:auto;opacity:0.85">'
            f"<small><b>{pick}</b> · {item}</small>{body}</div>"
        )

    def _set(self, name: str, value: str) -> None:
        if self._shown.get(name) != value:
            self._shown[name] = value
            getattr(self, name).value = value

    def _set_bar(self, value: int) -> None:
        if self._shown.get("bar") != value:
            self._shown["bar"] = value
            self.bar.value = value

    def finish(self, results: Sequence[Result] | Result) -> None:
        from IPython.display import publish_display_data

        bundle = each_bundle(listed(results), self.items)
        if self._box is None:
            publish_display_data(bundle)
            return
        self.handle.update(bundle, raw=True)
        from qwen_magic.render.live import close_tree

        close_tree(self._box)
        self._box = None
