"""The emulator's Responses API, through the real openai SDK (iterating events by `event.type`)."""

from __future__ import annotations

import http.client
import json
import uuid
from urllib.parse import urlsplit

import openai
import pytest

from qwen_magic.testing import Emulator, Reply

THINKING_SEQUENCE = [
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.{r}.delta",
    "response.{r}.done",
    "response.output_item.done",
    "response.output_item.added",
    "response.content_part.added",
    "response.output_text.delta",
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
    "response.completed",
]


def collapse(types: list[str]) -> list[str]:
    """Event types with runs of the same delta event folded into one."""
    out: list[str] = []
    for kind in types:
        if not (out and out[-1] == kind and kind.endswith(".delta")):
            out.append(kind)
    return out


@pytest.mark.parametrize("reasoning_event", ["reasoning_text", "reasoning_summary_text"])
def test_thinking_stream_has_the_full_event_sequence(
    client: openai.OpenAI, emulator: Emulator, reasoning_event: str
) -> None:
    emulator.reasoning_event = reasoning_event
    emulator.queue(Reply(text="Hi there", reasoning="Think hard", reasoning_chunks=2))
    events = list(client.responses.create(model="qwen3.5-plus", input="hello", stream=True))
    types = [e.type for e in events]
    assert collapse(types) == [t.format(r=reasoning_event) for t in THINKING_SEQUENCE]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    reasoning = [e.delta for e in events if e.type == f"response.{reasoning_event}.delta"]
    answer = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert (reasoning, answer) == (["Think", " hard"], ["Hi ", "there"])
    if reasoning_event == "reasoning_summary_text":
        assert {e.summary_index for e in events if "summary" in e.type} == {0}
    created, completed = events[0].response, events[-1].response
    assert created.status == "queued" and events[1].response.status == "in_progress"
    assert created.id == completed.id and uuid.UUID(completed.id)
    assert completed.status == "completed" and completed.output_text == "Hi there"
    assert [item.type for item in completed.output] == ["reasoning", "message"]
    assert all(item.id.startswith("msg_") for item in completed.output)
    usage = completed.usage
    assert (usage.output_tokens, usage.output_tokens_details.reasoning_tokens) == (4, 2)
    assert usage.input_tokens == 5 and usage.total_tokens == 9


def test_reasoning_event_can_change_between_requests(
    client: openai.OpenAI, emulator: Emulator
) -> None:
    first = {e.type for e in client.responses.create(model="qwq-plus", input="a", stream=True)}
    emulator.reasoning_event = "reasoning_summary_text"
    second = {e.type for e in client.responses.create(model="qwq-plus", input="a", stream=True)}
    assert "response.reasoning_text.delta" in first - second
    assert "response.reasoning_summary_text.delta" in second - first


def test_without_thinking_the_message_is_output_zero(client: openai.OpenAI) -> None:
    events = list(
        client.responses.create(
            model="qwen3.5-plus", input="hi", stream=True, extra_body={"enable_thinking": False}
        )
    )
    assert not any("reasoning" in e.type for e in events)
    added = next(e for e in events if e.type == "response.output_item.added")
    assert added.output_index == 0 and added.item.type == "message"
    assert events[-1].response.output_text == "Echo: hi"


def test_reasoning_effort_none_turns_thinking_off(client: openai.OpenAI) -> None:
    response = client.responses.create(
        model="qwen3.5-plus", input="hi", reasoning={"effort": "none"}
    )
    assert [item.type for item in response.output] == ["message"]


def test_strict_stream_helper_accepts_the_events(client: openai.OpenAI) -> None:
    with client.responses.stream(model="qwen3.5-plus", input="strict") as stream:
        final = stream.get_final_response()
    assert final.output_text == "Echo: strict"


def test_non_stream_response_object(client: openai.OpenAI) -> None:
    response = client.responses.create(
        model="qwen3.5-plus", input=[{"role": "user", "content": "hi you"}], instructions="Be nice"
    )
    assert uuid.UUID(response.id) and response.object == "response"
    assert response.status == "completed" and response.output_text == "Echo: hi you"
    reasoning, message = response.output
    assert reasoning.summary[0].text == "The user asked: hi you. I will answer briefly."
    assert message.status == "completed" and message.id.startswith("msg_")
    assert response.usage.input_tokens == 4 + 4  # words of instructions + input, plus 4


def test_previous_response_id_continues_and_is_recorded(
    client: openai.OpenAI, emulator: Emulator
) -> None:
    first = client.responses.create(model="qwen-plus", input="my name is Ann")
    second = client.responses.create(
        model="qwen-plus", input="what is my name", previous_response_id=first.id
    )
    assert second.output_text == "Echo: what is my name"
    assert second.previous_response_id == first.id
    assert emulator.last.history == [
        {"role": "user", "content": "my name is Ann"},
        {"role": "assistant", "content": "Echo: my name is Ann"},
    ]
    assert emulator.last.messages == [{"role": "user", "content": "what is my name"}]
    assert client.responses.retrieve(second.id).output_text == "Echo: what is my name"


def test_unknown_previous_response_id_is_an_error(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.responses.create(model="qwen-plus", input="x", previous_response_id="nope")
    assert caught.value.code == "previous_response_not_found"


def test_store_false_is_not_remembered(client: openai.OpenAI) -> None:
    first = client.responses.create(model="qwen-plus", input="x", store=False)
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="qwen-plus", input="y", previous_response_id=first.id)


def test_legacy_path_serves_the_same_api(emulator: Emulator) -> None:
    legacy = openai.OpenAI(
        base_url=emulator.responses_legacy_base, api_key="sk-test", max_retries=0
    )
    events = list(legacy.responses.create(model="qwen-plus", input="old", stream=True))
    assert events[-1].response.output_text == "Echo: old"
    assert emulator.last.path == "/api/v2/apps/protocols/compatible-mode/v1/responses"
    assert emulator.last.protocol == "responses" and emulator.last.stream


def test_max_output_tokens_ends_incomplete(client: openai.OpenAI) -> None:
    events = list(
        client.responses.create(
            model="qwen-plus", input="one two three four", stream=True, max_output_tokens=2
        )
    )
    final = events[-1]
    assert final.type == "response.incomplete"
    assert final.response.status == "incomplete"
    assert final.response.incomplete_details.reason == "max_output_tokens"
    assert final.response.output_text == "Echo: one "


def test_error_event_mid_stream_is_yielded_not_raised(
    client: openai.OpenAI, emulator: Emulator
) -> None:
    emulator.queue(Reply(text="a b c d", fault="error_frame", fault_after=4))
    events = list(client.responses.create(model="qwen-plus", input="x", stream=True))
    assert [e.type for e in events][-3:] == [
        "response.content_part.added",
        "error",
        "response.failed",
    ]
    error, failed = events[-2:]
    assert error.code == "data_inspection_failed"
    assert error.message == "Output data may contain inappropriate content."
    assert failed.response.status == "failed"
    assert failed.response.error.code == "data_inspection_failed"


def test_cut_stream_raises_connection_error(client: openai.OpenAI, emulator: Emulator) -> None:
    emulator.queue(Reply(fault="cut", fault_after=2))
    seen = []
    with pytest.raises(openai.APIConnectionError):
        for event in client.responses.create(model="qwen-plus", input="x", stream=True):
            seen.append(event.type)
    assert seen == ["response.created", "response.in_progress"]


def test_unknown_model_is_404(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="gpt-imaginary", input="x")


def test_raw_responses_framing(emulator: Emulator) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", urlsplit(emulator.url).port, timeout=5)
    body = json.dumps({"model": "qwen-plus", "input": "hi", "stream": True})
    conn.request("POST", "/compatible-mode/v1/responses", body, {"Authorization": "Bearer k"})
    text = conn.getresponse().read().decode()
    conn.close()
    blocks = text.strip("\n").split("\n\n")
    first = blocks[0].split("\n")
    assert first[:3] == ["id:1", "event:response.created", ":HTTP_STATUS/200"]
    assert first[3].startswith('data:{"type":"response.created"')
    assert "[DONE]" not in text
    assert blocks[-1].split("\n")[1] == "event:response.completed"
    numbers = [json.loads(b.split("\n")[3][5:])["sequence_number"] for b in blocks]
    assert numbers == list(range(len(blocks)))
