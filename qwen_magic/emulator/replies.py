"""What the emulator answers: the scripted `Reply` and the `Plan` derived from it per request."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from qwen_magic.emulator import logprobs
from qwen_magic.emulator.hostile import HOSTILE_FAULTS, mark
from qwen_magic.emulator.tools import (
    ScriptedCall,
    ScriptedSource,
    scripted_calls,
    scripted_sources,
    trailing_outputs,
    with_markers,
)

FAULTS = (
    "http_400",
    "http_400_sse",
    "http_400_mislabelled",
    "llama_400",
    "data_inspection",
    "http_401",
    "http_403",
    "http_404",
    "http_429",
    "http_500",
    "http_503",
    "stall",
    "cut",
    "error_frame",
    "malformed",
    "empty",
    "split_utf8",
    *HOSTILE_FAULTS,
)
MID_STREAM_FAULTS = ("cut", "error_frame", "malformed")
PARTIAL_CONTINUATION = " (continued)"
UTF8_SAMPLE = " — 你好，世界 ✓ 🙂"


@dataclass
class Reply:
    """One scripted answer. Every field is optional; None means "derive it from the request".

    text: the answer (default "Echo: <last user text>"; " (continued)" after a partial
    assistant message; {"echo": …} in JSON mode). reasoning: the thinking text when the request
    thinks (default "The user asked: …"; "" for none). chunks / reasoning_chunks: number of
    delta frames (default one per word). delay: seconds before each frame. fault: one of
    FAULTS — the http_* kinds and data_inspection answer with the protocol's real error body,
    llama_400 with llama.cpp's (a numeric code, no request id: a prompt over the context);
    stall waits `delay` before any byte; cut, error_frame and malformed strike after
    `fault_after` frames (default half of them); empty sends no text; split_utf8 writes the
    stream in pieces that cut multi-byte characters; the hostile-server faults (empty_stream,
    done_first, json_for_stream, empty_json, string_usage, bad_content_type, null_choice,
    invalid_utf8, html_502, huge_frame, clean_close, slow_frame) are described in
    `qwen_magic.emulator.hostile`.

    tool_calls: the round asks for these calls (``[{"name": "get_weather", "arguments":
    '{"city": "Paris"}'}, …]``, arguments as JSON text or a dict, an optional "id"): each call's
    arguments stream in `tool_chunks` fragments (chat and native: the id and name in the first,
    empty ids after; `interleave` mixes parallel calls' fragments), the answer text defaults to
    none, and the round finishes with "tool_calls" — if the request offered function tools and
    did not say ``tool_choice: "none"`` (else it answers in text, as a model would). The next
    queued reply answers the round after the tool results (its default text echoes them).
    sources: ``[(title, url), …]`` (or ``(title, url, site)``, or dicts with an "index") found
    by the web search when the request turned it on: native ``output.search_info`` (with
    ``enable_source``), Responses ``web_search_call`` items and ``url_citation`` annotations
    on the answer's ``[ref_N]`` markers; the default answer cites each one.
    """

    text: str | None = None
    reasoning: str | None = None
    chunks: int | None = None
    reasoning_chunks: int | None = None
    delay: float = 0.0
    finish_reason: str = "stop"
    prompt_tokens: int | None = None
    cached_tokens: int = 0
    request_id: str | None = None
    fault: str | None = None
    fault_after: int | None = None
    retry_after: str = "1"
    # The chat protocol's reasoning field: "reasoning_content" (DashScope, vLLM, llama.cpp) or
    # "reasoning" (Ollama, newer vLLM).
    reasoning_field: str = "reasoning_content"
    tool_calls: list[dict[str, Any]] | None = None
    tool_chunks: int = 3
    interleave: bool = False
    sources: list[Any] | None = None
    # --logprobs: None gives them when the request asks (logprobs=true, top_logprobs=K);
    # False never (a model without them: "logprobs": null); True also unasked (K = 0).
    logprobs: bool | None = None
    # n: how many choices the reply holds when the request asked for several (None: as
    # asked); fewer plays a server that ignores n.
    choices: int | None = None
    # n: the answers of choices 2, 3, ... (None: derived from the request; past the list's end
    # a choice repeats the text).
    samples: list[str] | None = None
    # Count tokens with the offline Qwen tokenizer (one frame per token, usage as it counts);
    # None: when log probabilities are sent. Otherwise one "token" per word piece.
    tokenized: bool | None = None

    def __post_init__(self) -> None:
        if self.choices is not None and self.choices < 1:
            raise ValueError(f"choices must be at least 1, not {self.choices}")
        if self.fault is not None and self.fault not in FAULTS:
            raise ValueError(f"unknown fault {self.fault!r}; expected one of {', '.join(FAULTS)}")


@dataclass
class Plan:
    """The concrete answer for one request: pieces as they go on the wire, and token counts."""

    request_id: str
    model: str
    thinking: bool
    reasoning_pieces: list[str] = field(default_factory=list)
    answer_pieces: list[str] = field(default_factory=list)
    finish_reason: str = "stop"
    prompt_tokens: int = 0
    cached_tokens: int = 0
    tool_calls: list[ScriptedCall] = field(default_factory=list)
    interleave: bool = False
    sources: list[ScriptedSource] = field(default_factory=list)  # sent when search is on
    query: str = ""  # what the web search looked for (the user's last text)
    # Tokenized answers (--logprobs): each piece's token count, and its logprobs entries.
    answer_counts: list[int] | None = None
    reasoning_counts: list[int] | None = None
    answer_logprobs: list[list[dict[str, Any]]] | None = None

    @property
    def text(self) -> str:
        return "".join(self.answer_pieces)

    @property
    def reasoning(self) -> str:
        return "".join(self.reasoning_pieces)

    @property
    def reasoning_tokens(self) -> int:
        return self.reasoning_through(len(self.reasoning_pieces))

    @property
    def answer_tokens(self) -> int:
        return self.answer_through(len(self.answer_pieces))

    @property
    def output_tokens(self) -> int:
        return self.answer_tokens + self.reasoning_tokens

    def answer_through(self, pieces: int) -> int:
        """Tokens in the first ``pieces`` answer pieces."""
        counts = self.answer_counts
        return pieces if counts is None else sum(counts[:pieces])

    def reasoning_through(self, pieces: int) -> int:
        counts = self.reasoning_counts
        return pieces if counts is None else sum(counts[:pieces])

    def logprobs_of(self, piece: int) -> dict[str, Any] | None:
        """The ``logprobs`` of the answer piece at ``piece`` (None: not sent)."""
        if self.answer_logprobs is None:
            return None
        entries = self.answer_logprobs[piece] if piece < len(self.answer_logprobs) else []
        return {"content": entries}

    def whole_logprobs(self) -> dict[str, Any] | None:
        return self.whole_logprobs_through(len(self.answer_pieces))

    def whole_logprobs_through(self, pieces: int) -> dict[str, Any] | None:
        """Every entry of the first ``pieces`` pieces (a cumulative native frame's)."""
        if self.answer_logprobs is None:
            return None
        return {"content": [e for entries in self.answer_logprobs[:pieces] for e in entries]}

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.output_tokens


def split_text(text: str, chunks: int | None) -> list[str]:
    """Split into `chunks` near-equal character runs, or one run per word (spaces kept)."""
    if not text:
        return []
    if chunks is None:
        words = re.findall(r"\S+\s*", text)
        lead = text[: len(text) - len(text.lstrip())]
        if not words:
            return [text]
        words[0] = lead + words[0]
        return words
    count = max(1, min(chunks, len(text)))
    size, extra = divmod(len(text), count)
    pieces, start = [], 0
    for index in range(count):
        end = start + size + (1 if index < extra else 0)
        pieces.append(text[start:end])
        start = end
    return pieces


def content_text(content: Any) -> str:
    """Text of a message `content`: a string, or a list of parts in any of the three protocols."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                texts.append(part["text"])
        return " ".join(t for t in texts if t)
    return ""


def last_user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if (
            isinstance(message, dict)
            and message.get("role", "user") == "user"
            and message.get("type") in (None, "message")
        ):
            return content_text(message.get("content"))
    return ""


def count_words(messages: list[dict[str, Any]]) -> int:
    return sum(len(content_text(m.get("content")).split()) for m in messages if isinstance(m, dict))


def is_partial(messages: list[dict[str, Any]]) -> bool:
    last = messages[-1] if messages else None
    return isinstance(last, dict) and last.get("role") == "assistant" and bool(last.get("partial"))


def default_reasoning(user_text: str) -> str:
    return f"The user asked: {user_text.rstrip('.')}. I will answer briefly."


def make_plan(
    reply: Reply,
    *,
    request_id: str,
    model: str,
    messages: list[dict[str, Any]],
    thinking: bool,
    json_mode: bool = False,
    max_answer: int | None = None,
    max_output: int | None = None,
    search: bool = False,
    calls: bool = True,
    logprobs: int | None = None,
    temperature: float | None = None,
    sample: int = 0,
) -> Plan:
    """Derive text, reasoning, pieces, finish reason and token counts for one request (its
    ``sample``-th choice when it asked for several with ``n``: a derived answer says which).

    `max_answer` caps answer pieces (like `max_tokens`); `max_output` caps reasoning plus answer
    (like `max_output_tokens`). Hitting a cap truncates the answer and finishes with "length".
    `logprobs`: the request's top_logprobs when it asked for log probabilities (None: not).
    """
    user = last_user_text(messages)
    asked = reply.tool_calls if calls else None  # never without tools, nor under "none"
    sources = scripted_sources(reply.sources) if search else []
    outputs = trailing_outputs(messages)
    if reply.fault == "empty":
        text = ""
    elif reply.text is not None:
        text = reply.text
    elif asked:
        text = ""  # a round that only asks for calls
    elif outputs:
        text = with_markers("Echo: " + " ".join(outputs), sources)
    elif is_partial(messages):
        text = PARTIAL_CONTINUATION
    elif json_mode:
        text = json.dumps({"echo": user, **({"sample": sample + 1} if sample else {})},
                          ensure_ascii=False)  # fmt: skip
    else:
        text = with_markers(f"Echo: {user}" + (f" (sample {sample + 1})" if sample else ""),
                            sources)  # fmt: skip
    chunks = reply.chunks
    if sample and reply.samples and sample <= len(reply.samples):
        text, chunks = reply.samples[sample - 1], None  # (one frame a word)
    if reply.fault == "split_utf8" and reply.text is None:
        text += UTF8_SAMPLE
    reasoning = ""
    if thinking:
        reasoning = default_reasoning(user) if reply.reasoning is None else reply.reasoning
    finish = reply.finish_reason
    if asked and finish == "stop":
        finish = "tool_calls"
    plan = Plan(
        request_id=request_id,
        model=model,
        thinking=thinking,
        reasoning_pieces=split_text(reasoning, reply.reasoning_chunks),
        answer_pieces=mark(split_text(text, chunks), reply.fault, reply.fault_after),
        finish_reason=finish,
        tool_calls=scripted_calls(asked, reply.tool_chunks),
        interleave=reply.interleave,
        sources=sources,
        query=user,
        prompt_tokens=(
            reply.prompt_tokens if reply.prompt_tokens is not None else count_words(messages) + 4
        ),
        cached_tokens=reply.cached_tokens,
    )
    _tokenize(plan, reply, messages, text, reasoning, logprobs, temperature)
    limits = []
    if max_answer is not None:
        limits.append(max_answer)
    if max_output is not None:
        limits.append(max_output - len(plan.reasoning_pieces))
    if limits and len(plan.answer_pieces) > max(0, min(limits)):
        plan.answer_pieces = plan.answer_pieces[: max(0, min(limits))]
        plan.finish_reason = "length"
        if plan.answer_counts is not None:
            plan.answer_counts = plan.answer_counts[: len(plan.answer_pieces)]
        if plan.answer_logprobs is not None:
            plan.answer_logprobs = plan.answer_logprobs[: len(plan.answer_pieces)]
    return plan


def _tokenize(
    plan: Plan,
    reply: Reply,
    messages: list[dict[str, Any]],
    text: str,
    reasoning: str,
    asked: int | None,
    temperature: float | None,
) -> None:
    """Tokenized pieces, counts and logprobs entries (``--logprobs``; ``Reply.tokenized``)."""
    sends = reply.logprobs is True or (asked is not None and reply.logprobs is not False)
    tokenized = reply.tokenized if reply.tokenized is not None else sends
    groups: list[list[bytes]] | None = None
    if tokenized:
        answer = logprobs.pieces(text)
        thought = logprobs.pieces(reasoning)
        if answer is not None and thought is not None:
            plan.answer_pieces = mark(answer[0], reply.fault, reply.fault_after)
            groups = answer[1]
            plan.answer_counts = [len(group) for group in groups]
            plan.reasoning_pieces = thought[0]
            plan.reasoning_counts = [len(group) for group in thought[1]]
            counted = logprobs.prompt_tokens(messages, content_text)
            if reply.prompt_tokens is None and counted is not None:
                plan.prompt_tokens = counted
    if not sends:
        return
    if groups is None:  # no tokenizer: a word piece stands for a token
        groups = [[piece.encode()] for piece in plan.answer_pieces]
    k = asked or 0
    position = 0
    entries: list[list[dict[str, Any]]] = []
    for group in groups:
        row = []
        for token in group:
            row.append(logprobs.entry(token, position, k, temperature))
            position += 1
        entries.append(row)
    plan.answer_logprobs = entries
