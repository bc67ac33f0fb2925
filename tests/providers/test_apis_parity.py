"""One scenario suite over the three APIs: the same prompt through ``%%qwen --api chat``,
``--api responses`` and ``--api dashscope`` gives the same Result and the same static output.

Each scenario drives the real magic (real SDKs, real HTTP) against the emulator. Where the
protocols legitimately differ, what a user relies on is asserted instead (see ``NATIVE_CODES``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from IPython.utils.capture import capture_output

from qwen_magic.result import Result
from qwen_magic.testing import Reply

APIS = ("chat", "responses", "dashscope")
PROMPT = "What is the capital of France?"
PATHS = {
    "chat": "/compatible-mode/v1/chat/completions",
    "responses": "/compatible-mode/v1/responses",
}
# DashScope's two vocabularies for one error (error-code doc, docs/wire.md §5.1): the native
# protocol reports its own code, which the user looks up in the same table.
# Frames each protocol sends before its first answer delta (no thinking): chat a role chunk;
# responses created, in_progress, output_item.added, content_part.added; native none.
LEAD_FRAMES = {"chat": 1, "responses": 4, "dashscope": 0}
NATIVE_CODES = {
    "invalid_api_key": "InvalidApiKey",
    "model_not_found": "ModelNotFound",
    "limit_requests": "Throttling",
    "internal_error": "InternalError",
    "data_inspection_failed": "DataInspectionFailed",
}


@dataclass
class Answer:
    result: Result
    markdown: str
    record: Any  # the emulator's RecordedRequest

    @property
    def fields(self) -> dict[str, Any]:
        """What the user reads back from ``_qwen``, whatever the API."""
        r, u = self.result, self.result.usage
        return {
            "text": r.text,
            "reasoning": r.reasoning,
            "input_tokens": u.input_tokens,
            "output_tokens": u.output_tokens,
            "reasoning_tokens": u.reasoning_tokens,
            "cached_tokens": u.cached_tokens,
            "finish_reason": r.finish_reason,
            "interrupted": r.interrupted,
            "error": None if r.error is None else (r.error.kind, r.error.status),
        }


def normalise(markdown: str, api: str) -> str:
    """The static output, minus what must differ: the API's name and the clock."""
    markdown = markdown.replace(f" · {api} · ", " · API · ")
    markdown = re.sub(r"\d+\.\d+ s\b", "T s", markdown)
    return re.sub(r" · \d+ tok/s", "", markdown)


@pytest.fixture
def ask(ip, magics, emulator):
    magics.display = "final"  # one static output, no live view: deterministic
    magics.max_retries = 0  # a fault is answered once (retries have their own test)

    def ask(
        line: str = "", reply: Reply | dict[str, Reply] | None = None, prompt: str = PROMPT
    ) -> dict:
        answers = {}
        for api in APIS:
            if reply is not None:
                emulator.queue(reply[api] if isinstance(reply, dict) else reply)
            with capture_output() as cap:
                ip.run_cell_magic("qwen", f"--api {api} {line}", prompt)
            (output,) = cap.outputs
            answers[api] = Answer(ip.user_ns["_qwen"], output.data["text/markdown"], emulator.last)
        return answers

    return ask


def assert_same(answers: dict[str, Answer]) -> Answer:
    chat = answers["chat"]
    for api in APIS:
        answer = answers[api]
        assert answer.result.api == api
        assert answer.fields == chat.fields, api
        assert normalise(answer.markdown, api) == normalise(chat.markdown, "chat"), api
    return chat


def test_plain_prompt(ask) -> None:
    answers = ask(reply=Reply(text="Paris is the capital.", reasoning="France... capital."))
    chat = assert_same(answers)
    assert (chat.result.text, chat.result.reasoning) == (
        "Paris is the capital.",
        "France... capital.",
    )
    assert chat.result.finish_reason == "stop" and chat.result.error is None
    assert {api: a.record.path for api, a in answers.items() if api != "dashscope"} == PATHS
    assert answers["dashscope"].record.protocol == "native-multimodal"  # qwen3.5-plus
    assert all(a.record.stream for a in answers.values())


def test_think(ask) -> None:
    chat = assert_same(ask("--think", Reply(text="Paris.", reasoning="Let me think.")))
    assert chat.result.reasoning == "Let me think." and chat.result.usage.reasoning_tokens == 3
    assert chat.markdown.startswith("<details><summary>Thought for ")


def test_no_think(ask) -> None:
    answers = ask("--no-think", Reply(text="Paris."))
    chat = assert_same(answers)
    assert (chat.result.text, chat.result.reasoning) == ("Paris.", "")
    assert chat.result.usage.reasoning_tokens is None and "<details>" not in chat.markdown
    bodies = {api: a.record.body for api, a in answers.items()}
    assert bodies["chat"]["enable_thinking"] is False
    assert bodies["responses"]["enable_thinking"] is False
    assert bodies["dashscope"]["parameters"]["enable_thinking"] is False


def test_usage_fields(ask) -> None:
    chat = assert_same(ask("--think", Reply(text="A B C", reasoning="x y", cached_tokens=0)))
    usage = chat.result.usage
    assert (usage.input_tokens, usage.output_tokens, usage.reasoning_tokens) == (10, 5, 2)
    assert usage.cached_tokens == 0 and usage.total_tokens == 15
    assert "10 in · 5 out (2 reasoning)" in chat.markdown


def test_no_stream(ask) -> None:
    answers = ask("--no-stream --think", Reply(text="Whole answer.", reasoning="Why not."))
    chat = assert_same(answers)
    assert (chat.result.text, chat.result.reasoning) == ("Whole answer.", "Why not.")
    assert not any(a.record.stream for a in answers.values())


def test_text_model_uses_text_generation(ask) -> None:
    answers = ask("-m qwen-plus", Reply(text="Paris, of course."))
    chat = assert_same(answers)
    assert chat.result.text == "Paris, of course." and chat.result.reasoning == ""
    assert answers["dashscope"].record.protocol == "native-text"


def test_multimodal_only_model_uses_multimodal_generation(ask) -> None:
    answers = ask("-m qwen3-vl-plus --think", Reply(text="A cat.", reasoning="Look."))
    chat = assert_same(answers)
    assert (chat.result.text, chat.result.reasoning) == ("A cat.", "Look.")
    assert answers["dashscope"].record.protocol == "native-multimodal"


def test_token_limit(ask) -> None:
    chat = assert_same(ask("--no-think --max-tokens 2", Reply(text="a b c d e")))
    assert (chat.result.text, chat.result.finish_reason) == ("a b ", "length")
    assert "cut off at the token limit" in chat.markdown


def broken_after_two_words(fault: str) -> dict[str, Reply]:
    """The same partial answer ("one two ") on every protocol, then ``fault``."""
    return {
        api: Reply(text="one two three four", reasoning="", fault=fault, fault_after=lead + 2)
        for api, lead in LEAD_FRAMES.items()
    }


def assert_same_partial_answer(answers: dict[str, Answer]) -> Answer:
    """Same text, reasoning, finish reason and error; usage differs by protocol: chat and
    responses report it only at the end, native DashScope on every frame (the tokens so far)."""
    chat = answers["chat"]
    assert chat.result.text == "one two " and chat.result.finish_reason is None
    assert chat.fields["error"] == ("stream", None)
    assert answers["responses"].fields == chat.fields
    assert chat.result.usage.output_tokens is None
    assert answers["dashscope"].result.usage.output_tokens == 2
    for api, answer in answers.items():
        same = ("text", "reasoning", "finish_reason", "interrupted", "error")
        assert {k: answer.fields[k] for k in same} == {k: chat.fields[k] for k in same}, api
        assert answer.result.error.hint == chat.result.error.hint
        assert "⚠ The stream broke off</b>" in answer.markdown
        assert "The partial answer above is kept." in answer.markdown
    assert normalise(answers["responses"].markdown, "responses") == normalise(chat.markdown, "chat")
    return chat


def test_mid_stream_error_frame(ask) -> None:
    answers = ask("--no-think", broken_after_two_words("error_frame"))
    assert_same_partial_answer(answers)
    for api, answer in answers.items():
        code = "data_inspection_failed"
        assert answer.result.error.code == (NATIVE_CODES[code] if api == "dashscope" else code)


def test_connection_cut_mid_stream(ask) -> None:
    assert_same_partial_answer(ask("--no-think", broken_after_two_words("cut")))


def test_retries_before_the_first_token(ask, magics, emulator) -> None:
    magics.max_retries = 1
    for _ in APIS:
        emulator.queue(Reply(fault="http_429", retry_after="0"), Reply(text="fine", reasoning=""))
    answers = ask("--no-think")
    assert_same(answers)
    assert answers["chat"].result.text == "fine"
    assert len(emulator.requests) == 2 * len(APIS)


@pytest.mark.parametrize("api", APIS)
def test_result_raw_is_the_sdk_object(ip, magics, emulator, api: str) -> None:
    magics.display = "none"
    with capture_output():
        ip.run_cell_magic("qwen", f"--api {api} --no-think -o r", "Hi")
    raw = ip.user_ns["r"].raw
    assert raw is not None and "sk-" not in repr(ip.user_ns["r"])
    if api == "dashscope":
        assert raw.status_code == 200 and raw.output is not None
    elif api == "responses":
        assert raw.status == "completed" and raw.output_text == "Echo: Hi"
    else:
        assert raw.usage is not None  # the last chunk carries the usage
