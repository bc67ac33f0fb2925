"""``--dry-run``: what would be sent and what it would cost, sending nothing; and the
estimate the session budget checks a call against.

Input tokens are counted offline with the Qwen tokenizer the dashscope package ships
(``context.tokens``), plus a few tokens per message for the chat template. Images, video and
audio are not counted (Model Studio counts them from their pixels and duration, which this
estimate does not model): it says so. The output is a range: nothing up to ``--max-tokens``,
or up to a typical answer when no maximum is given.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from qwen_magic.events import Usage
from qwen_magic.pricing import Cost, cost_of, money, total
from qwen_magic.request import Request

TYPICAL_ANSWER = 500  # tokens: the estimate's answer when --max-tokens is not given
TYPICAL_THINKING = 1000  # tokens of thinking added when it thinks without --thinking-budget
PER_MESSAGE = 4  # the chat template's tokens around each message (<|im_start|>role ... <|im_end|>)


@dataclass
class Estimate:
    """One request's estimate: input tokens (offline), the output range, the cost range."""

    title: str
    model: str
    input_tokens: int
    exact: bool  # False: some text was too long to count exactly, or media not counted
    media: int  # images/videos/audio attached (not counted)
    output_high: int
    output_basis: str  # "--max-tokens" or "a typical answer"
    thinking: bool
    low: Cost | None  # no output at all
    high: Cost | None  # the output at its high end

    @property
    def known(self) -> bool:
        return self.high is not None and self.high.amount is not None


@dataclass
class DryRun:
    """What a ``--dry-run`` showed: the estimates (``-o NAME`` keeps it)."""

    estimates: list[Estimate] = field(default_factory=list)
    shown: str = field(default="", repr=False)

    @property
    def input_tokens(self) -> int:
        return sum(e.input_tokens for e in self.estimates)

    @property
    def low(self) -> Cost | None:
        return total(e.low for e in self.estimates)

    @property
    def high(self) -> Cost | None:
        return total(e.high for e in self.estimates)

    def _repr_markdown_(self) -> str:
        return self.shown

    def __repr__(self) -> str:
        return (f"<DryRun {len(self.estimates)} request(s), {self.input_tokens} input tokens, "
                f"{cost_range(self.low, self.high)}>")  # fmt: skip


def thinks(request: Request) -> bool:
    from qwen_magic.models import thinks_by_default

    if request.thinking is not None:
        return bool(request.thinking)
    return thinks_by_default(request.model)


def estimate(request: Request, title: str = "", *, batch: bool = False) -> Estimate:
    from qwen_magic.context.tokens import count
    from qwen_magic.messages import chat_messages

    tokens, exact, media = 3, True, len(request.media)  # 3: the assistant turn's opening
    for message in chat_messages(request):
        tokens += PER_MESSAGE
        for text in _texts(message):
            counted = count(text)
            tokens += counted.tokens
            exact = exact and counted.exact
    if request.tools:
        counted = count(json.dumps(request.tools, ensure_ascii=False))
        tokens += counted.tokens
        exact = exact and counted.exact
    if request.sample:  # -n K in one request: the prompt is read and billed once, with #1
        tokens = 0
    thinking = thinks(request)
    if request.max_tokens is not None:
        high, basis = request.max_tokens, "--max-tokens"
        if thinking and request.thinking_budget:
            high += request.thinking_budget
    else:
        high = TYPICAL_ANSWER + ((request.thinking_budget or TYPICAL_THINKING) if thinking else 0)
        basis = "a typical answer"
    low_cost = cost_of(Usage(tokens, 0), request.model, request.pricing, batch=batch)
    high_cost = cost_of(
        Usage(tokens, high, high if thinking else None), request.model, request.pricing,
        thinking=thinking, batch=batch,
    )  # fmt: skip
    return Estimate(title, request.model, tokens, exact and not media, media, high, basis,
                    thinking, low_cost, high_cost)  # fmt: skip


def _texts(message: dict[str, Any]) -> list[str]:
    content = message.get("content")
    texts: list[str] = []
    if isinstance(content, str):
        texts.append(content)
    elif isinstance(content, list):
        texts.extend(
            part["text"]
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    for call in message.get("tool_calls") or []:
        texts.append(json.dumps(call, ensure_ascii=False))
    return texts


def cost_range(low: Cost | None, high: Cost | None) -> str:
    if high is None:
        return "cost not priced (a server of your own)"
    if high.amount is None or low is None or low.amount is None:
        return f"cost unknown ({high.note})" if high.note else "cost unknown"
    if low.amount == high.amount:
        return money(high.amount, high.currency)
    return f"{money(low.amount, low.currency)}–{money(high.amount, high.currency)}"


# ---------------------------------------------------------------------------------- showing
def parameters(request: Request) -> dict[str, Any]:
    """The call's settings as they would go out (the API's own names where they differ)."""
    shown: dict[str, Any] = {"model": request.model, "stream": request.stream}
    names = ("temperature", "top_p", "max_tokens", "seed", "stop", "thinking_budget",
             "tool_choice")  # fmt: skip
    shown.update({n: getattr(request, n) for n in names if getattr(request, n) is not None})
    if request.thinking is not None:
        shown["enable_thinking"] = request.thinking
    if request.samples > 1:
        shown["n"] = request.samples
    if request.json_mode:
        shown["response_format"] = {"type": "json_object"}
    if request.tools:
        shown["tools"] = [t.get("function", {}).get("name") for t in request.tools]
    if request.search:
        from qwen_magic.request import search_options

        shown["enable_search"], shown["search_options"] = True, search_options(request)
    return shown


def show(requests: Sequence[Request], titles: Sequence[str], *, batch: bool = False,
         out: str | None = None, shell: Any = None) -> DryRun:  # fmt: skip
    """Display the dry run (Markdown and plain text) and return it; nothing is sent."""
    from qwen_magic.masking import redact
    from qwen_magic.media import elide
    from qwen_magic.messages import chat_messages
    from qwen_magic.render.safe import plain_markdown

    run = DryRun([estimate(r, t, batch=batch) for r, t in zip(requests, titles, strict=True)])
    first = requests[0]
    where = " · ".join(x for x in (first.api, first.region, first.base_url) if x)
    messages = redact(json.dumps(elide(chat_messages(first)), ensure_ascii=False, indent=2))
    params = redact(json.dumps(parameters(first), ensure_ascii=False, indent=2, default=str))
    many = len(requests) > 1
    sent = sum(1 for r in requests if not r.sample)  # -n K: up to 4 samples share a request
    lines = [
        f"**Dry run — nothing was sent.** {sent} request(s)"
        + (f" for {len(requests)} samples" if sent < len(requests) else "")
        + (" as a Batch job (half price)" if batch else ""),
        "",
        f"endpoint: {plain_markdown(where)} (the key is not shown)",
        "",
        ("first request's " if many else "") + "parameters:",
        "",
        "```json\n" + params.replace("```", "`\u200b``") + "\n```",
        "",
        ("first request's " if many else "") + "messages (media elided):",
        "",
        "```json\n" + messages.replace("```", "`\u200b``") + "\n```",
        "",
    ]
    if many:
        lines += ["| request | input tokens | output up to | cost |", "|---|---|---|---|"]
        for e in run.estimates:
            lines.append(f"| {plain_markdown(e.title[:60])} | {_tokens(e)} | {e.output_high:,} | "
                         f"{cost_range(e.low, e.high)} |")  # fmt: skip
        lines.append("")
    lines.append("estimate: " + summary(run))
    plain = "\n".join(lines).replace("**", "")
    # "$" outside the code blocks would start math in the notebook's Markdown
    lines = [line if line.startswith(("```", "{", "[", " ", "]", "}")) else
             line.replace("$", "&#36;") for line in lines]  # fmt: skip
    text = "\n".join(lines)
    run.shown = text
    if shell is not None and out:
        shell.user_ns[out] = run
    from IPython.display import publish_display_data

    publish_display_data({"text/markdown": text, "text/plain": plain})
    return run


def _tokens(e: Estimate) -> str:
    mark = "" if e.exact else "≈"
    return f"{mark}{e.input_tokens:,}" + (f" + {e.media} media (not counted)" if e.media else "")


def summary(run: DryRun) -> str:
    """``1,234 input tokens (offline count) · output 0–500 tokens (a typical answer) ·
    cost $0.0012–$0.0045 (qwen-max, sg prices as of …)``."""
    estimates = run.estimates
    exact = all(e.exact for e in estimates)
    media = sum(e.media for e in estimates)
    bits = [f"{'' if exact else '≈'}{run.input_tokens:,} input tokens (counted offline)"]
    if media:
        bits.append(f"{media} image/video/audio input(s) not counted (the service counts them "
                    "from pixels and duration)")  # fmt: skip
    highs = {e.output_high for e in estimates}
    bases = {e.output_basis for e in estimates}
    out = f"{max(highs):,}" if len(highs) == 1 else f"{min(highs):,}–{max(highs):,}"
    basis = next(iter(bases)) if len(bases) == 1 else "per request"
    thinking = " incl. thinking" if any(e.thinking for e in estimates) else ""
    bits.append(
        f"output 0–{out} tokens{thinking} ({basis}"
        + ("; --max-tokens N bounds it" if basis == "a typical answer" else "")
        + ")"
    )
    priced = run.high
    bits.append(cost_range(run.low, run.high))
    if priced is not None and priced.amount is not None and priced.as_of:
        bits.append(f"prices as of {priced.as_of}")
    return " · ".join(bits)
