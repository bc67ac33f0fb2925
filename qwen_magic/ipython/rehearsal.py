"""The warm-up's dry run: the configured provider reads one canned answer, in process.

The openai SDK does a lot of one-off work on its first call: it resolves the request's typed
parameters, and builds the pydantic schemas of every event it reads (the Responses API's event
union alone has some 50 variants). Done on the user's first ``%%qwen``, that work was 10× the
second call's time to first token. Here the same provider code and the same SDK calls run once
against an ``httpx2.MockTransport`` that answers with a small stream shaped as DashScope's, so
nothing leaves the process and nothing is sent to the service.
"""

from __future__ import annotations

import json
import threading
from typing import Any, Literal, get_args, get_origin

from qwen_magic.request import Request

_USAGE_CHAT: dict[str, Any] = {
    "prompt_tokens": 1,
    "completion_tokens": 1,
    "total_tokens": 2,
    "prompt_tokens_details": {"cached_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 0},
}
_USAGE_RESPONSES: dict[str, Any] = {
    "input_tokens": 1,
    "input_tokens_details": {"cached_tokens": 0},
    "output_tokens": 1,
    "output_tokens_details": {"reasoning_tokens": 0},
    "total_tokens": 2,
}
_PART: dict[str, Any] = {"annotations": [], "text": "ok", "type": "output_text", "logprobs": None}
_REASONING: dict[str, Any] = {
    "summary": [{"type": "summary_text", "text": "ok"}],
    "type": "reasoning",
    "id": "r",
}
_MESSAGE: dict[str, Any] = {
    "id": "m",
    "content": [_PART],
    "role": "assistant",
    "status": "completed",
    "type": "message",
}


def _chunk(delta: dict[str, Any], finish: str | None = None, usage: Any = None) -> dict[str, Any]:
    choices = [{"index": 0, "delta": delta, "finish_reason": finish}] if delta else []
    return {
        "id": "c",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "m",
        "choices": choices,
        "usage": usage,
    }


def _chat_events() -> list[dict[str, Any]]:
    return [
        _chunk({"role": "assistant", "content": "", "reasoning_content": "ok"}),
        _chunk({"content": "ok"}),
        _chunk({"content": ""}, finish="stop"),
        _chunk({}, usage=_USAGE_CHAT),
    ]


def _chat_whole() -> dict[str, Any]:
    message = {"role": "assistant", "content": "ok", "reasoning_content": "ok"}
    return {
        "id": "c",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": _USAGE_CHAT,
    }


def _response(status: str, output: list[Any], usage: Any = None) -> dict[str, Any]:
    return {
        "id": "r",
        "created_at": 0,
        "model": "m",
        "object": "response",
        "output": output,
        "parallel_tool_calls": False,
        "status": status,
        "tool_choice": "auto",
        "tools": [],
        "usage": usage,
    }


def _responses_events() -> list[dict[str, Any]]:
    """One event of each type a DashScope answer with thinking brings (both names of the
    reasoning delta: which one DashScope sends is not settled)."""
    where = {"item_id": "m", "output_index": 1, "content_index": 0}
    think = {"item_id": "r", "output_index": 0}
    empty_message = {**_MESSAGE, "content": [], "status": "in_progress"}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": _response("queued", [])},
        {"type": "response.in_progress", "response": _response("in_progress", [])},
        {
            "type": "response.output_item.added",
            "item": {**_REASONING, "summary": []},
            "output_index": 0,
        },
        {"type": "response.reasoning_text.delta", "delta": "ok", **think},
        {"type": "response.reasoning_summary_text.delta", "delta": "", "summary_index": 0, **think},
        {"type": "response.reasoning_text.done", "text": "ok", **think},
        {"type": "response.output_item.done", "item": _REASONING, "output_index": 0},
        {"type": "response.output_item.added", "item": empty_message, "output_index": 1},
        {"type": "response.content_part.added", "part": {**_PART, "text": ""}, **where},
        {"type": "response.output_text.delta", "delta": "ok", "logprobs": [], **where},
        {"type": "response.output_text.done", "text": "ok", "logprobs": [], **where},
        {"type": "response.content_part.done", "part": _PART, **where},
        {"type": "response.output_item.done", "item": _MESSAGE, "output_index": 1},
        {
            "type": "response.completed",
            "response": _response("completed", [_REASONING, _MESSAGE], _USAGE_RESPONSES),
        },
    ]
    return [{**event, "sequence_number": n} for n, event in enumerate(events)]


def _reply(api: str, streamed: bool) -> tuple[str, bytes]:
    """(content type, body) of the canned answer."""
    if not streamed:
        whole = (
            _chat_whole() if api == "chat" else _response("completed", [_MESSAGE], _USAGE_RESPONSES)
        )
        return "application/json", json.dumps(whole).encode()
    if api == "chat":
        frames = [f"data: {json.dumps(e)}\n\n" for e in _chat_events()] + ["data: [DONE]\n\n"]
    else:
        frames = [f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in _responses_events()]
    return "text/event-stream", "".join(frames).encode()


def seed_event_union() -> bool:
    """Give the openai SDK the Responses stream's event map (event ``type`` → model class),
    read from each model's ``type: Literal[...]`` annotation. The SDK builds that map itself on
    its first event by building the full pydantic schema of all ~59 event models (1-2 s of the
    warm-up on a busy machine), though an answer uses about 12 of them. The map is the same
    (``tests/ipython/test_first_call.py`` checks it against the SDK's own); anything unexpected
    (a private name moved, a variant without a plain literal) and the SDK builds it as before.
    """
    try:
        from openai._models import DISCRIMINATOR_CACHE, DiscriminatorDetails, PropertyInfo
        from openai.types.responses import ResponseStreamEvent
    except ImportError:
        return False
    union, *meta = get_args(ResponseStreamEvent)
    field = next((m.discriminator for m in meta if isinstance(m, PropertyInfo)), None)
    if not field:
        return False
    mapping: dict[str, type] = {}
    for variant in get_args(union):
        info = getattr(variant, "model_fields", {}).get(field)
        names = get_args(info.annotation) if info is not None else ()
        plain = info is not None and info.alias is None and get_origin(info.annotation) is Literal
        if not plain or not names or not all(isinstance(name, str) for name in names):
            return False
        mapping.update(dict.fromkeys(names, variant))
    details = DiscriminatorDetails(
        mapping=mapping, discriminator_field=field, discriminator_alias=None
    )
    DISCRIMINATOR_CACHE.setdefault(union, details)
    return True


_lock = threading.Lock()
_done: set[tuple[str, bool]] = set()  # (api, stream) rehearsed in this process


def rehearse(request: Request) -> None:
    """Run ``request``'s provider (chat or responses) to its end over the canned answer, once
    per API and mode in a process (the SDK's work is per process); after that, only build the
    endpoint's client. One at a time: two warm-ups (at load, then for the endpoint a cell
    chose) would otherwise build the same schemas side by side, each as slowly as alone.
    Raises whatever goes wrong; the warm-up ignores it (the real call will say)."""
    if request.api not in ("chat", "responses"):
        return
    import httpx2

    from qwen_magic.providers import make_provider

    content_type, body = _reply(request.api, request.stream)

    def answer(_: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": content_type}, content=body)

    with _lock:
        if request.api == "responses":
            seed_event_union()  # before the provider's own warm-up asks the SDK for the map
        provider: Any = make_provider(request)
        provider.prepare()  # the shared client of this endpoint, built as the call builds it
        if (request.api, request.stream) in _done:
            return
        client = provider._client
        with httpx2.Client(transport=httpx2.MockTransport(answer)) as http:
            provider._client = client.copy(http_client=http)
            for _ in provider.events():
                pass
        _done.add((request.api, request.stream))
