"""The final, static output: plain Markdown that every notebook viewer shows the same way."""

from __future__ import annotations

import html
import json

from qwen_magic.render.markdown import close_open_fence, fenced
from qwen_magic.render.safe import inline_code, plain_markdown, plain_text, safe_html, safe_markdown
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


def usage_line(result: Result, *, name_model: bool = True) -> str:
    """Model and where (unless the header already says), tokens and timings, on one line."""
    parts = (result.model, result.api, result.region) if name_model else ()
    where = " · ".join(x for x in parts if x)
    u = result.usage
    bits = [where] if where else []
    if u.input_tokens is not None:
        bits.append(f"{u.input_tokens} in")
    if u.output_tokens is not None:
        out = f"{u.output_tokens} out"
        if u.reasoning_tokens:
            out += f" ({u.reasoning_tokens} reasoning)"
        bits.append(out)
    if u.cached_tokens:
        bits.append(f"{u.cached_tokens} cached")
    if u.output_tokens is None and (result.interrupted or result.error):
        bits.append("tokens not reported (the service counts them at the end)")
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
    return safe_markdown(close_open_fence(result.text))


def finish_note(result: Result) -> str:
    """Why an answer looks short, when the model (not an error) made it so."""
    if result.error or result.interrupted:
        return ""
    if result.finish_reason == "length":
        return "The answer was cut off at the token limit: raise --max-tokens to get more."
    if not result.text and result.finish_reason is not None:
        return "The model returned an empty answer."
    return ""


def error_markdown(result: Result) -> str:
    err = result.error
    if err is None:
        return ""
    # The summary and the request id come from the server: shown literally.
    lines = [f"**⚠ {plain_markdown(err.summary())}**"]
    if err.request_id:
        lines.append(f"request id: {inline_code(err.request_id)}")
    if err.hint:
        lines.append(f"**Fix:** {safe_markdown(' '.join(err.hint.splitlines()))}")
    if result.text or result.reasoning:
        lines.append("The partial answer above is kept.")
    return "\n".join("> " + line + "  " for line in lines)


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
    if result.reasoning:
        body = close_open_fence(result.reasoning)
        body = "\n".join("> " + line for line in body.splitlines())  # set apart from the answer
        body = safe_markdown(body)  # (no `<` is left outside code: nothing closes <details>)
        blocks.append(
            f"<details><summary>{thinking_summary(result)}</summary>\n\n{body}\n\n</details>"
        )
    answer = answer_markdown(result)
    if answer:
        blocks.append(answer)
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
    if result.reasoning:
        blocks.append(f"[{thinking_summary(result)}]\n{result.reasoning}\n[answer]")
    if result.text:
        blocks.append(result.text)
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
    parts.append(safe_html(result.text))
    if result.interrupted:
        parts.append(f"<p><em>{stopped_note(result)}</em></p>")
    if result.error:
        parts.append(f"<pre>{html.escape(str(result.error))}</pre>")
    parts.append(f"<sub>{html.escape(usage_line(result))}</sub>")
    return "\n".join(parts)


def to_bundle(result: Result) -> dict[str, str]:
    if result.format == "html":
        return {"text/html": to_html(result), "text/plain": to_plain(result)}
    return {"text/markdown": to_markdown(result), "text/plain": to_plain(result)}
