"""OpenAI-compatible Responses API, current and legacy paths (docs/wire.md §3)."""

from __future__ import annotations

import time
import uuid
from typing import Any

from qwen_magic.emulator.catalog import requested_thinking, require, resolve_thinking
from qwen_magic.emulator.compat import request_body
from qwen_magic.emulator.faults import ApiError, check_data_uris, data_inspection, dumps
from qwen_magic.emulator.records import Host
from qwen_magic.emulator.records import responses_input as input_messages
from qwen_magic.emulator.replies import Plan, make_plan
from qwen_magic.emulator.tool_checks import check_function_outputs
from qwen_magic.emulator.tools import calls_allowed, citations, search_asked
from qwen_magic.emulator.transport import OUTPUT_INSPECTION, Exchange


def frame(number: int, event: str, payload: object, status: int = 200) -> bytes:
    data = payload if isinstance(payload, str) else dumps(payload)
    return f"id:{number}\nevent:{event}\n:HTTP_STATUS/{status}\ndata:{data}\n\n".encode()


def send_error(exchange: Exchange, error: ApiError) -> None:
    body = error.compat_body(exchange.request_id)
    if error.sse:
        content_type = "application/json" if error.mislabelled else "text/event-stream"
        data = frame(1, "error", body, error.status)
        exchange.send_body(error.status, data, content_type + ";charset=UTF-8", error.headers)
    else:
        exchange.send_json(error.status, body, error.headers)


def wants_thinking(body: dict[str, Any]) -> bool | None:
    requested = requested_thinking(body)
    if isinstance(requested, bool):
        return requested
    effort = (body.get("reasoning") or {}).get("effort")
    return None if effort is None else effort != "none"


def usage(plan: Plan) -> dict[str, Any]:
    return {
        "input_tokens": plan.prompt_tokens,
        "input_tokens_details": {"cached_tokens": plan.cached_tokens},
        "output_tokens": plan.output_tokens,
        "output_tokens_details": {"reasoning_tokens": plan.reasoning_tokens},
        "total_tokens": plan.total_tokens,
        "x_details": [
            {
                "input_tokens": plan.prompt_tokens,
                "output_tokens": plan.output_tokens,
                "total_tokens": plan.total_tokens,
                "x_billing_type": "response_api",
            }
        ],
    }


def create(emu: Host, exchange: Exchange) -> None:
    body = request_body(exchange)
    stream = body.get("stream") is True
    exchange.record.stream = stream
    info = require(body.get("model"))
    check_data_uris(body.get("input"))
    history: list[dict[str, Any]] = []
    previous = body.get("previous_response_id")
    if previous:
        stored = emu.responses_store.get(previous)
        if stored is None:
            raise ApiError(
                404,
                "InvalidParameter",
                f"Previous response with id '{previous}' not found.",
                "previous_response_not_found",
                param="previous_response_id",
            )
        history = list(stored["messages"])
    exchange.record.history = history
    messages = input_messages(body)
    check_function_outputs(history + messages)
    search = search_asked(body, "responses")
    plan = make_plan(
        exchange.reply,
        request_id=exchange.request_id,
        model=str(body["model"]),
        messages=history + messages,
        thinking=resolve_thinking(info, wants_thinking(body)),
        max_output=body.get("max_output_tokens"),
        search=search,
        calls=calls_allowed(body, "responses"),
    )
    turn = Turn(plan, previous, search)
    if body.get("store", True) is not False:
        emu.responses_store[turn.id] = {
            "messages": [*history, *messages, *turn.stored()],
            "response": turn.response(),
        }
    if not stream or exchange.reply.fault == "json_for_stream":
        exchange.send_result(turn.response())
        return
    events = turn.events(emu.reasoning_event)
    exchange.stream(
        [frame(i + 1, event["type"], event) for i, event in enumerate(events)],
        error_frame=turn.error_frames,
        malformed_frame=lambda n: frame(n + 1, "response.output_text.delta", '{"delta":"brok'),
    )


def retrieve(emu: Host, exchange: Exchange) -> None:
    response_id = exchange.record.path.rsplit("/", 1)[1]
    stored = emu.responses_store.get(response_id)
    if stored is None:
        raise ApiError(404, "NotFound", f"Response with id '{response_id}' not found.", "not_found")
    exchange.send_json(200, stored["response"])


class Turn:
    """One response: its ids, its output items and the event sequence that streams it.

    Output items in order: reasoning (when thinking), ``web_search_call`` (when the search
    found sources), the message (unless the round only asks for calls), ``function_call``s.
    """

    def __init__(self, plan: Plan, previous: str | None, search: bool = False) -> None:
        self.plan = plan
        self.previous = previous
        self.id = str(uuid.uuid4())
        self.created_at = int(time.time())
        self.reasoning_id = f"msg_{uuid.uuid4()}"
        self.message_id = f"msg_{uuid.uuid4()}"
        self.search_id = f"ws_{uuid.uuid4()}"
        self.call_ids = [f"fc_{uuid.uuid4()}" for _ in plan.tool_calls]
        self.incomplete = plan.finish_reason == "length"
        self.searched = search and bool(plan.sources)
        self.with_message = bool(plan.text) or not plan.tool_calls

    def reasoning_item(self, done: bool) -> dict[str, Any]:
        summary = [{"type": "summary_text", "text": self.plan.reasoning}] if done else []
        return {"summary": summary, "type": "reasoning", "id": self.reasoning_id}

    def search_item(self, done: bool) -> dict[str, Any]:
        action: dict[str, Any] = {"type": "search", "query": self.query}
        if done:
            action["sources"] = [{"type": "url", "url": s.url} for s in self.plan.sources]
        status = "completed" if done else "in_progress"
        return {"id": self.search_id, "type": "web_search_call", "status": status, "action": action}

    @property
    def query(self) -> str:
        return self.plan.query or "web search"

    def annotations(self) -> list[dict[str, Any]]:
        return citations(self.plan.text, self.plan.sources) if self.searched else []

    def part(self, text: str, done: bool = True) -> dict[str, Any]:
        notes = self.annotations() if done else []
        return {"annotations": notes, "text": text, "type": "output_text", "logprobs": None}

    def message_item(self, done: bool) -> dict[str, Any]:
        status = ("incomplete" if self.incomplete else "completed") if done else "in_progress"
        return {
            "id": self.message_id,
            "content": [self.part(self.plan.text)] if done else [],
            "role": "assistant",
            "status": status,
            "type": "message",
        }

    def call_item(self, index: int, done: bool) -> dict[str, Any]:
        call = self.plan.tool_calls[index]
        return {
            "id": self.call_ids[index],
            "type": "function_call",
            "call_id": call.id,
            "name": call.name,
            "arguments": call.arguments if done else "",
            "status": "completed" if done else "in_progress",
        }

    def output(self) -> list[dict[str, Any]]:
        items = [self.reasoning_item(True)] if self.plan.thinking else []
        if self.searched:
            items.append(self.search_item(True))
        if self.with_message:
            items.append(self.message_item(True))
        items += [self.call_item(i, True) for i in range(len(self.plan.tool_calls))]
        return items

    def stored(self) -> list[dict[str, Any]]:
        """What a later ``previous_response_id`` continues from: the answer and the calls."""
        items: list[dict[str, Any]] = [{"role": "assistant", "content": self.plan.text}]
        items += [
            {k: v for k, v in self.call_item(i, True).items() if k != "status"}
            for i in range(len(self.plan.tool_calls))
        ]
        return items

    def response(self, status: str | None = None) -> dict[str, Any]:
        final = status is None
        if final:
            status = "incomplete" if self.incomplete else "completed"
        body: dict[str, Any] = {
            "id": self.id,
            "created_at": self.created_at,
            "model": self.plan.model if final else "",
            "object": "response",
            "output": self.output() if final else [],
            "parallel_tool_calls": False,
            "status": status,
            "tool_choice": "auto",
            "tools": [],
        }
        if final:
            body["usage"] = usage(self.plan)
            if self.searched:
                body["usage"]["x_tools"] = {"web_search": {"count": 1}}
            if self.previous:
                body["previous_response_id"] = self.previous
            if self.incomplete:
                body["incomplete_details"] = {"reason": "max_output_tokens"}
        return body

    def events(self, reasoning_event: str) -> list[dict[str, Any]]:
        plan = self.plan
        events: list[dict[str, Any]] = []
        events.append({"type": "response.created", "response": self.response("queued")})
        events.append({"type": "response.in_progress", "response": self.response("in_progress")})
        index = 0

        def item(kind: str, body: dict[str, Any]) -> None:
            events.append(
                {"type": f"response.output_item.{kind}", "item": body, "output_index": index}
            )

        if plan.thinking:
            kind = f"response.{reasoning_event}"
            where: dict[str, Any] = {"item_id": self.reasoning_id, "output_index": index}
            if reasoning_event == "reasoning_summary_text":
                where["summary_index"] = 0
            item("added", self.reasoning_item(False))
            events += [
                {"type": f"{kind}.delta", "delta": p, **where} for p in plan.reasoning_pieces
            ]
            events.append({"type": f"{kind}.done", "text": plan.reasoning, **where})
            item("done", self.reasoning_item(True))
            index += 1
        if self.searched:
            item("added", self.search_item(False))
            where = {"item_id": self.search_id, "output_index": index}
            for step in ("in_progress", "searching", "completed"):
                events.append({"type": f"response.web_search_call.{step}", **where})
            item("done", self.search_item(True))
            index += 1
        if self.with_message:
            events += self.message_events(index)
            index += 1
        for number, call in enumerate(plan.tool_calls):
            item("added", self.call_item(number, False))
            where = {"item_id": self.call_ids[number], "output_index": index}
            events += [
                {"type": "response.function_call_arguments.delta", "delta": piece, **where}
                for piece in call.pieces
                if piece
            ]
            events.append(
                {
                    "type": "response.function_call_arguments.done",
                    "arguments": call.arguments,
                    "name": call.name,
                    **where,
                }
            )
            item("done", self.call_item(number, True))
            index += 1
        final = "response.incomplete" if self.incomplete else "response.completed"
        events.append({"type": final, "response": self.response()})
        for number, event in enumerate(events):
            event["sequence_number"] = number
        return events

    def message_events(self, index: int) -> list[dict[str, Any]]:
        plan = self.plan
        where = {"item_id": self.message_id, "output_index": index, "content_index": 0}
        events: list[dict[str, Any]] = [
            {
                "type": "response.output_item.added",
                "item": self.message_item(False),
                "output_index": index,
            },
            {"type": "response.content_part.added", "part": self.part("", done=False), **where},
        ]
        events += [
            {"type": "response.output_text.delta", "delta": p, "logprobs": [], **where}
            for p in plan.answer_pieces
        ]
        events += [
            {
                "type": "response.output_text.annotation.added",
                "annotation": note,
                "annotation_index": number,
                **where,
            }
            for number, note in enumerate(self.annotations())
        ]
        events.append(
            {"type": "response.output_text.done", "text": plan.text, "logprobs": [], **where}
        )
        events.append({"type": "response.content_part.done", "part": self.part(plan.text), **where})
        events.append(
            {
                "type": "response.output_item.done",
                "item": self.message_item(True),
                "output_index": index,
            }
        )
        return events

    def error_frames(self, number: int) -> bytes:
        """A mid-stream failure: an `error` event, then `response.failed`."""
        error = data_inspection(OUTPUT_INSPECTION)
        failed = self.response("failed")
        failed["error"] = {"code": error.compat_code, "message": error.message}
        error_event = {
            "type": "error",
            "code": error.compat_code,
            "message": error.message,
            "param": None,
            "sequence_number": number,
        }
        failed_event = {
            "type": "response.failed",
            "response": failed,
            "sequence_number": number + 1,
        }
        return frame(number + 1, "error", error_event) + frame(
            number + 2, "response.failed", failed_event
        )
