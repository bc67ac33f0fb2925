"""Result.logprobs: one entry per answer token, read by the real SDKs from each protocol
(streamed, whole, native cumulative frames), counted as the offline tokenizer counts."""

from __future__ import annotations

import math

import pytest

from qwen_magic.context.tokens import count
from qwen_magic.emulator.logprobs import token_bytes
from qwen_magic.masking import Secret, forget
from qwen_magic.testing import Reply
from qwen_magic.testing.calls import request_for, run_reply

ANSWER = "The capital of France is Paris, a city on the Seine."


@pytest.mark.parametrize("api", ["chat", "dashscope"])
@pytest.mark.parametrize("stream", [True, False])
def test_one_entry_per_token_as_the_offline_tokenizer_counts(emulator, api, stream) -> None:
    result = run_reply(emulator, Reply(text=ANSWER), api, logprobs=3, stream=stream, thinking=False)
    assert result.error is None and result.text == ANSWER
    tokens = count(ANSWER).tokens
    assert len(result.logprobs) == tokens == result.usage.output_tokens
    assert "".join(t.token for t in result.logprobs) == ANSWER
    for item in result.logprobs:
        assert 0 < item.probability <= 1 and math.isclose(item.probability, math.exp(item.logprob))
        assert len(item.alternatives) == 3
        assert item.alternatives[0][0] == item.token  # the emulator's token is the likeliest
        assert [lp for _, lp in item.alternatives] == sorted(
            (lp for _, lp in item.alternatives), reverse=True
        )


@pytest.mark.parametrize("api", ["chat", "dashscope"])
def test_prompt_tokens_follow_the_chat_template(emulator, api) -> None:
    result = run_reply(emulator, Reply(text="ok"), api, logprobs=0, thinking=False,
                       prompt="How many tokens is this prompt?")  # fmt: skip
    assert result.usage.input_tokens == count("How many tokens is this prompt?").tokens + 5 + 3


def test_reasoning_is_counted_but_carries_no_probabilities(emulator) -> None:
    reasoning = "First think about Paris."
    result = run_reply(emulator, Reply(text=ANSWER, reasoning=reasoning), "chat", logprobs=2,
                       thinking=True)  # fmt: skip
    assert result.reasoning == reasoning
    assert result.usage.reasoning_tokens == count(reasoning).tokens
    assert result.usage.output_tokens == count(reasoning).tokens + count(ANSWER).tokens
    assert len(result.logprobs) == count(ANSWER).tokens


def test_a_character_split_over_tokens_is_one_entry(emulator) -> None:
    text = "Ducks: 🦆🦜 and 龘."
    raw = token_bytes(text)
    partial = [t for t in raw if not _decodes(t)]
    assert partial, "the sample must contain tokens that are part of a character"
    for api in ("chat", "dashscope"):
        result = run_reply(emulator, Reply(text=text), api, logprobs=1, thinking=False)
        assert result.usage.output_tokens == len(raw)
        tokens = [t.token for t in result.logprobs]
        assert "".join(tokens) == text and "\ufffd" not in "".join(tokens)
        assert len(tokens) < len(raw)


def test_native_cumulative_frames_give_each_token_once(emulator) -> None:
    """Without incremental output each frame repeats every token so far (the SDK itself turns
    increments into such frames, logprobs included): each token is still read once."""
    from qwen_magic.providers.dashscope import DashScopeProvider
    from qwen_magic.runner import Collector

    request = request_for(emulator, "dashscope", logprobs=2, thinking=False)
    emulator.queue(Reply(text=ANSWER))
    collector = Collector(request)
    for event in DashScopeProvider(request, incremental_output=False).events():
        collector.apply(event)
    collector.end()
    result = collector.snapshot()
    assert result.text == ANSWER
    assert "".join(t.token for t in result.logprobs) == ANSWER
    assert len(result.logprobs) == count(ANSWER).tokens


@pytest.mark.parametrize("api", ["chat", "dashscope"])
def test_a_model_without_them_leaves_an_empty_list(emulator, api) -> None:
    result = run_reply(emulator, Reply(text=ANSWER, logprobs=False), api, logprobs=3,
                       thinking=False)  # fmt: skip
    assert result.error is None and result.text == ANSWER
    assert result.logprobs == []


def test_temperature_flattens_the_emulated_probabilities(emulator) -> None:
    cold = run_reply(emulator, Reply(text=ANSWER), "chat", logprobs=0, temperature=0.1,
                     thinking=False)  # fmt: skip
    warm = run_reply(emulator, Reply(text=ANSWER), "chat", logprobs=0, temperature=1.5,
                     thinking=False)  # fmt: skip
    mean = [sum(t.probability for t in r.logprobs) / len(r.logprobs) for r in (cold, warm)]
    assert mean[0] > 0.99 > mean[1]


def test_a_key_echoed_into_the_answer_is_masked_in_the_tokens_too(emulator) -> None:
    key = Secret("sk-tokenprobs-0123456789abcdef")
    try:
        result = run_reply(emulator, Reply(text=f"Your key is {key} indeed."), "chat",
                           logprobs=2, thinking=False)  # fmt: skip
        joined = "".join(t.token for t in result.logprobs)
        assert key not in result.text and key not in joined
        assert joined == result.text  # the mask sits where the key was
        assert not any(key[:12] in t.token for t in result.logprobs)
    finally:
        forget(key)


def _decodes(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
