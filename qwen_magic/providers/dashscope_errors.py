"""DashScope native failures → ServiceError: the native twin of ``from_openai_error``.

The dashscope SDK does not raise HTTP errors: it returns a response object with
``status_code != 200`` (an error reply, or the single status-400 object an ``event:error``
frame becomes). Only transport failures escape as exceptions (docs/wire.md §4.4, §4.5).
"""

from __future__ import annotations

import json
from typing import Any

from qwen_magic.errors import ServiceError, error_body_fields, html_error
from qwen_magic.masking import redact
from qwen_magic.providers.wire import error_code


def from_dashscope_response(response: Any, *, started: bool) -> ServiceError:
    """An error response object. ``started``: some reasoning or answer already arrived.

    Before the first token it is the service's answer (``http``); after it, the stream broke
    off (``stream``, no status: the SDK reports every error frame as 400, whatever it was).
    """
    status = _int(response.get("status_code"))
    message = response.get("message")
    if isinstance(message, list):  # an SSE error body without a data line
        message = " ".join(str(line) for line in message if line)
    page = html_error(status, _header(response.get("headers"), "content-type"), str(message))
    if page is not None and not started:
        page.request_id = response.get("request_id") or None
        return page
    error = ServiceError(
        "stream" if started else "http",
        str(message or f"HTTP {status}"),
        status=None if started else status,
        code=error_code(response.get("code")),
        request_id=response.get("request_id") or None,
    )
    retry_after = _header(response.get("headers"), "retry-after")
    if retry_after:
        error.context["retry_after"] = retry_after
    return error


def from_dashscope_exception(
    exc: BaseException, *, started: bool, status: int | None = None
) -> ServiceError:
    """An exception that escaped the SDK; ``status``: the raw HTTP status, when known."""
    if isinstance(exc, json.JSONDecodeError):
        # DashScope labels some SSE-framed error bodies application/json, and the SDK's
        # ``response.json()`` chokes on them; the exception still holds the whole body.
        error = _framed_error(exc.doc, status)
        if error is not None:
            return error
        if status is not None and status != 200:  # an error reply that is not JSON
            page = html_error(status, None, exc.doc)
            return page or ServiceError("http", redact(str(exc.doc).strip())[:300], status=status)
    return _transport_error(exc, started)


def _framed_error(body: str, status: int | None) -> ServiceError | None:
    lines = body.splitlines()
    fields = error_body_fields(body) if any(line.startswith("data:") for line in lines) else {}
    if not fields.get("code") and not fields.get("message"):
        return None
    for line in lines:
        if line.startswith(":HTTP_STATUS/") and (status is None or status == 200):
            status = _int(line.split("/", 1)[1])
    return ServiceError(
        "http",
        str(fields.get("message") or f"HTTP {status}"),
        status=status,
        code=error_code(fields.get("code"), fields.get("type")),
        request_id=fields.get("request_id"),
    )


def _transport_error(exc: BaseException, started: bool) -> ServiceError:
    import requests

    text = f"{type(exc).__name__}: {exc}".strip()
    if isinstance(exc, requests.exceptions.Timeout):
        return ServiceError("timeout", "no answer before the timeout")
    if isinstance(exc, requests.exceptions.ConnectionError):
        cause = exc.args[0] if exc.args else None
        if type(cause).__name__ == "ReadTimeoutError":  # requests' mid-stream read timeout
            return ServiceError("timeout", "no answer before the timeout")
        return ServiceError("stream" if started else "connection", text)
    return ServiceError("stream", text)


def _header(headers: Any, name: str) -> str | None:
    if not isinstance(headers, dict):
        return None
    for key, value in headers.items():
        if str(key).lower() == name:
            return str(value)
    return None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
