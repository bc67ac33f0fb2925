"""Servers other than DashScope (vLLM, SGLang, llama.cpp), through the magic against the
emulator reached by --base-url, as a user points the magic at such a server: the thinking
switch in the form they read, their error bodies (a numeric code, no request id), their
reasoning field, and an answer that starts with <think> while the reasoning came apart.
"""

from __future__ import annotations

import pytest
from IPython.utils.capture import capture_output
from traitlets import TraitError

from qwen_magic.testing import Reply

OPENAI_APIS = ("chat", "responses")


@pytest.fixture
def other(ip, magics, emulator):
    """The magic pointed at the emulator through --base-url, as at a llama.cpp server."""
    magics.display = "final"
    magics.max_retries = 0
    return f"--base-url {emulator.compat_base}"


def ask(ip, line: str, cell: str = "Hello"):
    with capture_output() as cap:
        ip.run_cell_magic("qwen", line, cell)
    shown = cap.outputs[-1].data.get("text/markdown", "") if cap.outputs else ""
    return ip.user_ns["_qwen"], shown


def sent(emulator) -> dict:
    return emulator.last.body


# -- the thinking switch -----------------------------------------------------------------------


@pytest.mark.parametrize("api", OPENAI_APIS)
@pytest.mark.parametrize("flag,value", [("--think", True), ("--no-think", False)])
def test_think_reaches_another_server_as_chat_template_kwargs(
    ip, other, emulator, api, flag, value
) -> None:
    emulator.queue(Reply(text="fine", reasoning=""))
    r, _ = ask(ip, f"{other} --api {api} {flag}")
    assert r.error is None and r.text == "fine"
    body = sent(emulator)
    assert body["chat_template_kwargs"] == {"enable_thinking": value}
    assert "enable_thinking" not in body  # DashScope's switch is not sent to them


def test_a_thinking_budget_goes_as_llama_cpp_reads_it(ip, other, emulator) -> None:
    emulator.queue(Reply(text="fine", reasoning=""))
    ask(ip, f"{other} --thinking-budget 64")
    body = sent(emulator)
    assert body["chat_template_kwargs"] == {"enable_thinking": True}
    assert body["thinking_budget_tokens"] == 64 and "thinking_budget" not in body


def test_model_studio_keeps_enable_thinking(ip, magics, emulator) -> None:
    magics.display = "final"
    for api in OPENAI_APIS:
        emulator.queue(Reply(text="fine", reasoning=""))
        ask(ip, f"--api {api} --no-think")  # the region's endpoint (here the emulator)
        body = sent(emulator)
        assert body["enable_thinking"] is False and "chat_template_kwargs" not in body


@pytest.mark.parametrize(
    "setting,top,kwargs",
    [("enable_thinking", True, False), ("chat_template_kwargs", False, True), ("both", True, True)],
)
def test_the_thinking_param_setting_chooses(ip, magics, other, emulator, setting, top, kwargs):
    ip.run_line_magic("config", f"QwenMagics.thinking_param = {setting!r}")
    emulator.queue(Reply(text="fine", reasoning=""))
    ask(ip, f"{other} --no-think")
    body = sent(emulator)
    assert ("enable_thinking" in body) is top
    assert ("chat_template_kwargs" in body) is kwargs


def test_a_bad_thinking_param_is_refused_when_set(ip, magics) -> None:
    with pytest.raises(TraitError, match="chat_template_kwargs"):
        magics.thinking_param = "kwargs"
    assert magics.thinking_param == "auto"


# -- their errors --------------------------------------------------------------------------------


@pytest.mark.parametrize("api", OPENAI_APIS)
def test_an_error_with_a_numeric_code_and_no_request_id_reads_plainly(
    ip, other, emulator, api
) -> None:
    """llama.cpp's answer to a prompt over its context: {"error": {"code": 400, "type": ...}}."""
    emulator.queue(Reply(fault="llama_400"))
    r, shown = ask(ip, f"{other} --api {api}")
    error = r.error
    assert error.kind == "http" and error.status == 400
    assert error.code == "exceed_context_size_error" and error.request_id is None
    assert "exceeds the available context size" in shown
    assert "context window" in error.hint
    assert "inside qwen_magic" not in shown and "request id" not in shown


def test_a_numeric_code_on_the_native_protocol_reads_plainly(ip, magics, emulator) -> None:
    magics.display = "final"
    emulator.queue(Reply(fault="llama_400"))
    r, shown = ask(ip, "--api dashscope")
    assert r.error.kind == "http" and r.error.status == 400 and r.error.code == "400"
    assert "exceeds the available context size" in shown and "inside qwen_magic" not in shown


# -- an answer that starts with <think> -----------------------------------------------------------


@pytest.mark.parametrize("api", OPENAI_APIS)
def test_an_answer_starting_with_think_stays_the_answer_when_reasoning_came_apart(
    ip, magics, emulator, api
) -> None:
    magics.display = "final"
    answer = "<think> is the tag some models open their thinking with."
    emulator.queue(Reply(text=answer, reasoning="Explain the tag."))
    r, shown = ask(ip, f"--api {api} --think")
    assert r.error is None
    assert (r.reasoning, r.text) == ("Explain the tag.", answer)
    assert "open their thinking with" in shown


@pytest.mark.parametrize("api", OPENAI_APIS)
def test_think_tags_still_split_when_the_server_sends_no_reasoning_field(
    ip, other, emulator, api
) -> None:
    emulator.queue(Reply(text="<think>I ponder.</think>\n\nThe answer.", reasoning=""))
    r, _ = ask(ip, f"{other} --api {api}")
    assert (r.reasoning, r.text) == ("I ponder.", "The answer.")


@pytest.mark.parametrize("stream", ["", "--no-stream"])
def test_reasoning_sent_as_reasoning_is_read_like_reasoning_content(
    ip, other, emulator, stream
) -> None:
    """Ollama and newer vLLM name the field ``reasoning``."""
    emulator.queue(Reply(text="The answer.", reasoning="Weighing it.", reasoning_field="reasoning"))
    r, shown = ask(ip, f"{other} --think -m qwen-plus {stream}")
    assert (r.reasoning, r.text, r.error) == ("Weighing it.", "The answer.", None)
    assert "<details><summary>Thought" in shown
