"""The DashScope provider: the real dashscope SDK over HTTP against the emulator."""

from __future__ import annotations

import threading
import time

import pytest

from qwen_magic.events import Failed, Finished, ReasoningDelta, Started, TextDelta, Usage
from qwen_magic.providers import make_provider
from qwen_magic.providers.dashscope import DashScopeProvider, uses_multimodal_endpoint
from qwen_magic.providers.native_stream import CumulativeText
from qwen_magic.render import NullRenderer
from qwen_magic.request import Request
from qwen_magic.testing import Reply, free_port, request_for, run_reply

TEXT_PATH = "/api/v1/services/aigc/text-generation/generation"
MULTIMODAL_PATH = "/api/v1/services/aigc/multimodal-generation/generation"


def make_request(emulator, **overrides) -> Request:
    return request_for(emulator, "dashscope", **overrides)


def run(emulator, reply: Reply, **overrides):
    return run_reply(emulator, reply, "dashscope", **overrides)


def texts(events, kind) -> str:
    return "".join(e.text for e in events if isinstance(e, kind))


def test_make_provider_picks_the_dashscope_sdk(emulator) -> None:
    assert isinstance(make_provider(make_request(emulator)), DashScopeProvider)


def test_multimodal_model_streams_reasoning_text_usage_from_multimodal_generation(emulator):
    emulator.queue(Reply(text="A B C", reasoning="x y", chunks=3, reasoning_chunks=2))
    events = list(DashScopeProvider(make_request(emulator, thinking=True)).events())
    assert isinstance(events[0], Started) and events[0].request_id
    assert [e.text for e in events if isinstance(e, ReasoningDelta)] == ["x ", "y"]
    assert texts(events, TextDelta) == "A B C"
    usage = [e for e in events if isinstance(e, Usage)][-1]  # cumulative: the last is the total
    assert (usage.output_tokens, usage.reasoning_tokens, usage.cached_tokens) == (5, 2, 0)
    assert isinstance(events[-1], Finished) and events[-1].finish_reason == "stop"
    record = emulator.last
    assert (record.protocol, record.path) == ("native-multimodal", MULTIMODAL_PATH)
    assert record.body["input"]["messages"] == [
        {"role": "user", "content": [{"text": "Hello there"}]}
    ]
    assert record.body["parameters"] == {
        "result_format": "message",
        "incremental_output": True,
        "enable_thinking": True,
    }
    assert record.headers["x-dashscope-sse"] == "enable"
    assert record.headers["authorization"] == "Bearer sk-test-dashscope"


def test_text_model_goes_to_text_generation_with_every_option(emulator) -> None:
    request = make_request(
        emulator,
        model="qwen-plus",
        system="Be brief.",
        history=[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}],
        thinking=True,
        thinking_budget=30,
        temperature=0.3,
        top_p=0.5,
        max_tokens=50,
        seed=7,
        stop=["END"],
        timeout=7.5,
    )
    events = list(DashScopeProvider(request).events())
    assert texts(events, TextDelta) == "Echo: Hello there"
    record = emulator.last
    assert record.path == TEXT_PATH
    assert record.body["input"]["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "Hello there"},
    ]
    assert record.body["parameters"] == {
        "result_format": "message",
        "incremental_output": True,
        "temperature": 0.3,
        "top_p": 0.5,
        "seed": 7,
        "stop": ["END"],
        "enable_thinking": True,
        "thinking_budget": 30,
        "max_tokens": 50,
    }


def test_key_and_base_url_are_per_call_never_the_sdk_globals(emulator, monkeypatch) -> None:
    import dashscope

    monkeypatch.setattr(dashscope, "api_key", "sk-from-the-environment")
    monkeypatch.setattr(dashscope, "base_http_api_url", "http://127.0.0.1:9/api/v1")
    events = list(DashScopeProvider(make_request(emulator, api_key="sk-per-call")).events())
    assert isinstance(events[-1], Finished)
    assert emulator.last.api_key == "sk-per-call"


def test_cumulative_chunks_are_not_duplicated(emulator) -> None:
    """Without incremental_output, qwen-plus answers with the whole text so far each frame."""
    text = "one two three four five six"
    emulator.queue(Reply(text=text, chunks=6))
    provider = DashScopeProvider(make_request(emulator, model="qwen-plus"), incremental_output=None)
    events = list(provider.events())
    assert "incremental_output" not in emulator.last.body["parameters"]
    deltas = [e.text for e in events if isinstance(e, TextDelta)]
    assert "".join(deltas) == text and len(deltas) == 6
    assert events[-1].finish_reason == "stop"


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["ab", "c", "d"], ["ab", "c", "d"]),  # incremental
        (["ab", "abc", "abcd", "abcd"], ["ab", "c", "d"]),  # cumulative, closing frame repeats
        (["ha", "ha", "ha"], ["ha", "ha", "ha"]),  # incremental repeats are kept
        (["", "ab", "", "abc"], ["ab", "c"]),  # empty frames (finish, usage) say nothing
    ],
)
def test_cumulative_text_gives_only_what_is_new(values, expected) -> None:
    tracker = CumulativeText()
    assert [d for d in (tracker.delta(v) for v in values) if d] == expected


def test_finish_reason_length_when_max_tokens_is_hit(emulator) -> None:
    result = run(emulator, Reply(text="a b c d e"), model="qwen-plus", max_tokens=2)
    assert (result.text, result.finish_reason) == ("a b ", "length")
    assert emulator.last.body["parameters"]["max_tokens"] == 2


def test_null_finish_reason_strings_are_none(emulator) -> None:
    result = run(emulator, Reply(text="one two three four", fault="cut"), model="qwen-plus")
    assert result.text and result.finish_reason is None


def test_non_stream_gives_the_same_events(emulator) -> None:
    emulator.queue(Reply(text="A B C", reasoning="x y"))
    request = make_request(emulator, thinking=True, stream=False)
    events = list(DashScopeProvider(request).events())
    assert [type(e) for e in events] == [Started, ReasoningDelta, TextDelta, Usage, Finished]
    assert (events[1].text, events[2].text) == ("x y", "A B C")
    assert events[3].reasoning_tokens == 2
    record = emulator.last
    assert not record.stream and "x-dashscope-sse" not in record.headers
    assert "incremental_output" not in record.body["parameters"]


@pytest.mark.parametrize(
    ("model", "multimodal"),
    [
        ("qwen3.5-plus", True),
        ("qwen3.5-flash-2026-02-23", True),
        ("qwen3.6-plus", True),
        ("qwen3-vl-plus", True),
        ("qwen-vl-max", True),
        ("qvq-max", True),
        ("qwen3-omni-flash", True),
        ("qwen-plus", False),
        ("qwen3-max", False),
        ("qwq-plus", False),
        ("deepseek-v3.2", False),
    ],
)
def test_one_table_picks_the_endpoint(emulator, model, multimodal) -> None:
    assert uses_multimodal_endpoint(make_request(emulator, model=model)) is multimodal


def test_attached_media_always_uses_the_multimodal_endpoint(emulator) -> None:
    request = make_request(emulator, model="qwen-plus")
    request.media = ["cat.png"]  # the hook for the media issue
    assert uses_multimodal_endpoint(request)


def test_a_prompt_that_names_a_local_file_is_sent_as_text_not_uploaded(
    emulator, tmp_path, monkeypatch
) -> None:
    """The SDK would upload ./notes.txt (to the real cloud) and send an oss:// URL instead."""
    (tmp_path / "notes.txt").write_text("private")
    monkeypatch.chdir(tmp_path)
    result = run(emulator, Reply(text="ok"), prompt="notes.txt")
    assert result.error is None
    assert [r.protocol for r in emulator.requests] == ["native-multimodal"]
    content = emulator.last.body["input"]["messages"][-1]["content"]
    assert content == [{"text": "notes.txt\n"}]
    assert "x-dashscope-ossresourceresolve" not in emulator.last.headers


def test_multimodal_only_model_on_text_generation_is_the_real_url_error(emulator) -> None:
    provider = DashScopeProvider(make_request(emulator))
    provider.multimodal = False  # what a wrong endpoint table would do
    (event,) = list(provider.events())
    assert isinstance(event, Failed)
    assert (event.error.status, event.error.code) == (400, "InvalidParameter")
    assert "url error" in event.error.message


def test_mid_stream_error_frame_keeps_the_partial_answer(emulator) -> None:
    result = run(emulator, Reply(text="one two three four", fault="error_frame"), model="qwen-plus")
    assert result.text and "one two three four".startswith(result.text)
    assert result.text != "one two three four"
    err = result.error
    assert (err.kind, err.status, err.code) == ("stream", None, "DataInspectionFailed")
    assert "rephrase" in err.hint  # the code decides the fix, not the stream


def test_connection_cut_mid_stream_keeps_the_partial_answer(emulator) -> None:
    result = run(emulator, Reply(text="one two three four", fault="cut"), model="qwen-plus")
    assert result.text and result.text != "one two three four"
    assert result.error.kind == "stream"


def test_malformed_frame_is_the_servers_fault_and_keeps_the_partial_answer(emulator) -> None:
    result = run(emulator, Reply(text="one two three four", fault="malformed"), model="qwen-plus")
    assert result.text and result.error.kind == "server"
    assert "not JSON" in result.error.message


def test_no_first_byte_within_the_timeout(emulator) -> None:
    result = run(emulator, Reply(fault="stall", delay=3.0), timeout=0.5)
    assert result.error.kind == "timeout" and "timeout" in result.error.hint


def test_connection_refused(emulator) -> None:
    port = free_port()
    result = run(emulator, Reply(), base_url=f"http://127.0.0.1:{port}/api/v1")
    assert result.error.kind == "connection" and f"127.0.0.1:{port}" in result.error.hint


def test_retries_before_the_first_token_like_the_openai_sdk(emulator) -> None:
    emulator.queue(Reply(fault="http_429", retry_after="0"))
    result = run(emulator, Reply(text="fine"), model="qwen-plus", max_retries=1)
    assert result.text == "fine" and result.error is None
    assert len(emulator.requests) == 2


def test_no_retry_for_a_rejected_request(emulator) -> None:
    result = run(emulator, Reply(fault="http_401"), max_retries=2)
    assert result.error.status == 401 and len(emulator.requests) == 1


def test_abort_closes_the_connection_while_the_server_is_mid_stream(emulator) -> None:
    emulator.queue(Reply(text="w " * 200, chunks=200, delay=1.0))
    provider = DashScopeProvider(make_request(emulator, model="qwen-plus"))
    events = provider.events()
    assert isinstance(next(events), Started) and isinstance(next(events), TextDelta)
    threading.Timer(0.05, provider.abort).start()
    began = time.perf_counter()
    rest = list(events)  # the read blocked for the next frame wakes up at once
    assert time.perf_counter() - began < 0.5  # well before the next frame
    assert not any(isinstance(e, Failed | TextDelta) for e in rest)
    record = emulator.last
    assert record.finished.wait(5) and record.disconnected
    assert record.frames_sent < 10


def test_abort_from_the_runner_keeps_the_partial_answer(emulator) -> None:
    from qwen_magic.runner import Runs

    emulator.queue(Reply(text="w " * 100, chunks=100, delay=0.05))
    runs = Runs([make_request(emulator, model="qwen-plus")], NullRenderer())
    runs.start()
    emulator.wait_for_frames(frames=3)  # the answer is streaming
    runs.stop()
    (result,) = runs.finish()
    assert result.interrupted and result.text.startswith("w ") and result.error is None
    assert emulator.last.finished.wait(5) and emulator.last.disconnected
