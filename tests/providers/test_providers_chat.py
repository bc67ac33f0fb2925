"""The chat provider: the real openai SDK over HTTP against the emulator, faults included."""

from __future__ import annotations

import threading

import pytest

from qwen_magic.events import Finished, ReasoningDelta, Started, TextDelta, Usage
from qwen_magic.providers.chat import ChatProvider
from qwen_magic.render import NullRenderer
from qwen_magic.request import Request
from qwen_magic.runner import execute
from qwen_magic.testing import Reply, free_port, request_for, run_reply


def make_request(emulator, **overrides) -> Request:
    return request_for(emulator, "chat", **overrides)


def test_stream_becomes_started_reasoning_text_usage_finished(emulator) -> None:
    emulator.queue(Reply(text="A B C", reasoning="x y", chunks=3, reasoning_chunks=2))
    events = list(ChatProvider(make_request(emulator, thinking=True)).events())
    assert isinstance(events[0], Started)
    assert [e.text for e in events if isinstance(e, ReasoningDelta)] == ["x ", "y"]
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "A B C"
    usage = [e for e in events if isinstance(e, Usage)][-1]
    assert (usage.output_tokens, usage.reasoning_tokens, usage.cached_tokens) == (5, 2, 0)
    assert isinstance(events[-1], Finished) and events[-1].finish_reason == "stop"


def test_non_stream_gives_the_same_events(emulator) -> None:
    emulator.queue(Reply(text="A B C", reasoning="x y"))
    events = list(ChatProvider(make_request(emulator, thinking=True, stream=False)).events())
    assert [type(e) for e in events] == [Started, ReasoningDelta, TextDelta, Usage, Finished]
    assert events[2].text == "A B C"


def run(emulator, reply: Reply, **overrides):
    return run_reply(emulator, reply, "chat", **overrides)


def test_mid_stream_error_frame_keeps_the_partial_answer(emulator) -> None:
    result = run(emulator, Reply(text="one two three four", reasoning="", fault="error_frame"))
    assert result.text and "one two three four".startswith(result.text)  # partial, kept
    assert result.text != "one two three four"
    assert result.error.kind == "stream" and result.error.code == "data_inspection_failed"


def test_connection_cut_mid_stream_keeps_the_partial_answer(emulator) -> None:
    result = run(emulator, Reply(text="one two three four", reasoning="", fault="cut"))
    assert result.text and "one two three four".startswith(result.text)
    assert result.text != "one two three four"
    assert result.error is not None and result.error.kind in ("stream", "connection")


def test_retries_before_the_first_token(emulator) -> None:
    emulator.queue(Reply(fault="http_429", retry_after="0"))
    result = run(emulator, Reply(text="fine", reasoning=""), max_retries=1)
    assert result.text == "fine" and result.error is None
    assert len([r for r in emulator.requests if r.protocol == "chat"]) == 2


def test_no_first_byte_within_the_timeout(emulator) -> None:
    result = run(emulator, Reply(fault="stall", delay=3.0), timeout=0.5)
    assert result.error.kind == "timeout" and "timeout" in result.error.hint


def test_connection_refused(emulator) -> None:
    port = free_port()
    result = run(emulator, Reply(), base_url=f"http://127.0.0.1:{port}/v1")
    assert result.error.kind == "connection" and f"127.0.0.1:{port}" in result.error.hint


def test_abort_closes_the_connection(emulator) -> None:
    emulator.queue(Reply(text="w " * 200, reasoning="", chunks=200, delay=0.01))
    provider = ChatProvider(make_request(emulator))
    events = provider.events()
    got = [next(events) for _ in range(5)]
    assert isinstance(got[0], Started)
    threading.Timer(0.05, provider.abort).start()
    rest = list(events)  # ends soon: the stream was closed under it
    record = emulator.last
    assert record.finished.wait(5) and record.disconnected
    assert record.frames_sent < 200
    assert len(rest) < 200


def test_think_tags_from_other_servers_become_reasoning(emulator) -> None:
    emulator.queue(Reply(text="<think>I ponder.</think>\n\nThe answer.", reasoning="", chunks=7))
    result = execute(make_request(emulator, model="qwen-plus"), NullRenderer(), interval=0.02)
    assert (result.reasoning, result.text) == ("I ponder.", "The answer.")


def test_one_client_per_endpoint_and_key_is_reused() -> None:
    from qwen_magic.providers.openai_common import openai_client

    a = openai_client("http://127.0.0.1:1/v1", "sk-one-1234567", 10.0, 0)
    assert openai_client("http://127.0.0.1:1/v1", "sk-one-1234567", 10.0, 0) is a
    assert openai_client("http://127.0.0.1:1/v1", "sk-two-1234567", 10.0, 0) is not a
    assert openai_client("http://127.0.0.1:2/v1", "sk-one-1234567", 10.0, 0) is not a


@pytest.mark.parametrize("api", ["chat", "responses", "dashscope"])
def test_a_bug_in_a_provider_keeps_its_traceback(emulator, api, monkeypatch) -> None:
    from qwen_magic.providers import make_provider

    provider = type(make_provider(request_for(emulator, api)))

    def broken(self):
        raise TypeError("a bug in building the arguments")

    monkeypatch.setattr(provider, "_arguments", broken)
    result = run_reply(emulator, Reply(text="x"), api)
    assert result.error.kind == "internal"  # not "the stream broke off, run again"
    assert "TypeError" in result.error.context["traceback"]


def test_hints_name_the_key_source_and_put_the_error_code_first(emulator) -> None:
    result = run_reply(emulator, Reply(fault="http_401"), key_source="$MY_QWEN_KEY")
    assert "the key from $MY_QWEN_KEY was refused" in result.error.hint
    flagged = run_reply(emulator, Reply(text="a b c d", reasoning="", fault="error_frame"))
    assert flagged.error.kind == "stream" and "rephrase" in flagged.error.hint
    local = run_reply(emulator, Reply(fault="http_401"), region=None)
    assert "region" not in local.error.hint and emulator.compat_base in local.error.hint
