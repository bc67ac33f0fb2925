"""What the chat and responses providers share: one client per endpoint, error mapping."""

from __future__ import annotations

import contextlib
import hashlib
import threading
from typing import Any

from ..errors import ServiceError, error_body_fields

_clients: dict[tuple[Any, ...], Any] = {}
_lock = threading.Lock()


def openai_client(base_url: str, api_key: str, timeout: float, max_retries: int) -> Any:
    """One ``openai.OpenAI`` per (base URL, key, timeout, retries): connections are reused."""
    fingerprint = hashlib.sha256(api_key.encode()).hexdigest()
    key = (base_url, fingerprint, timeout, max_retries)
    with _lock:
        client = _clients.get(key)
        if client is None:
            import openai

            client = openai.OpenAI(
                base_url=base_url, api_key=api_key, timeout=timeout, max_retries=max_retries
            )
            _clients[key] = client
        return client


def close_clients() -> None:
    with _lock:
        for client in _clients.values():
            client.close()
        _clients.clear()


def from_openai_error(exc: Exception, *, started: bool = False) -> ServiceError:
    """Map an ``openai`` exception to what the user is shown (reference §5.3).

    ``started``: some reasoning or answer already arrived, so a lost connection is a stream
    that broke off (openai 3.x raises ``APIConnectionError`` for a cut response body too).
    """
    import openai

    if isinstance(exc, openai.APITimeoutError):
        return ServiceError("timeout", "no answer before the timeout")
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__ or exc
        text = f"{type(cause).__name__}: {cause}".strip()
        return ServiceError("stream" if started else "connection", text)
    if isinstance(exc, openai.APIStatusError):
        fields = error_body_fields(exc.body)
        request_id = None
        with contextlib.suppress(Exception):  # not JSON (an SSE-framed body): use the header
            request_id = exc.response.json().get("request_id")
        return ServiceError(
            "http",
            str(fields.get("message") or exc.message),
            status=exc.status_code,
            code=fields.get("code") or fields.get("type"),
            request_id=request_id or exc.request_id,
        )
    if isinstance(exc, openai.APIError):  # an {"error": ...} frame inside the stream
        fields = error_body_fields(exc.body)
        return ServiceError(
            "stream",
            str(fields.get("message") or exc.message),
            code=fields.get("code") or exc.code,
            request_id=getattr(exc, "request_id", None),
        )
    return ServiceError("stream", f"{type(exc).__name__}: {exc}")
