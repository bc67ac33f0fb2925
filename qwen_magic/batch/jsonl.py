"""The Batch API's input file: one JSON line per request (docs/wire.md §11).

Each body is exactly what the streaming path sends for the same Request (the chat provider
builds it), minus the stream switches: a batch answers as a whole.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from qwen_magic.request import Request

ENDPOINT = "/v1/chat/completions"
TEST_MODEL = "batch-test-model"  # the service's free model for trying the flow
TEST_ENDPOINT = "/v1/chat/ds-test"  # its url, in the lines and in batches.create


@dataclass
class Line:
    """One request of the file: its position in the input, its model and its encoded line."""

    position: int
    model: str
    data: bytes


def chat_body(request: Request) -> dict[str, Any]:
    """The Chat Completions body the streaming path would send for ``request``, unstreamed.

    ``extra_body`` (the openai SDK's way to send DashScope's own keys) is merged into the
    body, as the SDK does on the wire.
    """
    from qwen_magic.providers.chat import ChatProvider

    arguments = ChatProvider(request)._arguments()
    extra = arguments.pop("extra_body", None) or {}
    return {**arguments, **extra}


def custom_id(position: int) -> str:
    """The line's id is its position in the input: results are matched back by it."""
    return str(position)


def position_of(value: object) -> int | None:
    """The input position a result line's ``custom_id`` names (None: not one of ours)."""
    if isinstance(value, str) and value.isdigit() and (value == "0" or value[0] != "0"):
        return int(value)
    return None


def encode(position: int, request: Request, *, dry_run: bool = False) -> Line:
    body = chat_body(request)
    url = ENDPOINT
    if dry_run:
        body["model"], url = TEST_MODEL, TEST_ENDPOINT
    line = {"custom_id": custom_id(position), "method": "POST", "url": url, "body": body}
    data = json.dumps(line, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
    return Line(position, str(body["model"]), data)
