"""The one place that builds what is sent: messages for each API from a Request."""

from __future__ import annotations

from typing import Any

from .request import Request


def chat_messages(request: Request) -> list[dict[str, Any]]:
    """OpenAI Chat Completions messages (also the DashScope text-generation shape)."""
    messages: list[dict[str, Any]] = []
    if request.system:
        messages.append({"role": "system", "content": request.system})
    messages.extend(request.history)
    messages.append({"role": "user", "content": request.prompt})
    return messages


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
