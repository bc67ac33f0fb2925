"""Function calls on the wire, per API: what each provider sends, and the calls it folds out
of the answer — the real openai and dashscope SDKs over HTTP against the emulator."""

from __future__ import annotations

import json

import pytest

from qwen_magic.events import Failed, Finished, TextDelta, ToolCall, ToolResult
from qwen_magic.messages import assistant_message, tool_message
from qwen_magic.providers import make_provider
from qwen_magic.providers.dashscope import DashScopeProvider
from qwen_magic.testing import Reply, request_for

APIS = ("chat", "responses", "dashscope")
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
TIME = {
    "type": "function",
    "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}},
}
PARIS = {"name": "get_weather", "arguments": '{"city": "Paris"}'}


def events(emulator, api: str, reply: Reply | None = None, **overrides) -> list:
    if reply is not None:
        emulator.queue(reply)
    overrides.setdefault("tools", [WEATHER, TIME])
    overrides.setdefault("model", "qwen-plus")
    return list(make_provider(request_for(emulator, api, **overrides)).events())


def calls_of(got: list) -> list[ToolCall]:
    return [e for e in got if isinstance(e, ToolCall)]


def finish_of(got: list) -> Finished:
    assert isinstance(got[-1], Finished), got[-1]
    return got[-1]


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "no-stream"])
@pytest.mark.parametrize("api", APIS)
def test_one_call_is_one_tool_call_before_finished(emulator, api: str, stream: bool) -> None:
    got = events(emulator, api, Reply(tool_calls=[{**PARIS, "id": "call_abc"}]), stream=stream)
    assert calls_of(got) == [ToolCall("call_abc", "get_weather", '{"city": "Paris"}')]
    assert got[-2] == calls_of(got)[0]  # right before Finished
    assert finish_of(got).finish_reason == "tool_calls"
    assert not any(isinstance(e, Failed) for e in got)


@pytest.mark.parametrize("api", APIS)
def test_tools_are_sent_in_each_apis_form(emulator, api: str) -> None:
    events(emulator, api, Reply(text="no call needed"))
    sent = emulator.last
    assert sent.tools == ["get_weather", "get_time"]
    body = sent.body if api != "dashscope" else sent.body["parameters"]
    if api == "responses":  # flat: name, description, parameters at the top of each tool
        assert body["tools"][0] == {
            "type": "function",
            "name": "get_weather",
            "description": "The weather in a city.",
            "parameters": WEATHER["function"]["parameters"],
        }
    else:  # chat and native: the chat shape as given
        assert body["tools"] == [WEATHER, TIME]
    if api == "dashscope":
        assert body["result_format"] == "message"
    assert body["parallel_tool_calls"] is True  # DashScope's default (false) allows one call
    assert "tool_choice" not in body  # the service's default, auto


@pytest.mark.parametrize(
    ("api", "expected"),
    [
        ("chat", {"type": "function", "function": {"name": "get_time"}}),
        ("dashscope", {"type": "function", "function": {"name": "get_time"}}),
        ("responses", {"type": "function", "name": "get_time"}),
    ],
)
def test_tool_choice_names_a_function_in_each_apis_form(emulator, api: str, expected) -> None:
    events(emulator, api, Reply(text="x"), tool_choice="get_time")
    assert emulator.last.tool_choice == expected
    for choice in ("auto", "none"):
        events(emulator, api, Reply(text="x"), tool_choice=choice)
        assert emulator.last.tool_choice == choice


@pytest.mark.parametrize("api", APIS)
def test_no_tools_sends_no_tool_fields(emulator, api: str) -> None:
    events(emulator, api, Reply(text="plain"), tools=[])
    body = emulator.last.body if api != "dashscope" else emulator.last.body["parameters"]
    assert not {"tools", "tool_choice", "parallel_tool_calls"} & set(body)


@pytest.mark.parametrize("interleave", [False, True], ids=["one-after-another", "interleaved"])
@pytest.mark.parametrize("stream", [True, False], ids=["stream", "no-stream"])
@pytest.mark.parametrize("api", APIS)
def test_parallel_calls_come_in_index_order(emulator, api, stream, interleave) -> None:
    asked = [
        {"name": "get_weather", "arguments": {"city": "Paris"}, "id": "call_1"},
        {"name": "get_weather", "arguments": {"city": "Rome"}, "id": "call_2"},
        {"name": "get_time", "arguments": "{}", "id": "call_3"},
    ]
    got = events(emulator, api, Reply(tool_calls=asked, interleave=interleave), stream=stream)
    assert calls_of(got) == [
        ToolCall("call_1", "get_weather", '{"city": "Paris"}'),
        ToolCall("call_2", "get_weather", '{"city": "Rome"}'),
        ToolCall("call_3", "get_time", "{}"),
    ]
    assert finish_of(got).finish_reason == "tool_calls"


@pytest.mark.parametrize("api", APIS)
def test_arguments_split_across_many_chunks_are_joined(emulator, api: str) -> None:
    arguments = json.dumps({"city": "Reykjavík", "days": 3, "units": "metric"})
    reply = Reply(tool_calls=[{"name": "get_weather", "arguments": arguments}], tool_chunks=9)
    got = events(emulator, api, reply)
    (call,) = calls_of(got)
    assert call.arguments == arguments and json.loads(call.arguments)["city"] == "Reykjavík"
    assert call.id  # the server's id, kept from the first fragment


def test_native_fragments_after_the_first_have_empty_ids(emulator) -> None:
    """DashScope sends the id and name once; the fragments after them say ``"id": ""``."""
    import dashscope

    reply = Reply(tool_calls=[{**PARIS, "id": "call_first"}], tool_chunks=4)
    emulator.queue(reply)
    frames = list(
        dashscope.Generation.call(
            model="qwen-plus",
            messages=[{"role": "user", "content": "weather?"}],
            api_key="sk-test",
            base_address=emulator.native_base,
            result_format="message",
            stream=True,
            incremental_output=True,
            tools=[WEATHER],
        )
    )
    fragments = [
        call
        for frame in frames
        for call in (frame.output.choices[0].message.get("tool_calls") or [])
    ]
    assert [f["id"] for f in fragments] == ["call_first", "", "", ""]
    assert "name" not in fragments[1]["function"]
    # ... and the provider still pairs every fragment with the first one's id and name
    got = events(emulator, "dashscope", Reply(tool_calls=[{**PARIS, "id": "call_first"}]))
    assert calls_of(got) == [ToolCall("call_first", "get_weather", '{"city": "Paris"}')]


def test_native_cumulative_frames_do_not_repeat_arguments(emulator) -> None:
    """A model whose native stream repeats everything so far (the service default for
    qwen-plus when incremental_output is not sent) gives the same call, not a doubled one."""
    emulator.queue(Reply(tool_calls=[PARIS, {"name": "get_time", "arguments": "{}"}]))
    request = request_for(emulator, "dashscope", model="qwen-plus", tools=[WEATHER, TIME])
    got = list(DashScopeProvider(request, incremental_output=None).events())
    assert "incremental_output" not in emulator.last.body["parameters"]
    assert [(c.name, c.arguments) for c in calls_of(got)] == [
        ("get_weather", '{"city": "Paris"}'),
        ("get_time", "{}"),
    ]


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "no-stream"])
@pytest.mark.parametrize("api", APIS)
def test_text_in_the_same_round_still_streams_as_text(emulator, api, stream) -> None:
    got = events(emulator, api, Reply(text="Let me look.", tool_calls=[PARIS]), stream=stream)
    assert "".join(e.text for e in got if isinstance(e, TextDelta)) == "Let me look."
    texts = [i for i, e in enumerate(got) if isinstance(e, TextDelta)]
    assert max(texts) < got.index(calls_of(got)[0])
    assert finish_of(got).finish_reason == "tool_calls"


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "no-stream"])
@pytest.mark.parametrize("api", APIS)
def test_tool_results_go_back_in_each_apis_form(emulator, api: str, stream: bool) -> None:
    """Round 2: the assistant's calls and one result per call, after the user's message; the
    service accepts them (no 400) and the answer can use them."""
    first = events(emulator, api, Reply(tool_calls=[PARIS, {"name": "get_time"}]))
    calls = calls_of(first)
    results = [ToolResult(calls[0].id, '{"temp": 21}'), ToolResult(calls[1].id, '"12:00"')]
    rounds = [assistant_message("", calls), *map(tool_message, results)]
    got = events(emulator, api, Reply(), stream=stream, tool_rounds=rounds)
    assert not any(isinstance(e, Failed) for e in got)
    assert finish_of(got).finish_reason == "stop"
    answer = "".join(e.text for e in got if isinstance(e, TextDelta))
    assert answer == 'Echo: {"temp": 21} "12:00"'
    sent = emulator.last
    assert sent.tool_results == [
        {"call_id": calls[0].id, "output": '{"temp": 21}'},
        {"call_id": calls[1].id, "output": '"12:00"'},
    ]
    kinds = [m.get("type") or m.get("role") for m in sent.messages]
    if api == "responses":
        assert kinds[-4:] == ["function_call", "function_call", *["function_call_output"] * 2]
    else:
        assert kinds[-4:] == ["user", "assistant", "tool", "tool"]
        assert sent.messages[-3]["tool_calls"][1]["function"]["name"] == "get_time"


@pytest.mark.parametrize("api", APIS)
def test_a_result_without_its_call_is_refused_like_the_service_does(emulator, api) -> None:
    rounds = [tool_message(ToolResult("call_nowhere", "42"))]
    got = events(emulator, api, Reply(), tool_rounds=rounds)
    failed = [e for e in got if isinstance(e, Failed)]
    assert failed and failed[0].error.status == 400
    assert "call_nowhere" in failed[0].error.message or "tool" in failed[0].error.message


@pytest.mark.parametrize("api", ["chat", "dashscope"])
def test_a_call_left_unanswered_is_refused(emulator, api: str) -> None:
    rounds = [assistant_message("", [ToolCall("call_1", "get_time", "{}")])]
    history = [*rounds, {"role": "assistant", "content": "I gave up."}]
    got = events(emulator, api, Reply(), history=history)
    (failed,) = [e for e in got if isinstance(e, Failed)]
    assert failed.error.status == 400 and "tool_call_id" in failed.error.message


def test_multimodal_endpoint_takes_calls_and_results_too(emulator) -> None:
    """Qwen3.5 models answer on DashScope's multimodal endpoint, where every content is a list
    of parts: the calls and the results still go there and back."""
    got = events(emulator, "dashscope", Reply(tool_calls=[PARIS]), model="qwen3.5-plus")
    assert emulator.last.protocol == "native-multimodal"
    (call,) = calls_of(got)
    rounds = [assistant_message("", [call]), tool_message(ToolResult(call.id, "sunny"))]
    got = events(emulator, "dashscope", Reply(), model="qwen3.5-plus", tool_rounds=rounds)
    assert "".join(e.text for e in got if isinstance(e, TextDelta)) == "Echo: sunny"
    assert emulator.last.tool_results == [{"call_id": call.id, "output": "sunny"}]


def test_a_tool_choice_that_names_no_tool_is_refused_before_any_request(emulator) -> None:
    from qwen_magic.errors import QwenUsageError

    request = request_for(emulator, "chat", tools=[WEATHER], tool_choice="get_time")
    with pytest.raises(QwenUsageError, match="get_time.*get_weather"):
        request.validate()
    request = request_for(emulator, "chat", tools=[{"type": "function", "function": {}}])
    with pytest.raises(QwenUsageError, match="A tool must look like"):
        request.validate()
    assert not emulator.requests
