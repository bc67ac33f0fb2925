"""The emulator's ``n`` on Chat Completions, through the real openai SDK: K choices, each
with its own ``index``, one usage for the request; refused where the service refuses it."""

from __future__ import annotations

import openai
import pytest

from qwen_magic.testing import Reply

USER = [{"role": "user", "content": "hello there"}]
TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}


def create(client: openai.OpenAI, **kwargs: object) -> object:
    kwargs.setdefault("model", "qwen-plus")
    kwargs.setdefault("messages", USER)
    return client.chat.completions.create(**kwargs)


def test_a_stream_interleaves_the_choices_and_counts_them_once(client) -> None:
    chunks = list(create(client, n=3, stream=True, stream_options={"include_usage": True}))
    answers: dict[int, str] = {}
    finished: dict[int, str] = {}
    for chunk in chunks:
        for choice in chunk.choices:
            answers[choice.index] = answers.get(choice.index, "") + (choice.delta.content or "")
            if choice.finish_reason:
                finished[choice.index] = choice.finish_reason
    assert answers == {
        0: "Echo: hello there", 1: "Echo: hello there (sample 2)",
        2: "Echo: hello there (sample 3)",
    }  # fmt: skip
    assert finished == {0: "stop", 1: "stop", 2: "stop"}
    first = [c.choices[0].index for c in chunks[:3]]
    assert first == [0, 1, 2]  # taken in turn, not one after another
    usage = chunks[-1].usage
    assert not chunks[-1].choices and usage.completion_tokens == 3 + 5 + 5  # a token a word
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_a_whole_reply_holds_every_choice(client) -> None:
    reply = create(client, n=2)
    assert [c.index for c in reply.choices] == [0, 1]
    assert reply.choices[1].message.content == "Echo: hello there (sample 2)"
    assert reply.usage.completion_tokens == 3 + 5  # a token a word


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": 5}, r"Range of n should be \[1, 4\]"),
        ({"n": 0}, r"Range of n should be \[1, 4\]"),
        ({"n": 2, "extra_body": {"enable_thinking": True}}, "not supported in thinking mode"),
        ({"n": 2, "model": "qwen-max"}, "does not support n greater than 1"),
    ],
)
def test_n_is_refused_where_the_service_refuses_it(client, kwargs, message) -> None:
    with pytest.raises(openai.BadRequestError, match=message):
        create(client, **kwargs)


def test_with_tools_n_is_one(client) -> None:
    reply = create(client, n=3, tools=[TOOL])
    assert len(reply.choices) == 1


def test_a_scripted_reply_can_ignore_n(client, emulator) -> None:
    emulator.queue(Reply(choices=1))
    assert len(create(client, n=3).choices) == 1
