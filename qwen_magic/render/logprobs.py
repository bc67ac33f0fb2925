"""``--logprobs`` shown: the answer with each token shaded by how likely the model found it,
its alternatives on hover, and a short summary.

The shading is a semi-transparent background (``rgba``), darker the less likely the token: it
reads on light and dark themes alike, since the page's own colours show through. Each token
is a ``<span>`` whose ``title`` lists its probability and its top-K alternatives (the
browser's tooltip) and whose ``data-p`` / ``data-logprob`` carry the numbers for anyone who
reads the saved notebook. Tokens are model output: every one is escaped, and the whole goes
through the one sanitizer (``safe.safe_token_html``).

Viewers that drop inline styles (GitHub) still show the text and the tooltips; the
``text/markdown`` fallback has the plain answer and the summary.
"""

from __future__ import annotations

import html
import json
import math

from qwen_magic.events import TokenProb
from qwen_magic.render.safe import plain_markdown, plain_text, safe_token_html
from qwen_magic.result import Result
from qwen_magic.tokenprobs import least_likely, mean_probability

SHADE = (255, 99, 71)  # tomato: warm on white and on a dark grey
MAX_ALPHA = 0.7  # the background of a token the model found (almost) impossible
GAMMA = 0.6
LEAST = 5  # least likely tokens named in the summary
NONE_CAME = (
    "No token probabilities came back: {model} returned none on this API (Model Studio gives "
    "them only on some models: snapshots of qwen-plus and qwen-turbo, and the open Qwen3 "
    "models)."
)


def percent(p: float) -> str:
    if p >= 0.9995:
        return "100%" if p >= 1 else ">99.9%"
    if p < 0.001:
        return "<0.1%"
    return f"{p:.1%}"


def shown(token: str) -> str:
    """A token as it reads in a tooltip or a summary: quoted, whitespace made visible."""
    return json.dumps(token, ensure_ascii=False)


def background(p: float) -> str:
    """Darker the less likely; the curve lifts the common 60-95 % range into view."""
    alpha = round(MAX_ALPHA * (1.0 - min(max(p, 0.0), 1.0)) ** GAMMA, 2)
    r, g, b = SHADE
    return f"background-color:rgba({r}, {g}, {b}, {alpha})"


def tooltip(item: TokenProb) -> str:
    p = item.probability
    lines = [f"{shown(item.token)}: {percent(p)} (logprob {item.logprob:.3f})"]
    if item.alternatives:
        lines.append("alternatives:")
        lines += [f"  {shown(token)}: {percent(math.exp(lp))}" for token, lp in item.alternatives]
    return "\n".join(lines)


def _span(item: TokenProb) -> str:
    p = item.probability
    text = html.escape(item.token, quote=False).replace("\n", "<br>")
    return (
        f'<span style="{background(p)}" title="{html.escape(tooltip(item), quote=True)}" '
        f'data-p="{p:.4f}" data-logprob="{item.logprob:.4f}">{text}</span>'
    )


def summary(items: list[TokenProb]) -> str:
    """``42 tokens · mean probability 83.1% · least likely: "Paris" 12.0%, …``."""
    mean = mean_probability(items)
    bits = [f"{len(items)} token{'s' if len(items) != 1 else ''}"]
    if mean is not None:
        bits.append(f"mean probability {percent(mean)}")
    least = least_likely(items, LEAST)
    if least:
        named = ", ".join(f"{shown(item.token)} {percent(item.probability)}" for _, item in least)
        bits.append(f"least likely: {named}")
    return "Token probabilities: " + " · ".join(bits)


def shows_shading(result: Result) -> bool:
    return bool(result.logprobs) and result.format != "html"


def shaded_html(result: Result) -> str | None:
    """The shaded answer and its summary (sanitized HTML), or None without probabilities."""
    if not shows_shading(result):
        return None
    items = result.logprobs or []
    spans = "".join(_span(item) for item in items)
    body = (
        f'<div data-qwen="logprobs" style="white-space:pre-wrap">{spans}</div>'
        f"<p><sub>{html.escape(summary(items), quote=False)}</sub></p>"
    )
    return safe_token_html(body)


def missing_note(result: Result) -> str:
    """Asked for probabilities, got an answer but none of them: say so."""
    if result.logprobs != [] or not result.text or result.error or result.interrupted:
        return ""
    return NONE_CAME.format(model=result.model or "the model")


def logprobs_markdown(result: Result) -> list[str]:
    """Blocks under the Markdown answer: the summary, or why there is none."""
    if result.logprobs:
        return [f"<sub>{plain_markdown(summary(result.logprobs))}</sub>"]
    note = missing_note(result)
    return [f"*{plain_markdown(note)}*"] if note else []


def logprobs_html_note(result: Result) -> str:
    note = missing_note(result)
    return f"<p><em>{html.escape(note, quote=False)}</em></p>" if note else ""


def logprobs_plain(result: Result) -> list[str]:
    if result.logprobs:
        return [f"[{plain_text(summary(result.logprobs))}]"]
    note = missing_note(result)
    return [f"[{note}]"] if note else []
