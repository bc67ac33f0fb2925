"""The live view over N runs: a grid of answer panels or a progress view, one Stop for all,
then the static output. Counts and order, not timings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from IPython.utils.capture import capture_output

from qwen_magic.render.live import AnswerPanel, LiveRenderer
from qwen_magic.render.static import bundle_of
from qwen_magic.result import Result
from qwen_magic.runner import execute_many
from qwen_magic.testing import Reply, request_for

MODELS = ["qwen-plus", "qwen-max", "qwen3.5-plus"]


class Watched(LiveRenderer):
    """Records the widget tree as it was just before the static output replaced it."""

    def finish(self, results: Sequence[Result] | Result) -> None:
        self.seen: dict[str, Any] = {
            "children": len(self._box.children),
            "headers": [p.header.value for p in self.panels],
            "answers": [p.answer._shown for p in self.panels],
            "status": self.status.value,
        }
        if self.layout == "grid":
            self.seen["grid"] = len(self._box.children[1].children)
        if self.layout == "progress":
            self.seen["bar"] = (self.bar.value, self.bar.max)
        super().finish(results)


def test_the_grid_holds_one_panel_per_variant_headed_by_it(ip, emulator) -> None:
    requests = [request_for(emulator, model=m, prompt=f"to {m}") for m in MODELS]
    view = Watched()
    with capture_output() as cap:
        results = execute_many(requests, view, interval=0.01, concurrency=3)
    assert view.layout == "grid" and view.seen["grid"] == 3
    assert view.seen["headers"] == [f"<small><b>{m}</b></small>" for m in MODELS]
    # each panel streams its own answer (the last refresh may come before the last one ends)
    shown = zip(view.seen["answers"], MODELS, strict=True)
    assert all(f"Echo: to {m}".startswith(a) for a, m in shown)
    assert [r.text for r in results] == [f"Echo: to {m}" for m in MODELS]
    # the live view is replaced by the static grid, and every widget is freed
    assert view._box is None and view.panels == []
    (display,) = [o for o in cap.outputs if "text/html" in o.data]
    assert display.data["text/html"].count("<td ") == 3


def test_one_stop_in_the_grid_stops_every_panel(ip, emulator) -> None:
    emulator.queue(*[Reply(text="w " * 300, chunks=300, delay=0.02, reasoning="")] * 3)

    class ClickWhenAllStream(Watched):
        def update(self, results: Any, ended: Sequence[bool] = ()) -> None:
            super().update(results, ended)
            if all(r is not None and r.text for r in results):
                self.stop_button.click()  # what a browser's click does

    requests = [request_for(emulator, model=m) for m in MODELS]
    view = ClickWhenAllStream()
    with capture_output():
        results = execute_many(requests, view, interval=0.01, concurrency=3)
    assert all(r.interrupted and r.text.startswith("w ") for r in results)
    assert all(len(r.text) < len("w " * 300) for r in results)


def test_the_progress_view_counts_and_follows_one_answer(ip, emulator) -> None:
    requests = [request_for(emulator, prompt=f"item {i}") for i in range(8)]
    view = Watched()  # more than a grid holds: "auto" picks the progress view
    with capture_output() as cap:
        results = execute_many(requests, view, interval=0.01, concurrency=3)
    assert view.layout == "progress"
    assert view.seen["bar"][1] == 8 and "/8 done" in view.seen["status"]
    assert len(view.seen["headers"]) == 1  # one small live panel, not eight
    assert [r.text for r in results] == [f"Echo: item {i}" for i in range(8)]
    markdown = cap.outputs[-1].data["text/markdown"]
    assert markdown.startswith("**8/8 done")
    rows = [line for line in markdown.splitlines() if line.startswith("| ")]
    assert len(rows) == 1 + 8 and rows[8].startswith("| 8 | Echo: item 7 |")


def test_an_answer_panel_does_not_display_itself(ip, emulator) -> None:
    with capture_output() as cap:
        panel = AnswerPanel(request_for(emulator), "qwen-max · t=0.9")
        panel.update(Result(text="Hello", model="qwen-max"))
    assert cap.outputs == []
    assert panel.answer._shown == "Hello" and "t=0.9" in panel.header.value
    panel.close()
    assert panel.widget is None


def test_the_static_grid_shows_model_text_inertly() -> None:
    hostile = "<img src=x onerror=alert(1)> [x](javascript:alert(1)) <script>alert(2)</script>"
    results = [Result(text=hostile, model="a"), Result(text="**fine** | pipe", model="b")]
    bundle = bundle_of(results, ["<b>a</b>", "b"])
    html = bundle["text/html"]
    assert "onerror" not in html.replace("onerror=alert(1)&gt;", "")  # only as escaped text
    assert "<script" not in html and "javascript:" not in html.split("</th>")[-1].replace(
        "[x](javascript:alert(1))", ""
    )
    assert "&lt;b&gt;a&lt;/b&gt;" in html  # a title is text too
    assert "<strong>fine</strong>" in html  # Markdown is rendered in the cell
    assert "<script" not in bundle["text/markdown"]
