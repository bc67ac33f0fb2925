"""Tool calls as rows: ``get_weather(city="Paris") → {"temp": 21} · 0.02 s``.

One function, ``row_text``, says a call; the static output folds each row into a
``<details>`` with the whole arguments and result, the live view lists them in a folded
section (and asks Run/Skip for a ``confirm=True`` tool), the terminal prints them.
The arguments and results are untrusted (the model wrote the arguments; a tool may return
anything): every character of them is shown as text.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from typing import Any

from qwen_magic.render.markdown import fenced
from qwen_magic.render.safe import plain_text, safe_markdown
from qwen_magic.result import Result, Step

CALL_WIDTH = 80  # characters of the call shown in a row
RESULT_WIDTH = 60  # characters of the result shown in a row
_PUNCT = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")


def call_text(step: Step, width: int = CALL_WIDTH) -> str:
    """``get_weather(city="Paris", days=2)``: the arguments as the model wrote them."""
    try:
        arguments = json.loads(step.arguments) if step.arguments.strip() else {}
    except ValueError:
        arguments = None
    if isinstance(arguments, dict):
        inner = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in arguments.items())
    else:
        inner = step.arguments
    return _cut(f"{step.name}({' '.join(inner.split())})", width)


def outcome_text(step: Step, width: int = RESULT_WIDTH) -> str:
    """What came of a call, short: its result, its error, or why it did not run."""
    if step.status == "asked":
        return "…"
    if step.status == "running":
        return "running…"
    if step.status == "waiting":
        return "waiting for you: Run or Skip"
    if step.status == "stopped":
        return "■ stopped"
    if step.status == "not run":
        return "not run"
    if step.status == "refused":
        return "⊘ not run: it asks first (confirm=True); --yes allows it"
    if step.status == "skipped":
        return "⊘ skipped"
    if step.error:
        return _cut(f"⚠ {step.error}", width)
    return _cut(" ".join(step.result.split()), width)


def row_text(step: Step) -> str:
    """``get_weather(city="Paris") → {"temp": 21} · 0.02 s``."""
    return f"{call_text(step)} → {outcome_text(step)}{_took(step)}"


def _took(step: Step) -> str:
    if step.seconds is None or step.status not in ("ok", "error"):
        return ""
    return f" · {step.seconds:.2f} s"


def summary_text(steps: Sequence[Step]) -> str:
    """``🔧 2 tool calls · 0.05 s`` (the folded section's title)."""
    n = len(steps)
    seconds = sum(s.seconds or 0.0 for s in steps)
    failed = sum(1 for s in steps if s.status == "error")
    bits = [f"🔧 {n} tool call{'s' if n != 1 else ''}"]
    if failed:
        bits.append(f"{failed} failed")
    if seconds:
        bits.append(f"{seconds:.2f} s")
    return " · ".join(bits)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _inert(text: str) -> str:
    """Text that no Markdown, HTML or math renderer reads as anything but text."""
    return "".join(f"&#{ord(c)};" if c in _PUNCT else c for c in " ".join(text.split()))


def _pretty(text: str) -> tuple[str, str]:
    """Pretty JSON (and "json"), or the text as it is."""
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False), "json"
    except ValueError:
        return text, "text"


# ------------------------------------------------------------------------------ static
def tools_markdown(result: Result) -> list[str]:
    """One folded ``<details>`` per call: the row as its summary, the whole arguments and
    result (or error) inside."""
    blocks = []
    for step in result.tool_calls:
        arguments, kind = _pretty(step.arguments or "{}")
        body = [f"arguments:\n\n{fenced(arguments, kind)}"]
        if step.error:
            body.append(f"error:\n\n{fenced(step.error, 'text')}")
        if step.result and not step.error:
            shown, kind = _pretty(step.result)
            body.append(f"result:\n\n{fenced(shown, kind)}")
        inner = safe_markdown("\n\n".join(body))
        blocks.append(
            f"<details><summary>🔧 {_inert(f'{call_text(step)} → {outcome_text(step)}')}"
            f"{_took(step)}</summary>\n\n{inner}\n\n</details>"
        )
    return blocks


def tools_plain(result: Result) -> list[str]:
    return [plain_text(f"[tool] {row_text(step)}") for step in result.tool_calls]


def tools_html(result: Result) -> str:
    """The rows where the output is HTML (``-f html``)."""
    rows = []
    for step in result.tool_calls:
        detail = html.escape(step.error or step.result)
        rows.append(
            f"<details><summary>🔧 {html.escape(row_text(step))}</summary>"
            f"<pre style='white-space:pre-wrap'>{html.escape(step.arguments)}\n\n{detail}</pre>"
            "</details>"
        )
    return "\n".join(rows)


# ------------------------------------------------------------------------------ live
class ToolRows:
    """The live rows: a folded section (its title counts the calls), and the Run/Skip
    question of a ``confirm=True`` tool, shown outside the fold while it waits."""

    def __init__(self) -> None:
        import ipywidgets as w

        self._w = w
        self.rows = w.HTML("")
        self.fold = w.Accordion(children=[self.rows], selected_index=None)
        self.fold.set_title(0, "🔧 tool calls")
        self.question = w.HBox([], layout=w.Layout(align_items="center"))
        self.widget = w.VBox([self.fold, self.question])
        self.widget.layout.display = "none"
        self._shown: tuple[str, ...] = ()

    def show(self, steps: Sequence[Step]) -> None:
        calls = [s for s in steps if s.kind == "tool"]
        rows = tuple(row_text(s) for s in calls)
        if rows == self._shown:
            return
        self._shown = rows
        self.widget.layout.display = "" if calls else "none"
        self.fold.set_title(0, summary_text(calls))
        items = "".join(f"<li><code>{html.escape(row)}</code></li>" for row in rows)
        self.rows.value = f"<ul style='margin:0;padding-left:1.2em'>{items}</ul>"

    def ask(self, step: Step, on_answer: Any) -> None:
        """Show "Run get_weather(…)?" with Run and Skip; ``on_answer(True/False)`` on a click."""
        w = self._w
        text = w.HTML(f"<small>Run <code>{html.escape(call_text(step))}</code>?</small>")
        run = w.Button(description="Run", icon="play", button_style="primary",
                       layout=w.Layout(width="auto"))  # fmt: skip
        skip = w.Button(description="Skip", layout=w.Layout(width="auto"))

        def answered(allowed: bool) -> None:
            self.clear_question()
            on_answer(allowed)

        run.on_click(lambda _b: answered(True))
        skip.on_click(lambda _b: answered(False))
        self.widget.layout.display = ""
        self.question.children = (text, run, skip)

    def clear_question(self) -> None:
        for child in self.question.children:
            child.close()
        self.question.children = ()
