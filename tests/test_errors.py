"""The service's HTTP errors, once for all three APIs: what ``%%qwen`` shows and keeps in ``_qwen``.

Each case runs the real magic (real SDKs, real HTTP) against the emulator's fault, with
``--api chat``, ``--api responses`` and ``--api dashscope``. The user relies on: the status,
the service's code (the compatible mode's vocabulary, or the native protocol's own, which the
user looks up in the same table), a hint saying what to do, the request id to quote to support,
no answer text, and a static output that says the service refused.
"""

from __future__ import annotations

import pytest
from IPython.utils.capture import capture_output

from qwen_magic.testing import Reply

APIS = ("chat", "responses", "dashscope")

# fault: (status, the compatible-mode code, the native code, a phrase of the fix shown)
CASES = {
    "http_401": (401, "invalid_api_key", "InvalidApiKey", "keys are per region"),
    "http_403": (403, "access_denied", "AccessDenied", "access"),
    "http_404": (404, "model_not_found", "ModelNotFound", "%qwencmd models"),
    "http_429": (429, "limit_requests", "Throttling", "rate-limited"),
    "http_500": (500, "internal_error", "InternalError", "run the cell again"),
    "http_503": (503, "model_serving_error", "ModelServingError", "run the cell again"),
    "http_400": (400, "invalid_parameter_error", "InvalidParameter", "parameter"),
    # a stream refused with an SSE-framed error body, and one mislabelled application/json
    "http_400_sse": (400, "invalid_parameter_error", "InvalidParameter", "parameter"),
    "http_400_mislabelled": (400, "invalid_parameter_error", "InvalidParameter", "parameter"),
    "data_inspection": (400, "data_inspection_failed", "DataInspectionFailed", "inspection"),
}


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("fault", CASES)
def test_an_http_error_is_a_short_error_with_its_code_and_fix(ip, magics, emulator, fault, api):
    status, compat_code, native_code, hint = CASES[fault]
    magics.display = "final"  # one static output
    magics.max_retries = 0  # answered once (retries have their own tests)
    emulator.queue(Reply(fault=fault, retry_after="0", request_id="req-1234"))
    with capture_output() as cap:
        ip.run_cell_magic("qwen", f"--api {api} -o r", "Hi")
    r = ip.user_ns["r"]
    err = r.error
    assert err is not None and (err.kind, err.status) == ("http", status)
    assert err.code == (native_code if api == "dashscope" else compat_code)
    assert err.message and not err.message.startswith("id:") and hint in err.hint
    assert err.request_id == "req-1234" and r.request_id == "req-1234"
    assert r.text == "" and not r.interrupted
    (output,) = cap.outputs
    shown = output.data["text/markdown"]
    assert f"The service answered with an error (HTTP {status})" in shown and hint in shown
    assert "req-1234" in shown
