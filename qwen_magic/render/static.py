"""The final, static output: plain Markdown that every notebook viewer shows the same way.

One answer is one panel (``to_bundle``); N answers are composed from the same panels: a grid
(an HTML table of columns where the frontend shows HTML, stacked with headings in
``text/markdown`` and ``text/plain``) or, for many, a compact table with counts.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Sequence

from qwen_magic.errors import ServiceError
from qwen_magic.render.chips import chips_markdown, chips_plain
from qwen_magic.render.logprobs import (
    logprobs_markdown,
    logprobs_plain,
    missing_note,
    shaded_html,
    shows_shading,
)
from qwen_magic.render.markdown import close_open_fence, fenced
from qwen_magic.render.safe import (
    inline_code,
    markdown_html,
    plain_markdown,
    plain_text,
    safe_html,
    safe_markdown,
)
from qwen_magic.render.sources import cite, sources_html, sources_markdown, sources_plain
from qwen_magic.render.speech import input_audio_html, speech_html, speech_plain
from qwen_magic.render.tools import tools_html, tools_markdown, tools_plain
from qwen_magic.result import Result

STOPPED = "■ Stopped — the answer above is partial."
STOPPED_PLAIN = "[stopped: the answer above is partial]"
STOPPED_EMPTY = "■ Stopped before the first token — nothing was generated."
STOPPED_EMPTY_PLAIN = "[stopped before the first token: nothing was generated]"


def stopped_note(result: Result, *, plain: bool = False) -> str:
    """What a stop left: a partial answer, or nothing at all."""
    if result.text or result.reasoning:
        return STOPPED_PLAIN if plain else STOPPED
    return STOPPED_EMPTY_PLAIN if plain else STOPPED_EMPTY


def thinking_summary(result: Result) -> str:
    """``Thought for 3.2 s · 120 tokens``."""
    parts = []
    if result.reasoning_time is not None:
        parts.append(f"{result.reasoning_time:.1f} s")
    if result.usage.reasoning_tokens:
        parts.append(f"{result.usage.reasoning_tokens} tokens")
    return "Thought" + (" for " + " · ".join(parts) if parts else "")


def retry_note(result: Result) -> str:
    """``rate limited (429) — retrying in 3 s (attempt 2 of 3)``, while a call waits to be
    sent again; "" otherwise."""
    retry = result.retry
    if retry is None:
        return ""
    when = f"in {math.ceil(retry.wait)} s" if retry.wait >= 0.5 else "now"
    return f"{retry.reason} — retrying {when} (attempt {retry.attempt} of {retry.attempts})"


def usage_line(result: Result, *, name_model: bool = True) -> str:
    """Model and where (unless the header already says), tokens and timings, on one line."""
    parts = (result.model, result.api, result.region) if name_model else ()
    where = " · ".join(x for x in parts if x)
    u = result.usage
    bits = [where] if where else []
    if result.retry is not None:
        bits.append(retry_note(result))
    if u.input_tokens is not None:
        bits.append(f"{u.input_tokens} in")
    if u.output_tokens is not None:
        out = f"{u.output_tokens} out"
        if u.reasoning_tokens:
            out += f" ({u.reasoning_tokens} reasoning)"
        bits.append(out)
    if u.cached_tokens:
        bits.append(f"{u.cached_tokens} cached")
    if result.cost is not None:  # "$0.0012", "¥0.25 (Batch API: half price)", "cost unknown"
        bits.append(f"{result.cost} ({result.cost.note})" if result.cost.note and
                    result.cost.known else str(result.cost))  # fmt: skip
    if result.samples is not None:  # -n K: one request gave several samples
        sample, count = result.samples
        whose = f"for all {count}" if sample == 0 else "with the first"
        bits.append(f"{count} samples in 1 request: tokens and cost {whose}")
    generated = bool(result.text or result.reasoning)
    if u.output_tokens is None and generated and (result.interrupted or result.error):
        bits.append("tokens not reported (the service counts them at the end)")
    waiting = not (generated or result.error or result.interrupted or result.finish_reason)
    if waiting and result.elapsed is not None and result.retry is None:
        bits.append("connecting…")  # nothing back yet: the SDK loads, the request goes out
    if result.ttft is not None:
        bits.append(f"first token {result.ttft:.2f} s")
    if result.elapsed is not None:
        bits.append(f"{result.elapsed:.1f} s")
    rate = result.tokens_per_second
    if rate:
        bits.append(f"{rate:.0f} tok/s")
    return " · ".join(bits)


def answer_markdown(result: Result) -> str:
    """The answer as Markdown that is safe to render (model text is untrusted)."""
    if result.data is not None:
        return safe_markdown(fenced(json.dumps(result.data, indent=2, ensure_ascii=False), "json"))
    if result.format == "text":
        return safe_markdown(fenced(result.text, "text")) if result.text else ""
    return safe_markdown(close_open_fence(cite(result.text, result.sources)))


def finish_note(result: Result) -> str:
    """Why an answer looks short, when the model (not an error) made it so."""
    if result.error or result.interrupted:
        return ""
    if result.finish_reason == "length":
        return "The answer was cut off at the token limit: raise --max-tokens to get more."
    if not result.text and result.finish_reason is not None:
        return "The model returned an empty answer."
    return ""


_URL = re.compile(r"https?://[A-Za-z0-9\-._~:/?#@!$&'*+,;=%]+")
_URL_TAIL = ".,;:!?'*"  # sentence punctuation after a URL is not part of it
# In a link's text: characters as entities, which every parser decodes (a backslash escape
# shows literally in mistune's link text).
_URL_ESCAPED = frozenset("~?#@!$&'*+,;=%_")


def server_markdown(text: str) -> str:
    """A server's message shown literally, its http(s) URLs as links. A URL is a link of its
    own (not left to each renderer's autolinker): an escape inside it (``\\#``) or a ``**``
    after it would otherwise end up in the address or the link text (mistune, GitHub)."""
    out, start = [], 0
    for match in _URL.finditer(text):
        url = match.group(0).rstrip(_URL_TAIL)
        if not url.split("://", 1)[1]:
            continue
        out.append(plain_markdown(text[start : match.start()]))
        shown = "".join(f"&#{ord(c)};" if c in _URL_ESCAPED else c for c in url)
        out.append(safe_markdown(f"[{shown}]({url})"))
        start = match.start() + len(url)
    out.append(plain_markdown(text[start:]))
    return "".join(out)


ERROR_MARK = "<details open><summary><b>⚠ "


def error_markdown(result: Result) -> str:
    """The error as an open ``<details>`` headed "⚠ …": a raw HTML element, which an answer
    cannot make (``safe_markdown`` escapes every tag of the model's), so a quote in the answer
    that reads "> ⚠ …" never looks like our error. Only our own words are in the heading; the
    server's code and message follow as plain text (no emphasis around them to break)."""
    err = result.error
    if err is None:
        return ""
    lines = []
    detail = f"{err.code}: {err.message}" if err.code else err.message
    if detail.strip():
        lines.append(server_markdown(detail.strip()))
    if err.request_id:
        lines.append(f"request id: {inline_code(err.request_id)}")
    if err.hint:
        lines.append(f"**Fix:** {safe_markdown(' '.join(err.hint.splitlines()))}")
    if result.text or result.reasoning:
        lines.append("The partial answer above is kept. It is incomplete: the error cut it short.")
    title = html.escape(" ".join(err.title.splitlines()), quote=False)
    body = "  \n".join(lines)
    return f"{ERROR_MARK}{title}</b></summary>\n\n{body}\n\n</details>"


def error_html(error: ServiceError) -> str:
    """The same box where the output is HTML (``-f html``, a grid's cell)."""
    lines = [html.escape(line) for line in str(error).splitlines()[1:]]
    detail = f"{error.code}: {error.message}" if error.code else error.message
    if detail.strip():
        lines.insert(0, html.escape(" ".join(detail.split())))
    title = html.escape(" ".join(error.title.splitlines()), quote=False)
    return f"{ERROR_MARK}{title}</b></summary><p>{'<br>'.join(lines)}</p></details>"


def media_html(result: Result) -> str:
    """The inputs as a row of small thumbnails (data URIs of a few KB each; a URL image is shown
    from its URL, never downloaded), numbered when there are several."""
    if not result.media:
        return ""
    shown = []
    for item in result.media:
        title = html.escape(item.describe(), quote=True)
        alt = html.escape(item.source, quote=True)
        if item.thumbnail is not None and item.thumbnail_size is not None:
            width, height = item.thumbnail_size
            shown.append(
                f'<img src="{item.thumbnail_url}" alt="{alt}" title="{title}" '
                f'width="{width}" height="{height}">'
            )
        elif item.is_remote and item.kind == "image":
            url = html.escape(item.url or "", quote=True)
            shown.append(
                f'<a href="{url}"><img src="{url}" alt="{alt}" title="{title}" height="96"></a>'
            )
        elif item.kind == "audio":  # -a: a small player, or its name when too big to keep
            shown.append(input_audio_html(item))
        elif item.is_remote:
            url = html.escape(item.url or "", quote=True)
            shown.append(f'<a href="{url}" title="{title}">🎞 {html.escape(item.source)}</a>')
        else:
            shown.append(f'<span title="{title}">🎞 {html.escape(item.describe())}</span>')
    row = " ".join(shown)
    if len(result.media) > 1:
        names = " · ".join(f"{i}: {html.escape(m.source)}" for i, m in enumerate(result.media, 1))
        row += f"<br><sub>{names}</sub>"
    return row


def media_plain(result: Result) -> str:
    return "[inputs: " + ", ".join(m.describe() for m in result.media) + "]"


def to_markdown(result: Result) -> str:
    blocks: list[str] = []
    if result.media:
        blocks.append(media_html(result))
    blocks.extend(chips_markdown(result.attachments))
    if result.reasoning:
        body = close_open_fence(result.reasoning)
        body = "\n".join("> " + line for line in body.splitlines())  # set apart from the answer
        body = safe_markdown(body)  # (no `<` is left outside code: nothing closes <details>)
        blocks.append(
            f"<details><summary>{thinking_summary(result)}</summary>\n\n{body}\n\n</details>"
        )
    blocks.extend(tools_markdown(result))  # --tools: a folded row per call
    answer = answer_markdown(result)
    if answer:
        blocks.append(answer)
    blocks.extend(logprobs_markdown(result))  # --logprobs: the summary (shaded in HTML)
    if result.audio is not None:  # --voice: the spoken answer's player
        blocks.append(speech_html(result.audio))
    blocks.extend(sources_markdown(result.sources))  # --search
    note = finish_note(result)
    if note:
        blocks.append(f"*{note}*")
    if result.interrupted:
        blocks.append(f"*{stopped_note(result)}*")
    if result.error:
        blocks.append(error_markdown(result))
    blocks.append(f"<sub>{plain_markdown(usage_line(result))}</sub>")
    return "\n\n".join(blocks)


def to_plain(result: Result) -> str:
    blocks: list[str] = []
    if result.media:
        blocks.append(media_plain(result))
    blocks.extend(chips_plain(result.attachments))
    if result.reasoning:
        blocks.append(f"[{thinking_summary(result)}]\n{result.reasoning}\n[answer]")
    blocks.extend(tools_plain(result))
    if result.text:
        blocks.append(result.text)
    blocks.extend(logprobs_plain(result))
    if result.audio is not None:
        blocks.append(speech_plain(result.audio))
    blocks.extend(sources_plain(result.sources))
    if finish_note(result):
        blocks.append(f"[{finish_note(result)}]")
    if result.interrupted:
        blocks.append(stopped_note(result, plain=True))
    if result.error:
        blocks.append(f"[error] {result.error}")
    blocks.append(f"[{usage_line(result)}]")
    return plain_text("\n\n".join(blocks))  # a terminal prints text/plain as it is


def to_html(result: Result) -> str:
    """``-f html``: the answer is HTML; reasoning and usage around it."""
    parts = []
    if result.media:
        parts.append(f"<p>{media_html(result)}</p>")
    if result.reasoning:
        parts.append(
            f"<details><summary>{thinking_summary(result)}</summary>"
            f"<pre style='white-space:pre-wrap'>{html.escape(result.reasoning)}</pre></details>"
        )
    if result.steps:
        parts.append(tools_html(result))
    shaded = shaded_html(result)  # --logprobs: the tokens, shaded by probability
    parts.append(safe_html(result.text) if shaded is None else shaded)
    if result.audio is not None:
        parts.append(speech_html(result.audio))
    if result.sources:
        parts.append(sources_html(result.sources))
    if result.interrupted:
        parts.append(f"<p><em>{stopped_note(result)}</em></p>")
    if result.error:
        parts.append(error_html(result.error))
    parts.append(f"<sub>{html.escape(usage_line(result))}</sub>")
    return "\n".join(parts)


def to_bundle(result: Result) -> dict[str, str]:
    if result.format == "html":
        return {"text/html": to_html(result), "text/plain": to_plain(result)}
    bundle = {"text/markdown": to_markdown(result), "text/plain": to_plain(result)}
    if shows_shading(result):  # --logprobs: the shaded answer, where a viewer shows HTML
        bundle["text/html"] = to_html(result)
    return bundle


def dropped_bundle(result: Result, note: str) -> dict[str, str]:
    """The same answer, marked at the top as no longer part of its chat (``note`` says why
    and what to do). The mark is raw HTML, which an answer cannot make."""
    bundle = dict(to_bundle(result))
    mark = f"<p><b>⊘ {html.escape(note, quote=False)}</b></p>"
    for mime in ("text/markdown", "text/html"):
        if mime in bundle:
            bundle[mime] = f"{mark}\n\n<hr>\n\n{bundle[mime]}"
    bundle["text/plain"] = f"[{plain_text(note)}]\n\n{bundle['text/plain']}"
    return bundle


# ------------------------------------------------------------------------------ N answers
GRID_MAX = 6  # more answers than this are summed up in a table, not shown side by side
TABLE_ROWS = 10  # rows of that table


def panel_html(result: Result) -> str:
    """One answer as HTML, for a grid's cell: the answer's Markdown rendered safely."""
    if result.format == "html":
        return to_html(result)
    parts = []
    if result.media:
        parts.append(f"<p>{media_html(result)}</p>")
    if result.reasoning:
        parts.append(
            f"<details><summary>{html.escape(thinking_summary(result))}</summary>"
            f"{markdown_html(close_open_fence(result.reasoning))}</details>"
        )
    answer = (
        markdown_html(fenced(json.dumps(result.data, indent=2, ensure_ascii=False), "json"))
        if result.data is not None
        else markdown_html(close_open_fence(result.text))
        if result.format != "text"
        else f"<pre>{html.escape(result.text)}</pre>"
    )
    shaded = shaded_html(result)  # --logprobs: the tokens, shaded by probability
    parts.append(answer if shaded is None else shaded)
    if result.audio is not None:
        parts.append(speech_html(result.audio))
    notes = [finish_note(result), missing_note(result)]
    if result.interrupted:
        notes.append(stopped_note(result))
    parts += [f"<p><em>{html.escape(note)}</em></p>" for note in notes if note]
    if result.error:
        parts.append(error_html(result.error))
    parts.append(f"<sub>{html.escape(usage_line(result, name_model=False))}</sub>")
    return "\n".join(parts)


def grid_bundle(results: Sequence[Result], titles: Sequence[str]) -> dict[str, str]:
    """N answers side by side (HTML table of columns), and stacked with headings."""
    head = "".join(f'<th style="text-align:left">{html.escape(title)}</th>' for title in titles)
    width = f"{100 / max(1, len(results)):.0f}%"
    cells = "".join(
        f'<td style="vertical-align:top;text-align:left;width:{width}">{panel_html(r)}</td>'
        for r in results
    )
    table = f"<table><thead><tr>{head}</tr></thead><tbody><tr>{cells}</tr></tbody></table>"
    markdown = "\n\n---\n\n".join(
        f"### {plain_markdown(title)}\n\n{to_markdown(result)}"
        for title, result in zip(titles, results, strict=True)
    )
    plain = "\n\n".join(
        f"== {plain_text(title)} ==\n{to_plain(result)}"
        for title, result in zip(titles, results, strict=True)
    )
    return {"text/html": table, "text/markdown": markdown, "text/plain": plain}


def counts_line(results: Sequence[Result | None], ended: Sequence[bool] | None = None) -> str:
    """``12/64 done · 1 failed · 2 stopped · 3,456 tokens out``."""
    finished = [r for i, r in enumerate(results) if r is not None and (ended is None or ended[i])]
    failed = sum(1 for r in finished if r.error is not None)
    stopped = sum(1 for r in finished if r.interrupted and r.error is None)
    tokens = sum(r.usage.output_tokens or 0 for r in finished)
    bits = [f"{len(finished)}/{len(results)} done"]
    if failed:
        bits.append(f"{failed} failed")
    if stopped:
        bits.append(f"{stopped} stopped")
    if tokens:
        bits.append(f"{tokens:,} tokens out")
    return " · ".join(bits)


def status_of(result: Result) -> str:
    if result.error is not None:
        return f"⚠ {result.error.summary()}"
    if result.interrupted:
        return "stopped"
    return "ok"


def first_line(text: str, width: int = 80) -> str:
    line = next((x.strip() for x in text.splitlines() if x.strip()), "")
    return line if len(line) <= width else line[: width - 1] + "…"


def table_bundle(results: Sequence[Result], titles: Sequence[str]) -> dict[str, str]:
    """Many answers: counts and the first rows as a compact table, never N full answers."""
    shown = list(zip(titles, results, strict=True))[:TABLE_ROWS]
    more = len(results) - len(shown)
    rows = ["| # | answer | status |", "|---|---|---|"]
    rows += [
        f"| {i if title == f'#{i}' else plain_markdown(title)} | "
        f"{plain_markdown(first_line(r.text))} | {plain_markdown(status_of(r))} |"
        for i, (title, r) in enumerate(shown, 1)
    ]
    tail = [f"*… and {more} more*"] if more else []
    markdown = "\n".join([f"**{counts_line(results)}**", "", *rows, "", *tail]).rstrip()
    plain_rows = [f"{title}: {first_line(r.text)} [{status_of(r)}]" for title, r in shown]
    plain = "\n".join([counts_line(results), *plain_rows, *(f"… and {more} more" for _ in tail)])
    return {"text/markdown": markdown, "text/plain": plain_text(plain)}


def bundle_of(
    results: Sequence[Result], titles: Sequence[str] | None = None, layout: str = "auto"
) -> dict[str, str]:
    """The static output of N answers: one panel, a grid, or a table (``layout`` "auto"
    picks by N)."""
    if titles is None or len(titles) != len(results):
        titles = [f"#{i}" for i in range(1, len(results) + 1)]
    if layout == "auto":
        layout = "single" if len(results) == 1 else "grid" if len(results) <= GRID_MAX else "table"
    if layout == "single" and len(results) == 1:
        return to_bundle(results[0])
    if layout == "table":
        return table_bundle(results, titles)
    return grid_bundle(results, titles)
