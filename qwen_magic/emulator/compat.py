"""OpenAI-compatible Chat Completions and model list (docs/wire.md §2, §5.1, §6)."""

from __future__ import annotations

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


def usage(plan: Plan) -> dict[str, Any]:
    data: dict[str, Any] = {
        "prompt_tokens": plan.prompt_tokens,
        "completion_tokens": plan.output_tokens,
        "total_tokens": plan.total_tokens,
        "prompt_tokens_details": {"cached_tokens": plan.cached_tokens},
    }
    if plan.thinking:
        data["completion_tokens_details"] = {"reasoning_tokens": plan.reasoning_tokens}
    return data


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
    plan = make_plan(
        exchange.reply,
        request_id=exchange.request_id,
        model=str(body["model"]),
        messages=messages,
        thinking=thinking,
        json_mode=json_mode,
        max_answer=body.get("max_tokens"),
        max_output=body.get("max_completion_tokens"),
        search=search_asked(body, "chat"),  # markers in the text; the chat API sends no sources
        calls=calls_allowed(body, "chat"),
        logprobs=asked_logprobs(body.get("logprobs"), body.get("top_logprobs"), stream),
        temperature=body.get("temperature"),
    )
    if exchange.reply.text is None:
        heard_note(plan, clips)
    completion_id = f"chatcmpl-{uuid.uuid4()}"
    created = int(time.time())
    if not stream or exchange.reply.fault == "json_for_stream":
        exchange.send_result(
            completion(plan, completion_id, created, exchange.reply.reasoning_field)
        )
        return
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

    def error_frame(_: int) -> bytes:
        error = data_inspection(OUTPUT_INSPECTION).compat_error()
        return sse({"error": error, "id": completion_id})

    frames = chunks(plan, completion_id, created, include_usage, exchange.reply.reasoning_field)
    exchange.stream(
        with_speech(frames, plan, completion_id, created, voice),
        error_frame=error_frame,
        malformed_frame=lambda _: b'data: {"choices":[{"delta":{"content":"brok\n\n',
    )


def completion(
    plan: Plan, completion_id: str, created: int, reasoning_key: str = "reasoning_content"
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": plan.text}
    if plan.thinking:
        message[reasoning_key] = plan.reasoning
    if plan.tool_calls:
        message["tool_calls"] = whole_calls(plan.tool_calls)
    return {
        "choices": [
            {
                "message": message,
                "finish_reason": plan.finish_reason,
                "index": 0,
                "logprobs": plan.whole_logprobs(),
            }
        ],
        "object": "chat.completion",
        "usage": usage(plan),
        "created": created,
        "system_fingerprint": None,
        "model": plan.model,
        "id": completion_id,
    }


def chunks(
    plan: Plan,
    completion_id: str,
    created: int,
    include_usage: bool,
    reasoning_key: str = "reasoning_content",
) -> list[bytes]:
    def chunk(
        delta: dict[str, Any] | None, finish: str | None = None, logprobs: Any = None
    ) -> bytes:
        choices = (
            []
            if delta is None
            else [{"delta": delta, "index": 0, "logprobs": logprobs, "finish_reason": finish}]
        )
        return sse(
            {
                "choices": choices,
                "object": "chat.completion.chunk",
                "usage": None,
                "created": created,
                "system_fingerprint": None,
                "model": plan.model,
                "id": completion_id,
            }
        )

    calls = fragments(plan.tool_calls, plan.interleave)
    if plan.thinking:
        key = reasoning_key
        frames = [chunk({"content": None, "role": "assistant", key: ""})]
        frames += [chunk({"content": None, key: p}) for p in plan.reasoning_pieces]
        frames += [
            chunk({"content": p, key: None}, logprobs=plan.logprobs_of(i))
            for i, p in enumerate(plan.answer_pieces)
        ]
        frames += [chunk({"content": None, "tool_calls": [f]}) for f in calls]
        frames.append(chunk({"content": "", key: None}, plan.finish_reason))
    else:
        frames = [chunk({"content": "", "role": "assistant"})]
        frames += [
            chunk({"content": p}, logprobs=plan.logprobs_of(i))
            for i, p in enumerate(plan.answer_pieces)
        ]
        frames += [chunk({"content": None, "tool_calls": [f]}) for f in calls]
        frames.append(chunk({"content": ""}, plan.finish_reason))
    if include_usage:
        last = dumps(usage(plan))
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
