"""The one place that builds what is sent: messages for each API from a Request.

History is kept in the chat shape (what a chat stores and saves) and translated here for the
Responses API and DashScope's multimodal endpoint. A turn that used tools holds, between the
user's message and the answer, assistant messages with ``tool_calls`` and one ``role: "tool"``
message per call (``assistant_message`` / ``tool_message``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from qwen_magic.events import ToolCall, ToolResult
from qwen_magic.request import Request


def chat_messages(request: Request) -> list[dict[str, Any]]:
    """OpenAI Chat Completions messages (also the DashScope text-generation shape)."""
    messages: list[dict[str, Any]] = []
    if request.system:
        messages.append({"role": "system", "content": request.system})
    messages.extend(request.history)
    messages.append(user_message(request))
    messages.extend(request.tool_rounds)  # this turn's tool calls and their results
    if request.prefix:  # partial mode: the model continues this assistant text
        messages.append({"role": "assistant", "content": request.prefix, "partial": True})
    return messages


def user_message(request: Request) -> dict[str, Any]:
    """The user's turn as sent, in the chat shape (a chat stores it so): the prompt alone, or
    content parts when images or video are attached."""
    return {"role": "user", "content": user_content(request)}


def assistant_message(text: str, tool_calls: Sequence[ToolCall] = ()) -> dict[str, Any]:
    """An assistant turn in the chat shape: its text, and the calls it asked for (if any)."""
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if tool_calls:
        message["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
            for call in tool_calls
        ]
    return message


def tool_message(result: ToolResult) -> dict[str, Any]:
    """A call's result in the chat shape (also DashScope's native one)."""
    return {"role": "tool", "tool_call_id": result.call_id, "content": result.output}


def tool_calls_of(message: dict[str, Any]) -> list[ToolCall]:
    """The calls an assistant message in the chat shape asked for."""
    return [
        ToolCall(call["id"], call["function"]["name"], call["function"]["arguments"])
        for call in message.get("tool_calls") or []
    ]


def user_content(request: Request) -> str | list[dict[str, Any]]:
    """``-i``/``--video`` media first, then the text, with each image a ``{name}`` in the prompt
    stood for at its place (text pieces stripped; blank ones left out)."""
    if not request.media:
        return request.prompt
    parts = [item.chat_part() for item in request.media if item.at is None]
    placed = sorted((m for m in request.media if m.at is not None), key=lambda m: m.at or 0)
    start = 0
    for item in placed:
        _add_text(parts, request.prompt[start : item.at])
        parts.append(item.chat_part())
        start = item.at or 0
    _add_text(parts, request.prompt[start:])
    return parts


def _add_text(parts: list[dict[str, Any]], text: str) -> None:
    if text.strip():
        parts.append({"type": "text", "text": text.strip()})


def sampling_options(request: Request) -> dict[str, Any]:
    """Sampling parameters common to every API, only those the user set."""
    options = {
        "temperature": request.temperature,
        "top_p": request.top_p,
        "seed": request.seed,
        "stop": request.stop,
    }
    return {k: v for k, v in options.items() if v is not None}


def thinking_options(request: Request) -> dict[str, Any]:
    """DashScope's thinking switches (top-level body keys; `extra_body` for openai)."""
    options: dict[str, Any] = {}
    if request.thinking is not None:
        options["enable_thinking"] = request.thinking
    if request.thinking_budget is not None:
        options["thinking_budget"] = request.thinking_budget
    return options


def responses_input(request: Request) -> list[dict[str, Any]]:
    """Responses API ``input`` items: the chat-style history, then the prompt.

    The system message travels separately, as ``instructions``.
    """
    items = [item for message in request.history for item in _responses_items(message)]
    items.extend(_responses_items(user_message(request)))
    items.extend(item for message in request.tool_rounds for item in _responses_items(message))
    return items


def _responses_items(message: dict[str, Any]) -> list[dict[str, Any]]:
    """One chat-shape message as Responses ``input`` items: an assistant's tool calls become
    ``function_call`` items (after its text, if it wrote any), a tool result a
    ``function_call_output`` item."""
    if message.get("role") == "tool":
        return [
            {
                "type": "function_call_output",
                "call_id": message["tool_call_id"],
                "output": message.get("content") or "",
            }
        ]
    calls = tool_calls_of(message) if message.get("role") == "assistant" else []
    if not calls:
        return [_responses_item(message)]
    items = [_responses_item(message)] if message.get("content") else []
    items += [
        {"type": "function_call", "call_id": c.id, "name": c.name, "arguments": c.arguments}
        for c in calls
    ]
    return items


def _responses_item(message: dict[str, Any]) -> dict[str, Any]:
    role = message.get("role", "user")
    content = message.get("content")
    if isinstance(content, list):
        content = [_responses_part(part, role) for part in content]
    return {"role": role, "content": "" if content is None else content}


def _responses_part(part: Any, role: str) -> Any:
    if not isinstance(part, dict):
        return part
    kind = part.get("type")
    if kind == "text":
        return {
            "type": "output_text" if role == "assistant" else "input_text",
            "text": part["text"],
        }
    if kind == "image_url":
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, dict) else image
        return {"type": "input_image", "image_url": url}
    return part


def native_messages(request: Request, *, multimodal: bool) -> list[dict[str, Any]]:
    """DashScope native messages: the chat shape for text-generation; for
    multimodal-generation every ``content`` is a list of ``{"text": …}`` (or media) parts."""
    messages = chat_messages(request)
    if not multimodal:
        return messages
    return [_native_message(message) for message in messages]


def _native_message(message: dict[str, Any]) -> dict[str, Any]:
    content = message.get("content")
    if message.get("tool_calls") and not content:
        content = None  # an assistant that only called tools: no empty text part
    return {**message, "content": _native_parts(content, message.get("role"))}


def _native_parts(content: Any, role: str | None) -> list[Any]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"text": shield_text(content) if role == "user" else content}]
    parts: list[Any] = []
    for part in content:
        if isinstance(part, dict) and part.get("type") == "text":
            text = part.get("text", "")
            parts.append({"text": shield_text(text) if role == "user" else text})
        elif isinstance(part, dict) and part.get("type") == "image_url":
            image = part.get("image_url")
            parts.append({"image": image.get("url") if isinstance(image, dict) else image})
        elif isinstance(part, dict) and part.get("type") == "video_url":
            video = part.get("video_url")
            parts.append({"video": video.get("url") if isinstance(video, dict) else video})
        elif isinstance(part, dict) and part.get("type") == "video":
            parts.append({"video": list(part.get("video") or [])})
        elif isinstance(part, dict) and part.get("type") == "input_audio":
            audio = part.get("input_audio")
            parts.append({"audio": audio.get("data") if isinstance(audio, dict) else audio})
        else:
            parts.append(part)
    return parts


def shield_text(text: str) -> str:
    """Keep the dashscope SDK from treating a user's text as a file to upload.

    ``MultiModalConversation.call`` uploads a ``{"text": …}`` part that is an existing local
    path (or fails on a ``file://`` one) and sends an ``oss://`` URL instead. A trailing
    newline / leading space is invisible to the model and keeps the text as text.
    """
    if text.startswith(("file://", "oss://")):
        return " " + text
    if text and not text.startswith("http") and os.path.isfile(os.path.expanduser(text)):
        return text + "\n"
    return text
