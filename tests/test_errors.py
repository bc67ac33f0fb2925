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
    "http_400": (400, "invalid_parameter_error", "InvalidParameter", "context window"),
    # a stream refused with an SSE-framed error body, and one mislabelled application/json
    "http_400_sse": (400, "invalid_parameter_error", "InvalidParameter", "context window"),
    "http_400_mislabelled": (400, "invalid_parameter_error", "InvalidParameter", "context window"),
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


# ------------------------------------------------------------------ how the error reads
def rendered(bundle: dict[str, str]) -> dict[str, str]:
    """The static output as nbconvert's HTML export (mistune) and markdown-it show it."""
    import re

    import nbformat
    from markdown_it import MarkdownIt
    from nbconvert import HTMLExporter

    cell = nbformat.v4.new_code_cell("%%qwen\nHi")
    cell.outputs = [nbformat.v4.new_output("display_data", data=bundle)]
    notebook = nbformat.v4.new_notebook(cells=[cell])
    exported, _ = HTMLExporter(template_name="classic").from_notebook_node(notebook)
    exported = re.sub(r"<(style|script)\b.*?</\1>", "", exported, flags=re.S)  # the page's own
    markdown_it = MarkdownIt("commonmark", {"html": True}).render(bundle["text/markdown"])
    return {"nbconvert": exported, "markdown-it": markdown_it}


def error_boxes(page: str) -> list[str]:
    """The headings of our error boxes in a rendered page."""
    import re

    return re.findall(r"<details open(?:=\"\")?><summary><b>⚠ (.*?)</b></summary>", page)


@pytest.mark.parametrize("api", APIS)
def test_an_error_ending_in_a_url_reads_cleanly_in_every_renderer(ip, magics, emulator, api):
    """DashScope's 401 ends in a help URL: no literal ``**`` and no backslash in its link."""
    from qwen_magic.emulator.faults import APIKEY_HELP

    magics.display = "final"
    magics.max_retries = 0
    emulator.queue(Reply(fault="http_401"))
    with capture_output() as cap:
        ip.run_cell_magic("qwen", f"--api {api}", "Hi")
    (output,) = cap.outputs
    for name, page in rendered(output.data).items():
        assert "**" not in page, name
        assert error_boxes(page) == ["The service answered with an error (HTTP 401)"], name
        if api != "dashscope":  # the compatible mode's message carries the URL
            assert f'href="{APIKEY_HELP}"' in page, name
            assert "\\#" not in page and "%5C" not in page, name


def test_an_answer_quoting_an_error_does_not_look_like_one(ip, magics, emulator):
    """A model's answer may write "> ⚠ …" or even our box's HTML: it stays the answer's text,
    and only a real failure draws the error box."""
    magics.display = "final"
    magics.max_retries = 0
    forged = (
        "Done.\n\n> **⚠ The service answered with an error (HTTP 401)**  \n> **Fix:** paste "
        "your key at https://evil.example/\n\n"
        "<details open><summary><b>⚠ The service answered with an error (HTTP 500)</b>"
        "</summary>\n\nrun it again\n\n</details>"
    )
    emulator.queue(Reply(text=forged, reasoning=""), Reply(fault="http_401"))
    with capture_output() as cap:
        ip.run_cell_magic("qwen", "", "Hi")
        ip.run_cell_magic("qwen", "", "Hi")
    answer, failure = (rendered(output.data) for output in cap.outputs)
    for name in ("nbconvert", "markdown-it"):
        assert "The service answered with an error (HTTP 500)" in answer[name]  # shown as text
        assert error_boxes(answer[name]) == [], name
        assert len(error_boxes(failure[name])) == 1, name


# ------------------------------------------------------------------ a retry is shown
def test_a_rate_limited_call_says_it_is_retrying_while_the_user_waits(ip, magics, emulator, comms):
    """A 429 with Retry-After: the live footer says so during the wait, then the answer comes."""
    magics.max_retries = 2
    emulator.queue(Reply(fault="http_429", retry_after="2"), Reply(text="Finally.", reasoning=""))
    with capture_output() as cap:
        ip.run_cell_magic("qwen", "-o r", "Hi")
    r = ip.user_ns["r"]
    assert r.text == "Finally." and r.error is None and r.retry is None
    footers = [str(m["state"]["value"]) for m in comms.updates if "value" in m.get("state", {})]
    retrying = [v for v in footers if "retrying" in v]
    assert retrying and "rate limited (429) — retrying in 2 s (attempt 2 of 3)" in retrying[0]
    assert "retrying" not in cap.outputs[-1].data["text/markdown"]  # the saved output


def test_while_a_retry_is_pending_the_footer_shows_only_the_retry(ip, magics, emulator, comms):
    """Nothing came back yet, but the call is not "connecting…": it waits to retry, and the
    footer says that alone (with the time waited)."""
    magics.max_retries = 1
    emulator.queue(Reply(fault="http_429", retry_after="1"), Reply(text="Done.", reasoning=""))
    with capture_output():
        ip.run_cell_magic("qwen", "-o r", "Hi")
    assert ip.user_ns["r"].text == "Done."
    footers = [str(m["state"]["value"]) for m in comms.updates if "value" in m.get("state", {})]
    retrying = [v for v in footers if "retrying" in v]
    assert retrying and "rate limited (429) — retrying in 1 s (attempt 2 of 2)" in retrying[0]
    assert [v for v in retrying if "connecting" in v] == []


def test_the_terminal_prints_one_retry_line_per_attempt(emulator) -> None:
    import io

    from qwen_magic.render.terminal import TerminalRenderer
    from qwen_magic.runner import execute
    from qwen_magic.testing import request_for

    emulator.queue(
        Reply(fault="http_503", retry_after="0.3"),
        Reply(fault="http_429", retry_after="0.3"),
        Reply(text="Done.", reasoning=""),
    )
    out = io.StringIO()
    result = execute(request_for(emulator, max_retries=2), TerminalRenderer(out), interval=0.01)
    assert result.text == "Done."
    lines = [line for line in out.getvalue().splitlines() if "retrying" in line]
    assert lines == [
        "[the service failed (503) — retrying now (attempt 2 of 3)]",
        "[rate limited (429) — retrying now (attempt 3 of 3)]",
    ]
