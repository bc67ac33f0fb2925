"""Error replies, with the bodies each protocol really sends (docs/wire.md §5)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from qwen_magic.emulator.replies import content_text

APIKEY_HELP = "https://www.alibabacloud.com/help/en/model-studio/error-code#apikey-error"


@dataclass
class ApiError(Exception):
    """One service error; rendered per protocol by `native_body` / `compat_body`."""

    status: int
    code: str
    message: str
    compat_code: str = "invalid_parameter_error"
    compat_type: str = "invalid_request_error"
    compat_message: str | None = None
    param: str | None = None
    sse: bool = False
    mislabelled: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    # As llama.cpp and vLLM answer: the code is the HTTP status (a number), the kind is in
    # "type", and there is no request id (neither in the body nor in an x-request-id header).
    foreign: bool = False

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message}"

    def compat_error(self) -> dict[str, object]:
        if self.foreign:
            return {"code": self.status, "message": self.message, "type": self.compat_type}
        return {
            "code": self.compat_code,
            "param": self.param,
            "message": self.compat_message or self.message,
            "type": self.compat_type,
        }

    def compat_body(self, request_id: str, completion_id: str | None = None) -> dict[str, object]:
        body: dict[str, object] = {"error": self.compat_error()}
        if not self.foreign:
            body["request_id"] = request_id
        if completion_id:
            body["id"] = completion_id
        return body

    def native_body(self, request_id: str) -> dict[str, object]:
        if self.foreign:
            return {"code": self.status, "message": self.message}
        return {"code": self.code, "message": self.message, "request_id": request_id}


def invalid_parameter(message: str, param: str | None = None) -> ApiError:
    return ApiError(400, "InvalidParameter", message, param=param)


TOP_LOGPROBS_RANGE = "Range of top_logprobs should be [0, 5]"


def asked_logprobs(logprobs: object, top: object, stream: bool) -> int | None:
    """The top_logprobs of a request that asked for log probabilities (None: it did not), or
    the service's 400 for a K out of range (SSE-framed on a stream, as captured)."""
    if logprobs is not True:
        return None
    if top is None:
        return 0
    if isinstance(top, bool) or not isinstance(top, int) or not 0 <= top <= 5:
        error = invalid_parameter(TOP_LOGPROBS_RANGE)
        error.sse = stream
        raise error
    return top


def data_inspection(message: str = "Input data may contain inappropriate content.") -> ApiError:
    return ApiError(
        400, "DataInspectionFailed", message, "data_inspection_failed", "data_inspection_failed"
    )


def invalid_api_key() -> ApiError:
    return ApiError(
        401,
        "InvalidApiKey",
        "Invalid API-key provided.",
        "invalid_api_key",
        compat_message=f"Incorrect API key provided. For details, see: {APIKEY_HELP}",
    )


def model_not_found(model: str) -> ApiError:
    return ApiError(
        404,
        "ModelNotFound",
        "Model can not be found.",
        "model_not_found",
        compat_message=f"The model `{model}` does not exist or you do not have access to it.",
    )


def throttling(retry_after: str = "1") -> ApiError:
    return ApiError(
        429,
        "Throttling",
        "Requests throttling triggered.",
        "limit_requests",
        "limit_requests",
        compat_message="Requests rate limit exceeded, please try again later.",
        headers={"Retry-After": retry_after},
    )


def not_found_path(path: str) -> ApiError:
    return ApiError(404, "NotFound", f"Not found: {path}", "not_found", "invalid_request_error")


def http_fault(fault: str | None, model: str, retry_after: str = "1") -> ApiError | None:
    """The error a `Reply.fault` of the HTTP kind stands for, or None for other faults."""
    if fault in ("http_400", "http_400_sse", "http_400_mislabelled"):
        error = invalid_parameter("Range of input length should be [1, 98304]")
        error.sse = fault != "http_400"
        error.mislabelled = fault == "http_400_mislabelled"
        return error
    if fault == "llama_400":
        return ApiError(
            400,
            "exceed_context_size_error",
            "request (5013 tokens) exceeds the available context size (4096 tokens), try "
            "increasing it",
            compat_type="exceed_context_size_error",
            foreign=True,
        )
    if fault == "data_inspection":
        return data_inspection()
    if fault == "http_401":
        return invalid_api_key()
    if fault == "http_403":
        return ApiError(
            403, "AccessDenied", "Access denied.", "access_denied", "invalid_request_error"
        )
    if fault == "http_404":
        return model_not_found(model)
    if fault == "http_429":
        return throttling(retry_after)
    if fault == "http_500":
        return ApiError(
            500,
            "InternalError",
            "An internal error has occured, please try again later or contact service support.",
            "internal_error",
            "internal_error",
        )
    if fault == "http_503":
        return ApiError(
            503,
            "ModelServingError",
            "Too many requests. Your requests are being throttled due to system capacity limits.",
            "model_serving_error",
            "model_serving_error",
        )
    return None


def dumps(obj: object) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


DATA_URI_LIMIT = 10485760


def check_data_uris(value: object) -> None:
    """Reject any `data:` URI item larger than 10 MB, anywhere in the body (all protocols)."""
    if isinstance(value, str):
        if len(value) > DATA_URI_LIMIT and value.startswith("data:"):
            raise invalid_parameter(
                f"Exceeded limit on max bytes per data-uri item : {DATA_URI_LIMIT}"
            )
    elif isinstance(value, dict):
        for item in value.values():
            check_data_uris(item)
    elif isinstance(value, list):
        for item in value:
            check_data_uris(item)


def check_json_mode(response_format: object, messages: list, thinking: bool) -> bool:
    """Validate `response_format: json_object`; True when JSON mode is on."""
    if not isinstance(response_format, dict) or response_format.get("type") != "json_object":
        return False
    if thinking:
        raise invalid_parameter("Json mode response is not supported when enable_thinking is true")
    texts = " ".join(content_text(m.get("content")) for m in messages if isinstance(m, dict))
    if "json" not in texts.lower():
        raise invalid_parameter(
            "'messages' must contain the word 'json' in some form, "
            "to use 'response_format' of type 'json_object'."
        )
    return True
