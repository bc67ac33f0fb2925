"""--logprobs [K] asks each API for token probabilities in its own words, and only when given;
the Responses API and a K out of range are refused before any request."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError

import qwen_magic
from qwen_magic.testing import Reply


@pytest.fixture
def final(magics):
    magics.display = "final"
    return magics


def sent(emulator) -> dict:
    return emulator.requests[-1].body


def test_chat_sends_logprobs_and_top_logprobs(ip, final, emulator) -> None:
    ip.run_cell_magic("qwen", "--api chat --no-think --logprobs 2", "Name a colour")
    body = sent(emulator)
    assert body["logprobs"] is True and body["top_logprobs"] == 2


def test_bare_flag_asks_for_three_alternatives_and_keeps_the_prompt(ip, final, emulator) -> None:
    ip.run_line_magic("qwen", "--no-think --logprobs What is 2 + 2?")
    body = sent(emulator)
    assert body["top_logprobs"] == 3
    assert body["messages"][-1]["content"] == "What is 2 + 2?"
    assert ip.user_ns["_qwen"].text == "Echo: What is 2 + 2?"


def test_line_magic_takes_a_number_after_the_flag(ip, final, emulator) -> None:
    ip.run_line_magic("qwen", "--no-think --logprobs 0 Hello")
    body = sent(emulator)
    assert body["top_logprobs"] == 0 and body["messages"][-1]["content"] == "Hello"


def test_native_sends_them_as_parameters(ip, final, emulator) -> None:
    ip.run_cell_magic("qwen", "--api dashscope --no-think --logprobs 5", "Name a colour")
    parameters = sent(emulator)["parameters"]
    assert parameters["logprobs"] is True and parameters["top_logprobs"] == 5


@pytest.mark.parametrize("api", ["chat", "dashscope"])
def test_nothing_is_asked_without_the_flag(ip, final, emulator, api) -> None:
    ip.run_cell_magic("qwen", f"--api {api} --no-think", "Name a colour")
    body = sent(emulator)
    assert "logprobs" not in body and "logprobs" not in (body.get("parameters") or {})
    assert ip.user_ns["_qwen"].logprobs is None


@pytest.mark.parametrize("k", ["6", "-1", "99"])
def test_k_out_of_range_is_refused_before_any_request(ip, final, emulator, k) -> None:
    with pytest.raises(UsageError, match=r"0 to 5"):
        ip.run_cell_magic("qwen", f"--logprobs {k}", "Name a colour")
    assert emulator.requests == []


def test_responses_api_is_refused_before_any_request(ip, final, emulator) -> None:
    with pytest.raises(UsageError, match="not available on the Responses API"):
        ip.run_cell_magic("qwen", "--api responses --logprobs", "Name a colour")
    with pytest.raises(UsageError, match="Responses API"):
        ip.run_line_magic("qwen", "--api responses --logprobs 2 Hi")
    assert emulator.requests == []


def test_compare_with_k_out_of_range_sends_nothing(ip, final, emulator) -> None:
    with pytest.raises(UsageError, match=r"0 to 5"):
        ip.run_cell_magic("qwen", "-t 0.1,0.9 --logprobs 7", "Name a colour")
    assert emulator.requests == []


def test_ask_takes_logprobs(ip, emulator) -> None:
    result = qwen_magic.ask("Name a colour", logprobs=1, thinking=False, display="none")
    assert sent(emulator)["top_logprobs"] == 1
    assert result.logprobs and all(len(t.alternatives) == 1 for t in result.logprobs)
    with pytest.raises(UsageError, match=r"0 to 5"):
        qwen_magic.ask("Name a colour", logprobs=9)


def test_service_refusal_of_top_logprobs_is_its_error(emulator) -> None:
    """The emulator answers a K out of range as the service does (a 400 naming the range)."""
    import openai

    client = openai.OpenAI(base_url=emulator.compat_base, api_key="sk-x", max_retries=0)
    emulator.queue(Reply(text="x"))
    with pytest.raises(openai.BadRequestError, match=r"top_logprobs should be \[0, 5\]"):
        client.chat.completions.create(
            model="qwen-plus",
            messages=[{"role": "user", "content": "hi"}],
            logprobs=True,
            top_logprobs=9,
        )
