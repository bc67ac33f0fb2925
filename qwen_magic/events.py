"""The shared vocabulary between providers and renderers.

A provider turns one SDK stream into a sequence of these events; the runner folds them into a
:class:`~qwen_magic.result.Result`. Nothing here knows about SDKs or widgets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from qwen_magic.errors import ServiceError


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    """A piece of the model's thinking."""

    text: str


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of the answer."""

    text: str


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts. Protocols that report usage cumulatively just send the latest."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    reasoning_tokens: int | None = None
    cached_tokens: int | None = None

    @property
    def total_tokens(self) -> int | None:
        if self.input_tokens is None and self.output_tokens is None:
            return None
        return (self.input_tokens or 0) + (self.output_tokens or 0)

    def as_dict(self) -> dict[str, int | None]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "reasoning_tokens": self.reasoning_tokens,
            "cached_tokens": self.cached_tokens,
            "total_tokens": self.total_tokens,
        }


@dataclass(frozen=True, slots=True)
class Started:
    """The service accepted the request (ids known before the first token)."""

    request_id: str | None = None
    model: str | None = None


@dataclass(frozen=True, slots=True)
class Finished:
    """The model stopped on its own (``stop``, ``length``, ...)."""

    finish_reason: str | None = None
    request_id: str | None = None
    response_id: str | None = None
    raw: Any = field(default=None, repr=False, compare=False)  # the SDK's last object


@dataclass(frozen=True, slots=True)
class Failed:
    """The service or the connection failed; whatever streamed before is kept."""

    error: ServiceError


@dataclass(frozen=True, slots=True)
class Retrying:
    """A request failed before the first token and is sent again after ``wait`` seconds: the
    user sees why nothing arrives (``reason``, e.g. "rate limited (429)")."""

    attempt: int  # the attempt about to be made (2: the first retry)
    attempts: int  # at most this many in all
    wait: float
    reason: str


@dataclass(frozen=True, slots=True)
class ToolCall:
    """The model asks for a function call. ``arguments`` is the JSON text the model wrote,
    kept as text: it may not parse, and the model is shown its own text again in the history.
    ``id`` pairs the call with its ``ToolResult`` (``call_id`` on the Responses API)."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class ToolResult:
    """What a call gave back, as the text sent to the model (JSON, or ``str`` of the value, or
    the exception's text)."""

    call_id: str
    output: str


@dataclass(frozen=True, slots=True)
class Source:
    """One web page the service's search used. ``index`` is the number the answer's citation
    markers use (``[ref_1]`` cites index 1)."""

    index: int
    title: str
    url: str
    site: str | None = None


@dataclass(frozen=True, slots=True)
class Sources:
    """The web search's sources for this answer (``--search``), in index order. Sent once per
    round, by the APIs that return them (DashScope native, Responses); never by chat."""

    items: tuple[Source, ...]


@dataclass(frozen=True, slots=True)
class TokenProb:
    """One token of the answer (``--logprobs``): its natural-log probability, and the top-K
    ``alternatives`` the model weighed at that place as ``(token, logprob)``, likeliest first
    (they include the token itself when it was among them)."""

    token: str
    logprob: float
    alternatives: tuple[tuple[str, float], ...] = ()

    @property
    def probability(self) -> float:
        return math.exp(self.logprob)


@dataclass(frozen=True, slots=True)
class TokenLogprobs:
    """The next tokens of the answer with their probabilities (``--logprobs``), in order."""

    items: tuple[TokenProb, ...]


@dataclass(frozen=True, slots=True)
class AudioDelta:
    """A piece of the spoken answer (``--voice``): raw 16-bit mono PCM at
    ``audio.SPEECH_RATE``, as the service streams it (base64-decoded)."""

    pcm: bytes = field(repr=False)
    transcript: str = ""  # what this piece says, when the service tells


Event = (
    ReasoningDelta
    | TextDelta
    | Usage
    | Started
    | Finished
    | Failed
    | ToolCall
    | Retrying
    | Sources
    | AudioDelta
    | TokenLogprobs
)
