"""Errors for people: user mistakes are short UsageErrors; service failures are ServiceErrors.

This module is the one place that turns what went wrong into words and a fix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from IPython.core.error import UsageError

# Bad input, raised before any request. IPython shows exactly ``UsageError`` (not a subclass)
# as one short paragraph without a traceback, so this is an alias, not a subclass.
QwenUsageError = UsageError


@dataclass
class ServiceError:
    """A failure reported by the service or the network, as the user should see it."""

    # "http", "stream", "connection", "timeout", "json", "internal"; "server": the reply
    # breaks the protocol (empty, malformed, wrongly typed, too big); "proxy": an HTML page
    kind: str
    message: str
    status: int | None = None
    code: str | None = None
    request_id: str | None = None
    hint: str = ""
    context: dict[str, str] = field(default_factory=dict, repr=False)
    attempts: int = 1  # requests sent for this call (retries before the first token)
    waited: float | None = None  # seconds from the first request to giving up

    @property
    def title(self) -> str:
        if self.kind == "proxy":
            page = "(an HTML page from a proxy, not the service)"
            return f"HTTP {self.status} {_phrase(self.status)} {page}"
        parts = {
            "http": "The service answered with an error",
            "stream": "The stream broke off",
            "connection": "Could not reach the service",
            "timeout": "The service did not answer in time",
            "internal": "Something went wrong inside qwen_magic",
            "json": "The answer is not valid JSON",
            "tools": "The tool loop stopped",
            "server": "The server sent a reply qwen_magic cannot read",
        }
        head = parts.get(self.kind, "Error")
        if self.status:
            head += f" (HTTP {self.status})"
        return head

    def summary(self) -> str:
        """One line: what happened, the service's code and message."""
        code = f"{self.code}: " if self.code else ""
        detail = f"{code}{self.message}".strip()
        return f"{self.title} — {detail}" if detail else self.title

    def __str__(self) -> str:
        lines = [self.summary()]
        if self.request_id:
            lines.append(f"request id: {self.request_id}")
        if self.hint:
            lines.append(f"fix: {self.hint}")
        return "\n".join(lines)


def _phrase(status: int | None) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status or 0).phrase
    except ValueError:
        return "Error"


def html_error(
    status: int | None, content_type: str | None, body: str | None
) -> ServiceError | None:
    """An error reply that is a web page (a proxy's or gateway's "502 Bad Gateway"), not the
    service's JSON: named by its status alone, never shown as escaped page source."""
    text = (body or "").lstrip()[:200].lower()
    is_html = "html" in (content_type or "").lower() or text.startswith(("<!doctype html", "<html"))
    if not is_html:
        return None
    return ServiceError("proxy", "", status=status)


def hint_for(
    error: ServiceError, *, region: str | None, base_url: str, model: str, key_source: str = ""
) -> str:
    """The fix to suggest, from the code/status and where the request went."""
    code = str(error.code or "").lower()
    status = error.status
    cloud = region is not None  # a region of the service (or the emulator standing in)
    where = f"region {region!r}" if cloud else base_url
    if "data_inspection" in code or "datainspection" in code:
        return "the content was flagged by the service's inspection: rephrase the prompt."
    if error.kind == "http" and _over_context(code, error.message):
        return (
            "the prompt is longer than the model's context window (a chat's earlier turns, "
            "files and images count too): shorten it, or start the chat afresh "
            "(`%qwencmd reset NAME`)."
        )
    if error.kind == "server":
        if cloud:
            return (
                "the service's reply broke its own protocol: run the cell again; if it keeps "
                "happening, report the request id to Model Studio support."
            )
        return (
            f"the server at {base_url} does not answer as the API it claims to speak: run the "
            "cell again, and check --base-url and --api."
        )
    if error.kind == "proxy":
        if status is not None and status >= 500:
            return (
                "a proxy or gateway between you and the service failed: run the cell again in "
                "a moment; if it keeps failing, check your proxy settings (HTTPS_PROXY)."
            )
        return (
            f"{base_url} answered with a web page, not the API: check --base-url and your "
            "proxy settings (HTTPS_PROXY)."
        )
    if error.kind == "connection":
        if not cloud:
            return f"check your network and the endpoint ({base_url}): is the server up?"
        return (
            f"check your network and the endpoint ({base_url}); use --region or --base-url "
            "to pick another."
        )
    if error.kind == "timeout":
        return (
            "the model may be busy: try again, or raise `%config QwenMagics.timeout` (each "
            "wait) or `%config QwenMagics.deadline` (the whole wait for the answer to begin)."
        )
    if error.kind == "stream":
        return "run the cell again to retry."
    if status == 401 or "api_key" in code or "apikey" in code:
        source = f"the key from {key_source}" if key_source else "the key"
        if not cloud:
            return f"{base_url} refused {source}: check the key that server expects."
        return (
            f"{source} was refused: keys are per region — this key may belong to another "
            f"region; you asked for {where}. Use a key of that region (or run `%qwencmd key`), "
            "or choose the key's region with --region."
        )
    if status == 403:
        return "your account or workspace may not have access to this model: check Model Studio."
    if status == 404 or "model_not" in code or "modelnotfound" in code:
        return (
            f"model {model!r} is not available at {where}: check the name, or list models "
            "with `%qwencmd models`."
        )
    if status == 429:
        return "you are rate-limited or out of quota: wait a little and run the cell again."
    if status is not None and status >= 500:
        return "the service had a problem: run the cell again in a moment."
    if status == 400:
        return "a parameter was rejected: check the options you passed (see `%qwen?`)."
    return ""


def _over_context(code: str, message: str) -> bool:
    """A prompt over the context window: llama.cpp's ``exceed_context_size_error``, OpenAI's
    ``context_length_exceeded``, vLLM's "maximum context length", DashScope's "Range of input
    length"."""
    text = message.lower()
    return (
        "context" in code
        or "maximum context length" in text
        or "context size" in text
        or "range of input length" in text
    )


def error_body_fields(body: Any) -> dict[str, Any]:
    """The service's ``{"code", "message", "request_id"}`` from an error body, whatever form
    the SDK kept it in: a dict, JSON text, or SSE-framed text (``data:`` lines, as a rejected
    stream request answers). Any key of this session is masked before text is cut short: a cut
    first could leave most of a key whole but no longer recognisable."""
    import json

    from qwen_magic.masking import redact

    if isinstance(body, str):
        text = body
        candidates = [line[5:] for line in text.splitlines() if line.startswith("data:")]
        for candidate in [*candidates, text]:
            try:
                value = json.loads(candidate)
            except ValueError:
                continue
            if isinstance(value, dict):
                body = value
                break
        else:
            return {"message": redact(text.strip())[:300]} if text.strip() else {}
    if isinstance(body, dict):
        inner = body.get("error")
        return redact(inner if isinstance(inner, dict) else body)
    return {}


# Libraries whose exceptions mean "the service or the network failed", not "our code is wrong".
_SERVICE_MODULES = {
    "openai", "dashscope", "httpx", "httpx2", "httpcore", "h11", "requests", "urllib3", "aiohttp",
}  # fmt: skip


def is_service_failure(exc: BaseException) -> bool:
    """True for SDK, HTTP and network errors (and undecodable bodies); False for our bugs,
    which must keep their traceback instead of being shown as a service error."""
    import asyncio
    import json

    if type(exc).__module__.split(".")[0] in _SERVICE_MODULES:
        return True
    return isinstance(exc, (OSError, TimeoutError, asyncio.TimeoutError, json.JSONDecodeError))
