"""Result: what came back, as plain data (no view: display formatters are registered by the
IPython layer and by ``ask()``), and the JSON post-processing of a finished answer."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from qwen_magic.errors import ServiceError
from qwen_magic.events import Retrying, Usage
from qwen_magic.media import elide, elided_repr

if TYPE_CHECKING:
    from qwen_magic.audio import Audio
    from qwen_magic.events import Source, TokenProb
    from qwen_magic.media import Media
    from qwen_magic.pricing import Cost
    from qwen_magic.request import Attachment, Request


@dataclass
class Step:
    """One step of a tool loop (``--tools``): a model round, or one call the model asked for.

    A call's ``arguments`` is the JSON text the model wrote; ``result`` the text sent back (the
    value as JSON, or its ``str``; the exception's text when the tool raised, then also in
    ``error``). A model round's ``result`` is the text it wrote before asking for calls.
    ``status``: "asked" (not run yet), "ok", "error", "refused" (a ``confirm=True`` tool in a
    run that cannot ask), "skipped" (the user clicked Skip), "stopped" or "not run"."""

    kind: str  # "model" or "tool"
    name: str  # the model, or the tool
    arguments: str = ""
    result: str = ""
    error: str | None = None
    seconds: float | None = None
    call_id: str | None = None
    status: str = "ok"
    reasoning: str = ""  # a model round's thinking
    usage: Usage | None = None  # a model round's tokens
    value: Any = field(default=None, repr=False, compare=False)  # what the tool returned


@dataclass
class Result:
    """What came back. Also stored in ``_qwen`` and in ``-o NAME``."""

    text: str = ""
    reasoning: str = ""
    data: Any = None
    usage: Usage = field(default_factory=Usage)
    model: str = ""
    api: str = ""
    region: str | None = None
    request_id: str | None = None
    finish_reason: str | None = None
    ttft: float | None = None  # seconds to the first token (reasoning or answer)
    elapsed: float | None = None
    reasoning_time: float | None = None  # seconds spent thinking, when it thought
    interrupted: bool = False
    error: ServiceError | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)  # as sent, base64 elided
    raw: Any = field(default=None, repr=False)
    format: str = field(default="markdown", repr=False)
    media: list[Media] = field(default_factory=list)  # the images and video sent
    attachments: list[Attachment] = field(default_factory=list)  # files, pages, {df} summaries
    steps: list[Step] = field(default_factory=list)  # --tools: each model round and tool call
    sources: list[Source] = field(default_factory=list)  # --search: the pages, by number
    audio: Audio | None = field(default=None, compare=False)  # --voice: the spoken answer
    # --logprobs: each answer token with its log probability and alternatives; None: not
    # asked; [] asked, but the service returned none (not every model gives them).
    logprobs: list[TokenProb] | None = field(default=None, repr=False)
    # What it cost (pricing.Cost: amount, currency, breakdown; amount None: "unknown"); None
    # before the service reported tokens, or for a server of your own.
    cost: Cost | None = None
    # -n K where the service's ``n`` gave several samples in one request: (which, of how many);
    # the request's tokens and cost are the first sample's.
    samples: tuple[int, int] | None = None
    # While a failed request waits to be sent again (before the first token): why, and the
    # seconds left. None once the answer begins or the call ends.
    retry: Retrying | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.messages = elide(self.messages)

    def __repr__(self) -> str:
        return elided_repr(self)

    @property
    def ok(self) -> bool:
        return self.error is None and not self.interrupted

    @property
    def tool_calls(self) -> list[Step]:
        """The tool calls the model asked for, in order, with their results."""
        return [step for step in self.steps if step.kind == "tool"]

    @property
    def tokens_per_second(self) -> float | None:
        out = self.usage.output_tokens
        if not out or not self.elapsed or self.ttft is None:
            return None
        streaming = self.elapsed - self.ttft
        return out / streaming if streaming > 0 else None

    def __str__(self) -> str:
        return self.text


_FENCED = re.compile(r"^\s*```(?:json)?\s*\n(.*)\n\s*```\s*$", re.S)


def finalize(result: Result, request: Request) -> Result:
    """JSON mode: parse the finished answer into ``Result.data`` (or say why not)."""
    if request.json_mode and result.error is None and not result.interrupted:
        text = result.text
        match = _FENCED.match(text)
        try:
            result.data = json.loads(match.group(1) if match else text)
        except ValueError as exc:
            result.error = ServiceError(
                "json",
                f"the answer is not valid JSON ({exc})",
                hint="the raw answer is shown above; run the cell again, or lower -t.",
            )
    return result
