"""OpenAI-compatible Chat Completions and model list (docs/wire.md §2, §5.1, §6)."""

from __future__ import annotations

import itertools
import time
import uuid
from typing import Any

from qwen_magic.emulator.catalog import (
    CREATED,
    MODELS,
    ModelInfo,
    requested_thinking,
    require,
    resolve_thinking,
)
from qwen_magic.emulator.faults import (
    ApiError,
    asked_logprobs,
    check_data_uris,
    check_json_mode,
    data_inspection,
    dumps,
    invalid_parameter,
    model_not_found,
)
from qwen_magic.emulator.records import Host
from qwen_magic.emulator.replies import Plan, make_plan
from qwen_magic.emulator.speech import heard_clips, heard_note, speech_asked, with_speech
from qwen_magic.emulator.tool_checks import check_tool_messages
from qwen_magic.emulator.tools import calls_allowed, fragments, search_asked, whole_calls
from qwen_magic.emulator.transport import OUTPUT_INSPECTION, SSE_CONTENT_TYPE, Exchange

STREAM_ONLY = (
    "This model only support stream mode, please enable the stream parameter to access the model."
)
NON_STREAM_THINKING = "parameter.enable_thinking must be set to false for non-streaming calls"


def sse(payload: object) -> bytes:
    return f"data: {payload if isinstance(payload, str) else dumps(payload)}\n\n".encode()


def send_error(exchange: Exchange, error: ApiError) -> None:
    """A compat error: `{"error":{…},"request_id"}` JSON, or the SSE-framed 400 body."""
    if error.sse:
        body = sse({"error": error.compat_error(), "id": f"chatcmpl-{uuid.uuid4()}"})
        content_type = "application/json" if error.mislabelled else SSE_CONTENT_TYPE
        exchange.send_body(error.status, body, content_type, error.headers)
    else:
        exchange.send_json(error.status, error.compat_body(exchange.request_id), error.headers)


def usage(plan: Plan, others: list[Plan] | None = None) -> dict[str, Any]:
    """The request's usage; ``others``: its further choices (``n``), whose output counts too."""
    output = plan.output_tokens + sum(p.output_tokens for p in others or [])
    data: dict[str, Any] = {
        "prompt_tokens": plan.prompt_tokens,
        "completion_tokens": output,
        "total_tokens": plan.prompt_tokens + output,
        "prompt_tokens_details": {"cached_tokens": plan.cached_tokens},
    }
    if plan.thinking:
        data["completion_tokens_details"] = {"reasoning_tokens": plan.reasoning_tokens}
    return data


SAMPLES_RANGE = "Range of n should be [1, 4]"


def samples_asked(body: dict[str, Any], info: ModelInfo, thinking: bool) -> int:
    """``n``: how many choices the reply holds (1 with tools: the service forces it)."""
    n = body.get("n")
    if n is None:
        return 1
    if type(n) is not int or not 1 <= n <= 4:
        raise invalid_parameter(SAMPLES_RANGE, "n")
    if n > 1 and thinking:
        raise invalid_parameter("n greater than 1 is not supported in thinking mode", "n")
    if n > 1 and not info.samples:
        raise invalid_parameter(f"The model {info.name} does not support n greater than 1", "n")
    return 1 if body.get("tools") else n


def request_body(exchange: Exchange) -> dict[str, Any]:
    body = exchange.record.body
    if not isinstance(body, dict):
        raise invalid_parameter("The request body is not valid JSON.")
    return body


def check_stream(info: ModelInfo, stream: bool, thinking: bool) -> None:
    """The service's refusals of a non-streamed call: stream-only models, and thinking on
    models that think only while streaming (both protocols answer the same)."""
    if not stream and info.stream_only:
        raise invalid_parameter(STREAM_ONLY)
    if not stream and thinking and not info.non_stream_thinking:
        raise invalid_parameter(NON_STREAM_THINKING)


def chat(emu: Host, exchange: Exchange) -> None:
    body = request_body(exchange)
    stream = body.get("stream") is True
    exchange.record.stream = stream
    info = require(body.get("model"))
    messages = body.get("messages") or []
    check_data_uris(messages)
    check_tool_messages([m for m in messages if isinstance(m, dict)])
    thinking = resolve_thinking(info, requested_thinking(body))
    json_mode = check_json_mode(body.get("response_format"), messages, thinking)
    check_stream(info, stream, thinking)
    voice = speech_asked(body, str(body["model"]), stream)  # --voice: modalities, audio
    clips = heard_clips(messages)  # -a: input_audio parts
    samples = samples_asked(body, info, thinking)
    if exchange.reply.choices is not None:
        samples = min(samples, exchange.reply.choices)
    asked: dict[str, Any] = {  # what every choice's plan is made of (n: one per choice)
        "request_id": exchange.request_id,
        "model": str(body["model"]),
        "messages": messages,
        "thinking": thinking,
        "json_mode": json_mode,
        "max_answer": body.get("max_tokens"),
        "max_output": body.get("max_completion_tokens"),
        "search": search_asked(body, "chat"),  # markers in the text; no sources on chat
        "calls": calls_allowed(body, "chat"),
        "logprobs": asked_logprobs(body.get("logprobs"), body.get("top_logprobs"), stream),
        "temperature": body.get("temperature"),
    }
    plans = [make_plan(exchange.reply, sample=sample, **asked) for sample in range(samples)]
    plan = plans[0]
    if exchange.reply.text is None:
        heard_note(plan, clips)
    completion_id = f"chatcmpl-{uuid.uuid4()}"
    created = int(time.time())
    reasoning_key = exchange.reply.reasoning_field
    if not stream or exchange.reply.fault == "json_for_stream":
        exchange.send_result(completion(plans, completion_id, created, reasoning_key))
        return
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

    def error_frame(_: int) -> bytes:
        error = data_inspection(OUTPUT_INSPECTION).compat_error()
        return sse({"error": error, "id": completion_id})

    frames = chunks(plans, completion_id, created, include_usage, reasoning_key)
    exchange.stream(
        with_speech(frames, plan, completion_id, created, voice),
        error_frame=error_frame,
        malformed_frame=lambda _: b'data: {"choices":[{"delta":{"content":"brok\n\n',
    )


def completion(
    plans: list[Plan], completion_id: str, created: int, reasoning_key: str = "reasoning_content"
) -> dict[str, Any]:
    """A non-streamed reply: one choice per plan (``n``)."""
    choices = []
    for index, plan in enumerate(plans):
        message: dict[str, Any] = {"role": "assistant", "content": plan.text}
        if plan.thinking:
            message[reasoning_key] = plan.reasoning
        if plan.tool_calls:
            message["tool_calls"] = whole_calls(plan.tool_calls)
        choices.append(
            {
                "message": message,
                "finish_reason": plan.finish_reason,
                "index": index,
                "logprobs": plan.whole_logprobs(),
            }
        )
    return {
        "choices": choices,
        "object": "chat.completion",
        "usage": usage(plans[0], plans[1:]),
        "created": created,
        "system_fingerprint": None,
        "model": plans[0].model,
        "id": completion_id,
    }


def chunks(
    plans: list[Plan],
    completion_id: str,
    created: int,
    include_usage: bool,
    reasoning_key: str = "reasoning_content",
) -> list[bytes]:
    """The stream's frames: each plan's (one per choice, ``n``) taken in turn, then the usage
    frame and ``[DONE]``."""
    model = plans[0].model

    def chunk(
        delta: dict[str, Any] | None, finish: str | None = None, logprobs: Any = None,
        index: int = 0,
    ) -> bytes:  # fmt: skip
        choices = (
            []
            if delta is None
            else [{"delta": delta, "index": index, "logprobs": logprobs, "finish_reason": finish}]
        )
        return sse(
            {
                "choices": choices,
                "object": "chat.completion.chunk",
                "usage": None,
                "created": created,
                "system_fingerprint": None,
                "model": model,
                "id": completion_id,
            }
        )

    def choice_frames(plan: Plan, index: int) -> list[bytes]:
        calls = fragments(plan.tool_calls, plan.interleave)
        if plan.thinking:
            key = reasoning_key
            frames = [chunk({"content": None, "role": "assistant", key: ""}, index=index)]
            frames += [chunk({"content": None, key: p}, index=index) for p in plan.reasoning_pieces]
            frames += [
                chunk({"content": p, key: None}, logprobs=plan.logprobs_of(i), index=index)
                for i, p in enumerate(plan.answer_pieces)
            ]
            frames += [chunk({"content": None, "tool_calls": [f]}, index=index) for f in calls]
            frames.append(chunk({"content": "", key: None}, plan.finish_reason, index=index))
        else:
            frames = [chunk({"content": "", "role": "assistant"}, index=index)]
            frames += [
                chunk({"content": p}, logprobs=plan.logprobs_of(i), index=index)
                for i, p in enumerate(plan.answer_pieces)
            ]
            frames += [chunk({"content": None, "tool_calls": [f]}, index=index) for f in calls]
            frames.append(chunk({"content": ""}, plan.finish_reason, index=index))
        return frames

    each = [choice_frames(plan, index) for index, plan in enumerate(plans)]
    frames = [f for turn in itertools.zip_longest(*each) for f in turn if f is not None]
    if include_usage:
        last = dumps(usage(plans[0], plans[1:]))
        frames.append(chunk(None).replace(b'"usage":null', b'"usage":' + last.encode(), 1))
    frames.append(sse("[DONE]"))
    return frames


def models(emu: Host, exchange: Exchange) -> None:
    """`GET /models` (the OpenAI list) and `GET /models/{id}`."""
    path = exchange.record.path
    if path.endswith("/models"):
        data = [model_entry(name) for name in MODELS]
        exchange.send_json(200, {"object": "list", "data": data})
        return
    name = path.rsplit("/", 1)[1]
    if name not in MODELS:
        raise model_not_found(name)
    exchange.send_json(200, model_entry(name))


def model_entry(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": CREATED, "owned_by": "system"}
