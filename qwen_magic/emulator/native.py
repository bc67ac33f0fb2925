"""DashScope native generation, upload policy and OSS upload (docs/wire.md §4, §5.2)."""

from __future__ import annotations

import base64
import time
import uuid
from typing import Any

from qwen_magic.emulator.catalog import require, resolve_thinking
from qwen_magic.emulator.compat import check_stream, request_body
from qwen_magic.emulator.faults import (
    ApiError,
    asked_logprobs,
    check_data_uris,
    check_json_mode,
    data_inspection,
    dumps,
)
from qwen_magic.emulator.faults import invalid_parameter as bad
from qwen_magic.emulator.records import Host
from qwen_magic.emulator.records import native_input as input_messages
from qwen_magic.emulator.replies import Plan, make_plan
from qwen_magic.emulator.tool_checks import check_tool_messages
from qwen_magic.emulator.tools import (
    calls_allowed,
    fragments,
    search_asked,
    search_options,
    whole_calls,
)
from qwen_magic.emulator.transport import (
    JSON_CONTENT_TYPE,
    OUTPUT_INSPECTION,
    SSE_CONTENT_TYPE,
    Exchange,
)

WRONG_ENDPOINT = "url error, please check url！"
NEEDS_INCREMENTAL = 'The incremental_output parameter must be "true" when enable_thinking is true'
NEEDS_MESSAGE = 'The result_format parameter must be "message" when enable_thinking is true'


def frame(number: int, event: str, payload: object, status: int = 200) -> bytes:
    data = payload if isinstance(payload, str) else dumps(payload)
    return f"id:{number}\nevent:{event}\n:HTTP_STATUS/{status}\ndata:{data}\n\n".encode()


def send_error(exchange: Exchange, error: ApiError) -> None:
    """`{"code","message","request_id"}` JSON, or the SSE `event:error` body (maybe mislabelled)."""
    body = error.native_body(exchange.request_id)
    if error.sse:
        content_type = JSON_CONTENT_TYPE if error.mislabelled else SSE_CONTENT_TYPE
        data = frame(1, "error", body, error.status)
        exchange.send_body(error.status, data, content_type, error.headers)
    else:
        exchange.send_json(error.status, body, error.headers)


def generation(emu: Host, exchange: Exchange) -> None:
    record, body = exchange.record, request_body(exchange)
    sse_header = record.headers.get("x-dashscope-sse", "").lower() == "enable"
    stream = sse_header or "text/event-stream" in record.headers.get("accept", "")
    record.stream = stream
    info = require(body.get("model"))
    multimodal = record.protocol == "native-multimodal"
    if info.multimodal_only and not multimodal:
        raise bad(WRONG_ENDPOINT)
    messages = input_messages(body)
    if not messages:
        raise bad("Input should contain messages or prompt.")
    check_data_uris(body.get("input"))
    check_tool_messages(messages)
    params = body.get("parameters") or {}
    thinking = resolve_thinking(info, params.get("enable_thinking"))
    json_mode = check_json_mode(params.get("response_format"), messages, thinking)
    incremental = params.get("incremental_output")
    if not isinstance(incremental, bool):
        incremental = info.native_incremental
    result_format = params.get("result_format") or ("message" if multimodal or thinking else "text")
    if thinking and result_format != "message":
        raise bad(NEEDS_MESSAGE)
    if stream and thinking and not incremental:
        raise bad(NEEDS_INCREMENTAL)
    check_stream(info, stream, thinking)
    plan = make_plan(
        exchange.reply,
        request_id=exchange.request_id,
        model=str(body["model"]),
        messages=messages,
        thinking=thinking,
        json_mode=json_mode,
        max_answer=params.get("max_tokens"),
        search=search_asked(body, record.protocol),
        calls=calls_allowed(body, record.protocol),
        logprobs=asked_logprobs(params.get("logprobs"), params.get("top_logprobs"), stream),
        temperature=params.get("temperature"),
    )
    shape = Shape(plan, result_format == "message", multimodal)
    if search_asked(body, record.protocol):
        options = search_options(body, record.protocol)
        shape.search = {"count": 1, "strategy": options.get("search_strategy", "turbo")}
        shape.with_sources = options.get("enable_source") is True
    if not stream or exchange.reply.fault == "json_for_stream":
        calls = whole_calls(plan.tool_calls)
        output = shape.output(plan.text, plan.reasoning, plan.finish_reason, calls, first=True)
        shape.add_logprobs(output, plan.whole_logprobs())
        reasoning_tokens, answer_tokens = plan.reasoning_tokens, plan.answer_tokens
        exchange.send_result(shape.body(output, reasoning_tokens, answer_tokens))
        return

    def error_frame(number: int) -> bytes:
        error = data_inspection(OUTPUT_INSPECTION)
        return frame(number + 1, "error", error.native_body(plan.request_id), 400)

    exchange.stream(
        shape.frames(incremental),
        error_frame=error_frame,
        malformed_frame=lambda n: frame(n + 1, "result", '{"output":{"choices":[{"message":{"co'),
    )


class Shape:
    """Builds native `output`/`usage` bodies for one plan in the requested result format."""

    def __init__(self, plan: Plan, message_format: bool, multimodal: bool) -> None:
        self.plan = plan
        self.message_format = message_format
        self.multimodal = multimodal
        self.search: dict[str, Any] | None = None  # usage.plugins.search, when search was on
        self.with_sources = False  # search_info in the first frame (enable_source)

    def output(
        self,
        text: str,
        reasoning: str,
        finish: str,
        tool_calls: list[dict[str, Any]] | None = None,
        first: bool = False,
    ) -> dict[str, Any]:
        output: dict[str, Any]
        if not self.message_format:
            output = {"text": text, "finish_reason": finish}
        else:
            content: Any = ([{"text": text}] if text else []) if self.multimodal else text
            message: dict[str, Any] = {"content": content, "role": "assistant"}
            if self.plan.thinking:
                message["reasoning_content"] = reasoning
            if tool_calls:
                message["tool_calls"] = tool_calls
            output = {"choices": [{"message": message, "finish_reason": finish}]}
        if first and self.with_sources and self.plan.sources:
            results = [source.native() for source in self.plan.sources]
            output["search_info"] = {"search_results": results}
        return output

    def add_logprobs(self, output: dict[str, Any], logprobs: dict[str, Any] | None) -> None:
        """The choice's ``logprobs`` (``--logprobs``), when the plan has them."""
        if logprobs is not None and "choices" in output:
            output["choices"][0]["logprobs"] = logprobs

    def usage(self, reasoning_tokens: int, answer_tokens: int) -> dict[str, Any]:
        plan, output_tokens = self.plan, reasoning_tokens + answer_tokens
        data: dict[str, Any] = {
            "total_tokens": plan.prompt_tokens + output_tokens,
            "input_tokens": plan.prompt_tokens,
            "output_tokens": output_tokens,
            "prompt_tokens_details": {"cached_tokens": plan.cached_tokens},
        }
        if plan.thinking:
            data["output_tokens_details"] = {"reasoning_tokens": reasoning_tokens}
        if self.search is not None:
            data["plugins"] = {"search": self.search}
        return data

    def body(self, output: dict[str, Any], reasoning_tokens: int, answer_tokens: int) -> dict:
        usage = self.usage(reasoning_tokens, answer_tokens)
        return {"output": output, "usage": usage, "request_id": self.plan.request_id}

    def frames(self, incremental: bool) -> list[bytes]:
        plan, bodies = self.plan, []
        reasoning, answer = plan.reasoning_pieces, plan.answer_pieces
        frags = fragments(plan.tool_calls, plan.interleave)
        outputs: list[tuple[dict[str, Any], int, int]] = []  # output, reasoning/answer tokens
        thought, answered = plan.reasoning_tokens, plan.answer_tokens
        if incremental:
            for i, piece in enumerate(reasoning):
                outputs.append((self.output("", piece, "null"), plan.reasoning_through(i + 1), 0))
            for i, piece in enumerate(answer):
                output = self.output(piece, "", "null")
                self.add_logprobs(output, plan.logprobs_of(i))
                outputs.append((output, thought, plan.answer_through(i + 1)))
            for frag in frags:  # one fragment a frame: id and name first, empty ids after
                outputs.append((self.output("", "", "null", [frag]), thought, answered))
            final = self.output("", "", plan.finish_reason)
            outputs.append((final, thought, answered))
        else:  # each frame holds everything so far, the last one its finish reason
            last = len(answer) + len(frags) - 1
            for i in range(len(answer)):
                finish = plan.finish_reason if i == last else "null"
                text = "".join(answer[: i + 1])
                output = self.output(text, "", finish)
                so_far = plan.whole_logprobs_through(i + 1)
                self.add_logprobs(output, so_far)
                outputs.append((output, 0, plan.answer_through(i + 1)))
            for i in range(len(frags)):
                finish = plan.finish_reason if len(answer) + i == last else "null"
                calls = merged(frags[: i + 1])
                outputs.append((self.output(plan.text, "", finish, calls), 0, answered))
            if last < 0:
                outputs.append((self.output("", "", plan.finish_reason), 0, 0))
        if outputs and self.with_sources and plan.sources:
            results = [source.native() for source in plan.sources]
            outputs[0][0]["search_info"] = {"search_results": results}
        bodies = [self.body(output, r, a) for output, r, a in outputs]
        return [frame(i + 1, "result", body) for i, body in enumerate(bodies)]


def merged(frags: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Fragments folded into whole calls so far (what a cumulative frame carries)."""
    calls: dict[int, dict[str, Any]] = {}
    for frag in frags:
        call = calls.setdefault(
            frag["index"],
            {"index": frag["index"], "id": "", "type": "function", "function": {"name": ""}},
        )
        call["id"] = call["id"] or frag["id"]
        function = call["function"]
        function["name"] = function["name"] or frag["function"].get("name", "")
        function["arguments"] = function.get("arguments", "") + frag["function"]["arguments"]
    return [calls[index] for index in sorted(calls)]


def upload_policy(emu: Host, exchange: Exchange) -> None:
    """`GET /api/v1/uploads?action=getPolicy&model=…`: a certificate pointing back at us."""
    query = exchange.record.query
    if query.get("action") != "getPolicy":
        raise bad("action must be getPolicy")
    day = time.strftime("%Y-%m-%d")
    policy = base64.b64encode(dumps({"expiration": "2099-01-01T00:00:00Z"}).encode()).decode()
    data = {
        "policy": policy,
        "signature": "emulated-signature",
        "upload_dir": f"dashscope-instant/emulator/{day}/{uuid.uuid4().hex[:12]}",
        "upload_host": emu.url + "/oss-upload",
        "expire_in_seconds": 300,
        "max_file_size_mb": 100,
        "capacity_limit_mb": 999999999,
        "oss_access_key_id": "emulated-access-key-id",
        "x_oss_object_acl": "private",
        "x_oss_forbid_overwrite": "true",
    }
    exchange.send_json(200, {"request_id": exchange.request_id, "data": data})


def oss_upload(emu: Host, exchange: Exchange) -> None:
    exchange.send_body(200, b"", "application/xml")
