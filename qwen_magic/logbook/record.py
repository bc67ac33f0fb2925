"""A finished call as one history row: what was asked, with which options, what came back.

Never the key: every text and value is masked with the session's mask (``masking.redact``)
before it is written, as the Batch job store does. Media are kept as references (their names,
sizes and the small thumbnail the answer already showed), never as the payload sent; tool
rounds as a summary.
"""

from __future__ import annotations

from dataclasses import asdict, fields, is_dataclass
from typing import TYPE_CHECKING, Any

from qwen_magic import masking
from qwen_magic.options.build import without_userinfo
from qwen_magic.request import Request

if TYPE_CHECKING:
    from qwen_magic.result import Result

# Request fields kept as the call's options when they differ from the default.
OPTIONS = (
    "system", "thinking", "thinking_budget", "temperature", "top_p", "max_tokens", "seed",
    "stop", "stream", "format", "json_mode", "prefix", "search", "search_options",
    "tool_choice",
)  # fmt: skip
CUT = 300  # characters of a tool call's arguments and result kept


def values_of(
    result: Result,
    request: Request | None = None,
    kind: str | None = None,
    place: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The row for ``result`` (asked by ``request``), masked. ``place``: notebook, cell_id,
    execution_count where known."""
    if request is not None and request.api_key:
        masking.Secret(str(request.api_key))  # remembered by the mask, whatever its source
    usage = result.usage
    cost, cost_detail = _cost(getattr(result, "cost", None))
    values: dict[str, Any] = {
        "kind": kind or ("tools" if result.steps else "ask"),
        "model": result.model or (request.model if request else ""),
        "api": result.api or (request.api if request else ""),
        "region": result.region,
        "prompt": request.prompt if request is not None else _prompt_of(result.messages),
        "answer": result.text,
        "reasoning": result.reasoning,
        "system": request.system if request is not None else _system_of(result.messages),
        "options": _options(request) if request is not None else {},
        "usage": usage.as_dict(),
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cost": cost,
        "cost_detail": cost_detail,
        "elapsed": result.elapsed,
        "ttft": result.ttft,
        "finish_reason": result.finish_reason,
        "request_id": result.request_id,
        "error": result.error.summary() if result.error is not None else None,
        "interrupted": result.interrupted,
        "media": [_media(m) for m in (result.media or (request.media if request else []))],
        "attachments": [
            _plain(a) for a in result.attachments or (request.attachments if request else [])
        ],
        "steps": [_step(s) for s in result.steps],
        "sources": [_plain(s) for s in result.sources],
        **(place or {}),
    }
    return masking.redact(values)


def _options(request: Request) -> dict[str, Any]:
    defaults = {f.name: f.default for f in fields(Request)}
    options = {
        name: getattr(request, name)
        for name in OPTIONS
        if getattr(request, name) is not None and getattr(request, name) != defaults.get(name)
    }
    options.pop("system", None)  # a column of its own
    if request.tools:
        options["tools"] = [t.get("function", {}).get("name") for t in request.tools]
    if request.history:
        options["history_messages"] = len(request.history)
    if request.base_url:
        options["base_url"] = without_userinfo(request.base_url)
    return options


def _cost(value: Any) -> tuple[float | None, Any]:
    """``Result.cost`` as a number (None when unknown) and, when it is more, as plain data."""
    if value is None or isinstance(value, bool):
        return None, None
    if isinstance(value, (int, float)):
        return float(value), None
    number = None
    for name in ("total", "amount", "value", "cost"):
        found = getattr(value, name, None)
        if isinstance(found, (int, float)) and not isinstance(found, bool):
            number = float(found)
            break
    return number, _plain(value)


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, (dict, list, str, int, float, bool)) or value is None:
        return value
    return str(value)


def _media(media: Any) -> dict[str, Any]:
    """Where the picture came from and how big it was; the thumbnail the answer showed."""
    url = getattr(media, "url", None)
    return {
        "kind": getattr(media, "kind", None),
        "source": getattr(media, "source", None),
        "url": url if isinstance(url, str) and url.startswith(("http://", "https://")) else None,
        "size": list(media.size) if getattr(media, "size", None) else None,
        "bytes": getattr(media, "nbytes", 0) or None,
        "frames": len(media.frames) if getattr(media, "frames", None) else None,
        "thumbnail": getattr(media, "thumbnail_url", None),
    }


def _step(step: Any) -> dict[str, Any]:
    return {
        "kind": step.kind,
        "name": step.name,
        "status": step.status,
        "arguments": _cut(masking.redact(step.arguments)),  # masked before cut
        "result": _cut(masking.redact(step.result)),
        "error": step.error,
        "seconds": step.seconds,
    }


def _cut(text: str) -> str:
    text = text or ""
    return text if len(text) <= CUT else text[:CUT] + f"… ({len(text) - CUT:,} more characters)"


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(part.get("text", "")) for part in content if isinstance(part, dict)
        ).strip()
    return ""


def _prompt_of(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            return _text(message.get("content"))
    return ""


def _system_of(messages: list[dict[str, Any]]) -> str | None:
    if messages and messages[0].get("role") == "system":
        return _text(messages[0].get("content")) or None
    return None
