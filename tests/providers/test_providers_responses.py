"""The Responses provider: the real openai SDK over HTTP against the emulator, both paths."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest
from IPython.utils.capture import capture_output

from qwen_magic.events import Failed, Finished, ReasoningDelta, Started, TextDelta, Usage
from qwen_magic.providers import make_provider
from qwen_magic.providers.responses import ResponsesProvider, ResponsesStream
from qwen_magic.request import Request
from qwen_magic.testing import Reply, request_for, run_reply

LEGACY = "/api/v2/apps/protocols/compatible-mode/v1/responses"


def make_request(emulator, **overrides) -> Request:
    return request_for(emulator, "responses", **overrides)


def run(emulator, reply: Reply, **overrides):
    return run_reply(emulator, reply, "responses", **overrides)


def test_make_provider_picks_the_responses_api(emulator) -> None:
    assert isinstance(make_provider(make_request(emulator)), ResponsesProvider)


@pytest.mark.parametrize("reasoning_event", ["reasoning_text", "reasoning_summary_text"])
def test_stream_reads_both_reasoning_event_names(emulator, reasoning_event) -> None:
    emulator.reasoning_event = reasoning_event
    emulator.queue(Reply(text="A B C", reasoning="x y", chunks=3, reasoning_chunks=2))
    events = list(ResponsesProvider(make_request(emulator, thinking=True)).events())
    assert isinstance(events[0], Started) and events[0].request_id
    assert [e.text for e in events if isinstance(e, ReasoningDelta)] == ["x ", "y"]
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "A B C"
    (usage,) = [e for e in events if isinstance(e, Usage)]
    assert (usage.output_tokens, usage.reasoning_tokens, usage.cached_tokens) == (5, 2, 0)
    finished = events[-1]
    assert isinstance(finished, Finished) and finished.finish_reason == "stop"
    assert finished.response_id in emulator.responses_store  # usable as previous_response_id


def test_the_request_body(emulator) -> None:
    request = make_request(
        emulator,
        system="Be brief.",
        history=[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}],
        thinking=False,
        temperature=0.3,
        top_p=0.5,
        max_tokens=50,
        seed=7,
        stop=["END"],
    )
    list(ResponsesProvider(request).events())
    record = emulator.last
    assert record.path == "/compatible-mode/v1/responses"
    assert record.headers["authorization"] == "Bearer sk-test-responses"
    assert record.body == {
        "model": "qwen3.5-plus",
        "stream": True,
        "input": [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello!"},
            {"role": "user", "content": "Hello there"},
        ],
        "instructions": "Be brief.",
        "temperature": 0.3,
        "top_p": 0.5,
        "max_output_tokens": 50,
        "enable_thinking": False,
        "seed": 7,
        "stop": ["END"],
    }


def test_history_parts_become_input_items(emulator) -> None:
    history = [
        {"role": "user", "content": [{"type": "text", "text": "Look"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "A cat."}]},
    ]
    list(ResponsesProvider(make_request(emulator, history=history)).events())
    assert emulator.last.body["input"][:2] == [
        {"role": "user", "content": [{"type": "input_text", "text": "Look"}]},
        {"role": "assistant", "content": [{"type": "output_text", "text": "A cat."}]},
    ]


def test_non_stream_gives_the_same_events(emulator) -> None:
    emulator.queue(Reply(text="A B C", reasoning="x y"))
    events = list(ResponsesProvider(make_request(emulator, thinking=True, stream=False)).events())
    assert [type(e) for e in events] == [Started, ReasoningDelta, TextDelta, Usage, Finished]
    assert (events[1].text, events[2].text) == ("x y", "A B C")
    assert events[3].reasoning_tokens == 2
    assert events[4].response_id in emulator.responses_store
    assert "stream" not in emulator.last.body


def test_incomplete_response_finishes_with_length(emulator) -> None:
    result = run(emulator, Reply(text="a b c d e", reasoning=""), thinking=False, max_tokens=2)
    assert (result.text, result.finish_reason) == ("a b ", "length")
    assert emulator.last.body["max_output_tokens"] == 2


def test_non_stream_incomplete_response_finishes_with_length(emulator) -> None:
    result = run(emulator, Reply(text="a b c d e"), thinking=False, max_tokens=2, stream=False)
    assert (result.text, result.finish_reason) == ("a b ", "length")


def test_legacy_path(emulator) -> None:
    request = make_request(emulator, base_url=emulator.responses_legacy_base)
    events = list(ResponsesProvider(request).events())
    assert isinstance(events[-1], Finished)
    assert emulator.last.path == LEGACY


def test_legacy_responses_setting_sends_the_magic_to_the_legacy_path(ip, magics, emulator):
    magics.display = "final"
    magics.legacy_responses = True  # (not %config: it would outlive this test)
    with capture_output():
        ip.run_cell_magic("qwen", "--api responses", "Hi")
    assert emulator.last.path == LEGACY and ip.user_ns["_qwen"].text == "Echo: Hi"
    with capture_output():
        ip.run_cell_magic("qwen", "--api chat", "Hi")
    assert emulator.last.path == "/compatible-mode/v1/chat/completions"


def test_legacy_responses_setting_resolves_the_documented_urls() -> None:
    from qwen_magic.errors import QwenUsageError
    from qwen_magic.options.build import resolve_endpoint

    def url(api: str, region: str, legacy: bool) -> str:
        return resolve_endpoint(api, region, None, None, legacy_responses=legacy).base_url

    legacy = "https://dashscope-intl.aliyuncs.com/api/v2/apps/protocols/compatible-mode/v1"
    assert url("responses", "sg", True) == legacy
    assert url("responses", "sg", False) == "https://dashscope-intl.aliyuncs.com/compatible-mode/v1"
    assert url("chat", "sg", True) == "https://dashscope-intl.aliyuncs.com/compatible-mode/v1"
    assert url("dashscope", "sg", True) == "https://dashscope-intl.aliyuncs.com/api/v1"
    with pytest.raises(QwenUsageError, match="legacy Responses path is not documented"):
        url("responses", "hk", True)


def test_mid_stream_error_event_keeps_the_partial_answer(emulator) -> None:
    result = run(emulator, Reply(text="one two three four", fault="error_frame"), thinking=False)
    assert result.text and "one two three four".startswith(result.text)
    assert result.text != "one two three four"
    err = result.error
    assert (err.kind, err.status, err.code) == ("stream", None, "data_inspection_failed")


def test_connection_cut_mid_stream_keeps_the_partial_answer(emulator) -> None:
    result = run(emulator, Reply(text="one two three four", fault="cut"), thinking=False)
    assert result.text and result.text != "one two three four"
    assert result.error.kind in ("stream", "connection")


def test_abort_closes_the_connection(emulator) -> None:
    emulator.queue(Reply(text="w " * 200, reasoning="", chunks=200, delay=0.01))
    provider = ResponsesProvider(make_request(emulator, thinking=False))
    events = provider.events()
    got = [next(events) for _ in range(5)]
    assert isinstance(got[0], Started)
    threading.Timer(0.05, provider.abort).start()
    rest = list(events)
    record = emulator.last
    assert record.finished.wait(5) and record.disconnected
    assert record.frames_sent < 200 and len(rest) < 200


def event(kind: str, **fields) -> SimpleNamespace:
    return SimpleNamespace(type=kind, **fields)


def test_events_are_dispatched_on_type_and_unknown_ones_are_ignored() -> None:
    response = SimpleNamespace(id="r-1", model="m", status="in_progress")
    done = SimpleNamespace(
        id="r-1",
        status="incomplete",
        incomplete_details=SimpleNamespace(reason="content_filter"),
        usage=None,
    )
    stream = ResponsesStream("req-1")
    events = [
        e
        for item in [
            event("response.created", response=response),
            event("response.web_search_call.searching", item_id="x"),
            event("response.reasoning_summary_text.delta", delta="hm"),
            event("response.output_text.delta", delta="Hi"),
            event("response.incomplete", response=done),
        ]
        for e in stream.feed(item)
    ]
    events += list(stream.finish())
    assert events == [
        Started(request_id="req-1", model="m"),
        ReasoningDelta("hm"),
        TextDelta("Hi"),
        Finished("content_filter", request_id="req-1", response_id="r-1"),
    ]


def test_a_failed_response_without_an_error_event_is_a_stream_error() -> None:
    failed = SimpleNamespace(
        id="r-2", status="failed", error=SimpleNamespace(code="server_error", message="boom")
    )
    stream = ResponsesStream(None)
    (started, failure) = list(stream.feed(event("response.failed", response=failed)))
    assert isinstance(failure, Failed) and stream.failed
    assert (failure.error.kind, failure.error.code, failure.error.message) == (
        "stream",
        "server_error",
        "boom",
    )
