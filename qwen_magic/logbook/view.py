"""How the history is shown: a table of calls (``%qwencmd log``, ``qwen_magic.history()``)
and one call in full (``%qwencmd log show ID``). Prompts and answers are untrusted text: the
table shows them literally, the full view through ``render/safe.py``."""

from __future__ import annotations

import importlib
import re
from dataclasses import asdict
from typing import Any

from qwen_magic.logbook.store import Entry
from qwen_magic.render.markdown import close_open_fence, fenced
from qwen_magic.render.safe import plain_markdown, plain_text, safe_markdown
from qwen_magic.render.tables import Table

HEADER = ["id", "when", "model", "prompt", "answer", "tokens", "cost"]
START = 48  # characters of the prompt and the answer in the table


def start(text: str, width: int = START) -> str:
    """The beginning of ``text`` on one line."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def cost_text(entry: Entry) -> str:
    """``$0.0012`` (the currency the price table gave), ``unknown``, or "" (not priced)."""
    if entry.cost is None:
        return "unknown" if entry.cost_detail is not None else ""
    detail = entry.cost_detail if isinstance(entry.cost_detail, dict) else {}
    currency = detail.get("currency")
    try:
        from qwen_magic.pricing.cost import money
    except ImportError:  # pragma: no cover - the price table ships with the package
        return f"{entry.cost:.8f}".rstrip("0").rstrip(".") + (f" {currency}" if currency else "")
    return money(entry.cost, currency if isinstance(currency, str) else None)


def row(entry: Entry) -> list[str]:
    answer = entry.answer or (f"[{entry.error}]" if entry.error else "")
    if entry.interrupted and not entry.error:
        answer = (answer + " [stopped]").strip()
    tokens = entry.tokens
    return [
        str(entry.id),
        entry.when.strftime("%Y-%m-%d %H:%M"),
        entry.model,
        start(entry.prompt),
        start(answer),
        "" if tokens is None else str(tokens),
        cost_text(entry),
    ]


class History(list[Entry]):
    """Calls from the history, newest first: a table in a notebook, ``.to_pandas()``."""

    def __init__(self, entries: list[Entry], title: str = "") -> None:
        super().__init__(entries)
        self.title = title

    def table(self) -> Table:
        return Table([HEADER, *(row(entry) for entry in self)], self.title)

    def _repr_markdown_(self) -> str:
        if not self:
            return f"**{plain_markdown(self.title)}**\n\nNo calls match."
        return self.table()._repr_markdown_()

    def __repr__(self) -> str:
        if not self:
            return f"{plain_text(self.title)}\nNo calls match."
        return repr(self.table())

    def to_pandas(self) -> Any:
        """One row per call, every field a column; ``time`` as a datetime."""
        try:
            pd: Any = importlib.import_module("pandas")
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("to_pandas() needs pandas: pip install pandas") from exc
        frame = pd.DataFrame([asdict(entry) for entry in self], columns=_columns())
        frame["time"] = pd.to_datetime([entry.when for entry in self])  # local time
        return frame.set_index("id")


def _columns() -> list[str]:
    from dataclasses import fields

    return [f.name for f in fields(Entry)]


class EntryView:
    """One call in full: where and when, the prompt, the reasoning (folded), the answer, the
    tokens and cost."""

    def __init__(self, entry: Entry) -> None:
        self.entry = entry

    def _heading(self) -> str:
        e = self.entry
        bits = [e.when.strftime("%Y-%m-%d %H:%M:%S"), e.model, e.api, e.region or "", e.kind]
        return " · ".join(b for b in bits if b)

    def _where(self) -> str:
        e = self.entry
        bits = []
        if e.notebook:
            bits.append(f"notebook {e.notebook}")
        if e.execution_count:
            bits.append(f"In [{e.execution_count}]")
        if e.cell_id:
            bits.append(f"cell {e.cell_id}")
        return ", ".join(bits)

    def _usage(self) -> str:
        e = self.entry
        bits = []
        u = e.usage or {}
        for name, label in (
            ("input_tokens", "in"),
            ("output_tokens", "out"),
            ("reasoning_tokens", "reasoning"),
            ("cached_tokens", "cached"),
        ):
            if u.get(name):
                bits.append(f"{u[name]} {label}")
        if e.cost is not None or e.cost_detail is not None:
            bits.append(f"cost {cost_text(e)}")
        if e.elapsed is not None:
            bits.append(f"{e.elapsed:.1f} s")
        if e.finish_reason:
            bits.append(f"finish: {e.finish_reason}")
        return " · ".join(bits)

    def _options(self) -> str:
        shown = {k: v for k, v in self.entry.options.items() if k != "base_url"}
        return ", ".join(f"{k}={v!r}" for k, v in shown.items())

    def _repr_markdown_(self) -> str:
        e = self.entry
        blocks = [f"**Call {e.id}** · {plain_markdown(self._heading())}"]
        where = self._where()
        if where:
            blocks.append(f"<sub>{plain_markdown(where)}</sub>")
        if e.system:
            blocks.append("**System**\n\n" + safe_markdown(fenced(e.system, "text")))
        blocks.append("**Prompt**\n\n" + safe_markdown(fenced(e.prompt, "text")))
        media = [m for m in e.media if m]
        if media:
            blocks.append("**Media:** " + ", ".join(_media_markdown(m) for m in media))
        if e.options:
            blocks.append(f"<sub>options: {plain_markdown(self._options())}</sub>")
        if e.reasoning:
            body = safe_markdown(close_open_fence(e.reasoning))
            blocks.append(f"<details><summary>Reasoning</summary>\n\n{body}\n\n</details>")
        for step in e.steps:
            if step.get("kind") == "tool":
                line = f"{step.get('name')}({step.get('arguments')}) → {step.get('result')}"
                blocks.append(f"<sub>tool: {plain_markdown(line)}</sub>")
        blocks.append("**Answer**")
        if e.answer:
            blocks.append(safe_markdown(close_open_fence(e.answer)))
        if e.interrupted:
            blocks.append("*Stopped: the answer above is partial.*")
        if e.error:
            blocks.append(f"**Error:** {plain_markdown(e.error)}")
        for source in e.sources:
            title = source.get("title") or source.get("url") or ""
            blocks.append(f"<sub>[{source.get('index')}] {plain_markdown(str(title))}</sub>")
        usage = self._usage()
        if usage:
            blocks.append(f"<sub>{plain_markdown(usage)}</sub>")
        return "\n\n".join(blocks)

    def __repr__(self) -> str:
        e = self.entry
        blocks = [f"Call {e.id} · {self._heading()}"]
        if self._where():
            blocks.append(self._where())
        if e.system:
            blocks.append(f"[system]\n{e.system}")
        blocks.append(f"[prompt]\n{e.prompt}")
        if e.options:
            blocks.append(f"[options] {self._options()}")
        if e.reasoning:
            blocks.append(f"[reasoning]\n{e.reasoning}")
        blocks.append(f"[answer]\n{e.answer}")
        if e.interrupted:
            blocks.append("[stopped: the answer above is partial]")
        if e.error:
            blocks.append(f"[error] {e.error}")
        if self._usage():
            blocks.append(f"[{self._usage()}]")
        return plain_text("\n\n".join(blocks))


# A thumbnail we wrote: a JPEG data URL, base64 and nothing else (the file is the user's to
# edit, so what it holds is checked before it becomes an attribute).
_THUMBNAIL = re.compile(r"data:image/jpeg;base64,[A-Za-z0-9+/]+={0,2}")


def _media_markdown(media: dict[str, Any]) -> str:
    name = str(media.get("source") or media.get("url") or media.get("kind") or "")
    size = media.get("size")
    label = plain_markdown(name)
    if isinstance(size, list) and len(size) == 2 and all(type(n) is int for n in size):
        label += f" ({size[0]}×{size[1]})"
    thumb = media.get("thumbnail")
    if isinstance(thumb, str) and _THUMBNAIL.fullmatch(thumb):
        return f'<img src="{thumb}" alt="" height="48"> {label}'
    return label
