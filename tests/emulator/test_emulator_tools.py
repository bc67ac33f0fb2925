"""The emulator's function calls and web search, read with the real SDKs: the shapes each
protocol streams, the service's refusals of a malformed tool conversation, what it records."""

from __future__ import annotations

import json

import dashscope
import openai
import pytest

from qwen_magic.testing import Emulator, Reply

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]
FLAT = [
    {"type": "function", "name": "get_weather", "parameters": TOOLS[0]["function"]["parameters"]}
]
USER = [{"role": "user", "content": "Weather in Paris and Rome?"}]
TWO = [
    {"name": "get_weather", "arguments": {"city": "Paris"}, "id": "call_p"},
    {"name": "get_weather", "arguments": {"city": "Rome"}, "id": "call_r"},
]


def native(emulator: Emulator, **kwargs):
    kwargs.setdefault("model", "qwen-plus")
    kwargs.setdefault("messages", USER)
    return dashscope.Generation.call(
        api_key="sk-test", base_address=emulator.native_base, result_format="message", **kwargs
    )


def test_chat_stream_sends_id_and_name_once_then_empty_ids(client, emulator) -> None:
    emulator.queue(Reply(tool_calls=TWO, tool_chunks=3, interleave=True))
    chunks = list(
        client.chat.completions.create(model="qwen-plus", messages=USER, tools=TOOLS, stream=True)
    )
    fragments = [
        c for chunk in chunks if chunk.choices for c in chunk.choices[0].delta.tool_calls or []
    ]
    assert [(f.index, f.id) for f in fragments] == [
        (0, "call_p"), (1, "call_r"), (0, ""), (1, ""), (0, ""), (1, ""),
    ]  # fmt: skip
    assert [f.function.name for f in fragments[:2]] == ["get_weather"] * 2
    assert all(f.function.name is None for f in fragments[2:])
    joined = ["".join(f.function.arguments for f in fragments if f.index == i) for i in (0, 1)]
    assert [json.loads(a) for a in joined] == [{"city": "Paris"}, {"city": "Rome"}]
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "tool_calls"


def test_chat_non_stream_message_holds_the_calls(client, emulator) -> None:
    emulator.queue(Reply(tool_calls=TWO))
    reply = client.chat.completions.create(model="qwen-plus", messages=USER, tools=TOOLS)
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert [(c.id, c.function.name, c.function.arguments) for c in choice.message.tool_calls] == [
        ("call_p", "get_weather", '{"city": "Paris"}'),
        ("call_r", "get_weather", '{"city": "Rome"}'),
    ]


def test_native_stream_and_non_stream(emulator) -> None:
    emulator.queue(Reply(tool_calls=TWO))
    frames = list(native(emulator, stream=True, incremental_output=True, tools=TOOLS))
    fragments = [c for f in frames for c in (f.output.choices[0].message.get("tool_calls") or [])]
    assert [f["id"] for f in fragments] == ["call_p", "", "", "call_r", "", ""]
    assert frames[-1].output.choices[0].finish_reason == "tool_calls"
    emulator.queue(Reply(tool_calls=TWO))
    whole = native(emulator, tools=TOOLS)
    assert whole.output.choices[0].finish_reason == "tool_calls"
    assert [c["id"] for c in whole.output.choices[0].message.tool_calls] == ["call_p", "call_r"]


def test_responses_stream_has_function_call_items_with_argument_deltas(client, emulator) -> None:
    emulator.queue(Reply(tool_calls=TWO, tool_chunks=2))
    kinds, items = [], []
    for event in client.responses.create(model="qwen-plus", input="hi", tools=FLAT, stream=True):
        kinds.append(event.type)
        if event.type == "response.output_item.done":
            items.append(event.item)
    per_call = [
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
    ]
    assert kinds == [
        "response.created",
        "response.in_progress",
        *per_call,
        *per_call,
        "response.completed",
    ]
    assert [(i.type, i.call_id, i.name, i.arguments) for i in items] == [
        ("function_call", "call_p", "get_weather", '{"city": "Paris"}'),
        ("function_call", "call_r", "get_weather", '{"city": "Rome"}'),
    ]


def test_the_round_after_the_results_echoes_them_and_records_them(client, emulator) -> None:
    emulator.queue(Reply(tool_calls=TWO[:1]))
    first = client.chat.completions.create(model="qwen-plus", messages=USER, tools=TOOLS)
    asked = first.choices[0].message
    messages = [
        *USER,
        asked.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": "call_p", "content": '{"temp": 21}'},
    ]
    second = client.chat.completions.create(model="qwen-plus", messages=messages, tools=TOOLS)
    assert second.choices[0].message.content == 'Echo: {"temp": 21}'
    assert second.choices[0].finish_reason == "stop"
    assert emulator.last.tool_results == [{"call_id": "call_p", "output": '{"temp": 21}'}]
    assert emulator.last.tools == ["get_weather"]


def test_responses_previous_response_id_then_the_output(client, emulator) -> None:
    emulator.queue(Reply(tool_calls=TWO[:1]))
    first = client.responses.create(model="qwen-plus", input="hi", tools=FLAT)
    output = {"type": "function_call_output", "call_id": "call_p", "output": "sunny"}
    second = client.responses.create(
        model="qwen-plus", input=[output], previous_response_id=first.id, tools=FLAT
    )
    assert second.output_text == "Echo: sunny"
    assert emulator.last.tool_results == [{"call_id": "call_p", "output": "sunny"}]


def test_chat_refuses_a_tool_message_without_a_call(client) -> None:
    orphan = [*USER, {"role": "tool", "tool_call_id": "call_x", "content": "1"}]
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="qwen-plus", messages=orphan)
    assert caught.value.status_code == 400
    assert 'messages with role "tool" must be a response to a preceeding message' in str(
        caught.value
    )


def test_native_refuses_a_call_without_its_result(emulator) -> None:
    asked = {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
        ],
    }
    reply = native(emulator, messages=[*USER, asked, *USER])
    assert reply.status_code == 400 and reply.code == "InvalidParameter"
    assert "did not have response messages" in reply.message


def test_responses_refuses_an_output_without_its_call(client) -> None:
    output = {"type": "function_call_output", "call_id": "call_x", "output": "1"}
    with pytest.raises(openai.BadRequestError, match="call_x"):
        client.responses.create(
            model="qwen-plus", input=[{"role": "user", "content": "hi"}, output]
        )


def test_native_search_info_in_the_first_frame_with_enable_source(emulator) -> None:
    pages = [("Weather", "https://weather.example/paris")]
    emulator.queue(Reply(text="Sunny [ref_1].", sources=pages))
    options = {"enable_source": True, "search_strategy": "max"}
    frames = list(
        native(
            emulator,
            stream=True,
            incremental_output=True,
            enable_search=True,
            search_options=options,
        )
    )
    infos = [f.output.get("search_info") for f in frames]
    assert infos[0] == {
        "search_results": [
            {
                "index": 1,
                "title": "Weather",
                "url": "https://weather.example/paris",
                "site_name": "weather.example",
                "icon": "",
            }
        ]
    }
    assert not any(infos[1:])
    assert frames[-1].usage["plugins"] == {"search": {"count": 1, "strategy": "max"}}
    emulator.queue(Reply(text="Sunny.", sources=pages))
    quiet = native(emulator, enable_search=True)  # no enable_source: no sources listed
    assert not quiet.output.get("search_info")


def test_responses_web_search_call_and_citations(client, emulator) -> None:
    pages = [("Weather", "https://weather.example/paris"), ("Meteo", "https://meteo.example")]
    emulator.queue(Reply(text="Sunny [ref_1], warm [ref_2].", sources=pages))
    events = list(
        client.responses.create(
            model="qwen-plus", input="Paris?", tools=[{"type": "web_search"}], stream=True
        )
    )
    kinds = [e.type for e in events]
    assert kinds.index("response.web_search_call.completed") < kinds.index(
        "response.output_text.delta"
    )
    notes = [e.annotation for e in events if e.type == "response.output_text.annotation.added"]
    text = "Sunny [ref_1], warm [ref_2]."
    assert [text[n.start_index : n.end_index] for n in notes] == ["[ref_1]", "[ref_2]"]
    assert [n.title for n in notes] == ["Weather", "Meteo"]
    final = events[-1].response
    search = final.output[0]
    assert search.type == "web_search_call" and search.action.query == "Paris?"
    assert [s.url for s in search.action.sources] == [p[1] for p in pages]


@pytest.mark.parametrize("offered", ["no tools", "tool_choice none"])
def test_no_calls_without_tools_or_under_tool_choice_none(client, emulator, offered) -> None:
    """A model calls only functions it was offered: the scripted calls are not made, and the
    round is answered in text."""
    emulator.queue(Reply(tool_calls=TWO))
    extra = {} if offered == "no tools" else {"tools": TOOLS, "tool_choice": "none"}
    reply = client.chat.completions.create(model="qwen-plus", messages=USER, **extra)
    assert reply.choices[0].finish_reason == "stop" and not reply.choices[0].message.tool_calls
    assert reply.choices[0].message.content == "Echo: Weather in Paris and Rome?"
