"""Chat Completions and the shared machinery of the emulator, through the real openai SDK."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import threading
from urllib.parse import urlsplit

import openai
import pytest

from qwen_magic.testing import Emulator, RecordedRequest, Reply

USER = [{"role": "user", "content": "hello there"}]


def stream_chat(client: openai.OpenAI, **kwargs: object) -> list:
    kwargs.setdefault("model", "qwen-plus")
    kwargs.setdefault("messages", USER)
    return list(client.chat.completions.create(stream=True, **kwargs))


def contents(chunks: list) -> list[str | None]:
    return [c.choices[0].delta.content for c in chunks if c.choices]


def reasonings(chunks: list) -> list[str]:
    found = (getattr(c.choices[0].delta, "reasoning_content", None) for c in chunks if c.choices)
    return [r for r in found if r]


# -- lifecycle and recording ------------------------------------------------------------------


def test_import_is_stdlib_only() -> None:
    code = (
        "import sys, qwen_magic.testing; print('openai' in sys.modules, 'dashscope' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_context_manager_binds_loopback_and_stops() -> None:
    with Emulator() as emu:
        parts = urlsplit(emu.url)
        assert parts.hostname == "127.0.0.1" and parts.port
        assert emu.compat_base == emu.url + "/compatible-mode/v1"
        assert emu.native_base == emu.url + "/api/v1"
        assert emu.responses_legacy_base == emu.url + "/api/v2/apps/protocols/compatible-mode/v1"
        port = parts.port
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_queue_is_fifo_then_default_reply(emulator: Emulator, client: openai.OpenAI) -> None:
    emulator.queue(Reply(text="first"), Reply(text="second"))
    emulator.default_reply = Reply(text="fallback")
    texts = [
        client.chat.completions.create(model="qwen-plus", messages=USER).choices[0].message.content
        for _ in range(3)
    ]
    assert texts == ["first", "second", "fallback"]
    assert [r.reply.text for r in emulator.requests] == ["first", "second", "fallback"]


def test_records_every_request_and_last_is_the_latest_generation(
    emulator: Emulator, client: openai.OpenAI
) -> None:
    client.chat.completions.create(
        model="qwen-plus", messages=USER, extra_body={"top_k": 5}, extra_headers={"X-Trace": "t1"}
    )
    client.models.list()
    first, models = emulator.requests
    assert isinstance(first, RecordedRequest)
    assert emulator.last is first
    assert (first.method, first.path, first.protocol, first.stream) == (
        "POST",
        "/compatible-mode/v1/chat/completions",
        "chat",
        False,
    )
    assert first.body["top_k"] == 5 and first.messages == USER
    assert first.headers["x-trace"] == "t1" and first.headers["authorization"] == "Bearer sk-test"
    assert first.finished.is_set() and first.status == 200
    assert models.protocol == "models" and models.reply is None


def test_clear_resets_queue_records_default_and_reasoning_event(emulator: Emulator) -> None:
    emulator.queue(Reply(text="x"))
    emulator.default_reply = Reply(text="y")
    emulator.reasoning_event = "reasoning_summary_text"
    emulator.requests.append(RecordedRequest("GET", "/"))
    emulator.clear()
    assert emulator.requests == [] and emulator.pending == 0
    assert emulator.default_reply == Reply()
    assert emulator.reasoning_event == "reasoning_text"
    with pytest.raises(ValueError):
        emulator.reasoning_event = "thoughts"


def test_request_id_is_sent_as_x_request_id_header(
    emulator: Emulator, client: openai.OpenAI
) -> None:
    emulator.queue(Reply(request_id="req-123"))
    completion = client.chat.completions.with_raw_response.create(model="qwen-plus", messages=USER)
    assert completion.headers["x-request-id"] == "req-123"
    fresh = client.chat.completions.with_raw_response.create(model="qwen-plus", messages=USER)
    assert len(fresh.headers["x-request-id"]) == 36


def test_api_key_must_match_when_configured(emulator: Emulator) -> None:
    emulator.api_key = "sk-right"
    wrong = openai.OpenAI(base_url=emulator.compat_base, api_key="sk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as caught:
        wrong.chat.completions.create(model="qwen-plus", messages=USER)
    assert caught.value.code == "invalid_api_key"
    assert caught.value.body["message"].startswith("Incorrect API key provided.")
    right = openai.OpenAI(base_url=emulator.compat_base, api_key="sk-right", max_retries=0)
    assert right.chat.completions.create(model="qwen-plus", messages=USER).choices


# -- chat completions: streaming --------------------------------------------------------------


def test_stream_sends_role_chunk_words_finish_and_usage(client: openai.OpenAI) -> None:
    chunks = stream_chat(client, stream_options={"include_usage": True})
    assert contents(chunks) == ["", "Echo: ", "hello ", "there", ""]
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-2:] == [None, "stop"]
    assert chunks[-1].choices == []
    usage = chunks[-1].usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (6, 3, 9)
    assert usage.prompt_tokens_details.cached_tokens == 0
    assert len({(c.id, c.created, c.model) for c in chunks}) == 1
    assert chunks[0].id.startswith("chatcmpl-") and chunks[0].model == "qwen-plus"
    assert all(c.usage is None for c in chunks[:-1])


def test_stream_without_include_usage_has_no_usage_chunk(client: openai.OpenAI) -> None:
    chunks = stream_chat(client)
    assert all(c.choices and c.usage is None for c in chunks)


def test_thinking_model_streams_reasoning_before_answer(client: openai.OpenAI) -> None:
    chunks = stream_chat(client, model="qwen3.5-plus", stream_options={"include_usage": True})
    first = chunks[0].choices[0].delta
    assert first.content is None and first.reasoning_content == ""
    assert "".join(reasonings(chunks)) == "The user asked: hello there. I will answer briefly."
    kinds = [
        "reasoning" if getattr(c.choices[0].delta, "reasoning_content", None) else "answer"
        for c in chunks[1:-2]
    ]
    assert kinds == sorted(kinds, key=lambda k: k == "answer") and kinds[-1] == "answer"
    usage = chunks[-1].usage
    assert usage.completion_tokens_details.reasoning_tokens == len(reasonings(chunks)) == 9
    assert usage.completion_tokens == 9 + 3


def test_enable_thinking_switches_a_hybrid_model(client: openai.OpenAI, emulator: Emulator) -> None:
    emulator.queue(Reply(text="ok", reasoning="Because."))
    thinking = stream_chat(client, model="qwen-plus", extra_body={"enable_thinking": True})
    assert reasonings(thinking) == ["Because."]
    quiet = stream_chat(client, model="qwen3.5-plus", extra_body={"enable_thinking": False})
    assert reasonings(quiet) == []
    assert emulator.last.body["enable_thinking"] is False


def test_chunks_and_reasoning_chunks_split_by_characters(
    client: openai.OpenAI, emulator: Emulator
) -> None:
    emulator.queue(Reply(text="abcdefghij", chunks=3, reasoning="xyz", reasoning_chunks=2))
    chunks = stream_chat(client, model="qwq-plus")
    assert reasonings(chunks) == ["xy", "z"]
    assert [t for t in contents(chunks) if t] == ["abcd", "efg", "hij"]


def test_empty_reasoning_means_none_even_when_thinking(
    client: openai.OpenAI, emulator: Emulator
) -> None:
    emulator.queue(Reply(text="short", reasoning=""))
    assert reasonings(stream_chat(client, model="qwen3.5-plus")) == []


def test_max_tokens_truncates_answer_with_length(client: openai.OpenAI) -> None:
    chunks = stream_chat(client, max_tokens=2)
    assert "".join(t or "" for t in contents(chunks)) == "Echo: hello "
    assert chunks[-1].choices[0].finish_reason == "length"


def test_finish_reason_and_token_counts_come_from_the_reply(
    client: openai.OpenAI, emulator: Emulator
) -> None:
    emulator.queue(Reply(text="a b", finish_reason="length", prompt_tokens=50, cached_tokens=20))
    chunks = stream_chat(client, stream_options={"include_usage": True})
    assert chunks[-2].choices[0].finish_reason == "length"
    usage = chunks[-1].usage
    assert (usage.prompt_tokens, usage.total_tokens) == (50, 52)
    assert usage.prompt_tokens_details.cached_tokens == 20


def test_partial_assistant_message_is_continued(client: openai.OpenAI) -> None:
    messages = [*USER, {"role": "assistant", "content": "Once upon", "partial": True}]
    completion = client.chat.completions.create(model="qwen-plus", messages=messages)
    assert completion.choices[0].message.content == " (continued)"


def test_multimodal_content_list_is_echoed_by_its_text_parts(client: openai.OpenAI) -> None:
    content = [
        {"type": "image_url", "image_url": {"url": "https://example.com/dog.png"}},
        {"type": "text", "text": "what is this"},
    ]
    completion = client.chat.completions.create(
        model="qwen3-vl-plus", messages=[{"role": "user", "content": content}]
    )
    assert completion.choices[0].message.content == "Echo: what is this"


# -- chat completions: non-stream and validation ----------------------------------------------


def test_non_stream_completion_with_reasoning_and_usage(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="qwen-plus", messages=USER, extra_body={"enable_thinking": True}
    )
    message = completion.choices[0].message
    assert message.content == "Echo: hello there"
    assert message.reasoning_content.startswith("The user asked: hello there.")
    assert completion.object == "chat.completion" and completion.choices[0].finish_reason == "stop"
    assert completion.usage.completion_tokens_details.reasoning_tokens == 9
    assert completion.usage.completion_tokens == 12


def test_non_stream_thinking_is_rejected_for_stream_only_thinking_models(
    client: openai.OpenAI,
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="qwen3-max", messages=USER, extra_body={"enable_thinking": True}
        )
    assert caught.value.body["message"] == (
        "parameter.enable_thinking must be set to false for non-streaming calls"
    )
    assert caught.value.code == "invalid_parameter_error"


def test_thinking_only_model_refuses_enable_thinking_false(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="restricted to True"):
        stream_chat(client, model="qwq-plus", extra_body={"enable_thinking": False})


def test_json_mode_requires_the_word_json(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="qwen-plus", messages=USER, response_format={"type": "json_object"}
        )
    assert "must contain the word 'json'" in caught.value.body["message"]
    ok = client.chat.completions.create(
        model="qwen-plus",
        messages=[{"role": "user", "content": "Reply in JSON: hi"}],
        response_format={"type": "json_object"},
    )
    assert json.loads(ok.choices[0].message.content) == {"echo": "Reply in JSON: hi"}


def test_json_mode_with_thinking_is_rejected(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="Json mode response is not supported"):
        stream_chat(
            client,
            model="qwen3.5-plus",
            messages=[{"role": "user", "content": "json please"}],
            response_format={"type": "json_object"},
        )


def test_unknown_model_is_404(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        stream_chat(client, model="qwen-imaginary")
    assert caught.value.code == "model_not_found"
    assert "qwen-imaginary" in caught.value.body["message"]


def test_snapshot_names_resolve_to_their_family(client: openai.OpenAI) -> None:
    assert reasonings(stream_chat(client, model="qwen3.5-plus-2026-02-15"))


def test_oversized_data_uri_is_rejected(client: openai.OpenAI) -> None:
    big = "data:image/png;base64," + "A" * 10485760
    content = [{"type": "image_url", "image_url": {"url": big}}, {"type": "text", "text": "hi"}]
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="qwen3-vl-plus", messages=[{"role": "user", "content": content}]
        )
    assert (
        caught.value.body["message"] == "Exceeded limit on max bytes per data-uri item : 10485760"
    )


def test_models_list_is_the_catalog(client: openai.OpenAI) -> None:
    ids = [m.id for m in client.models.list()]
    assert {"qwen3.5-plus", "qwen-plus", "qwq-plus", "deepseek-r1", "qwen3-omni-flash"} <= set(ids)
    assert client.models.retrieve("qwen-max").owned_by == "system"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("nope")


# -- faults -----------------------------------------------------------------------------------

HTTP_FAULTS = [
    ("http_400", openai.BadRequestError, "invalid_parameter_error"),
    ("data_inspection", openai.BadRequestError, "data_inspection_failed"),
    ("http_401", openai.AuthenticationError, "invalid_api_key"),
    ("http_403", openai.PermissionDeniedError, "access_denied"),
    ("http_404", openai.NotFoundError, "model_not_found"),
    ("http_429", openai.RateLimitError, "limit_requests"),
    ("http_500", openai.InternalServerError, "internal_error"),
    ("http_503", openai.InternalServerError, "model_serving_error"),
]


@pytest.mark.parametrize(("fault", "error", "code"), HTTP_FAULTS)
def test_http_faults_without_a_stream_raise_the_sdk_status_errors(
    client: openai.OpenAI, emulator: Emulator, fault: str, error: type, code: str
) -> None:
    """The streamed case, for all three APIs, is tests/test_errors.py (through the magic)."""
    emulator.queue(Reply(fault=fault, request_id="rid-1"))
    with pytest.raises(error) as caught:
        client.chat.completions.create(model="qwen-plus", messages=USER, stream=False)
    assert caught.value.code == code
    assert caught.value.request_id == "rid-1"
    assert caught.value.response.json()["request_id"] == "rid-1"


def test_429_carries_retry_after_and_is_retried_by_the_sdk(emulator: Emulator) -> None:
    emulator.queue(Reply(fault="http_429", retry_after="0"), Reply(text="after retry"))
    retrying = openai.OpenAI(base_url=emulator.compat_base, api_key="sk-test", max_retries=1)
    response = retrying.chat.completions.with_raw_response.create(model="qwen-plus", messages=USER)
    assert response.parse().choices[0].message.content == "after retry"
    assert len(emulator.requests) == 2
    emulator.queue(Reply(fault="http_429", retry_after="7"))
    client = openai.OpenAI(base_url=emulator.compat_base, api_key="sk-test", max_retries=0)
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="qwen-plus", messages=USER)
    assert caught.value.response.headers["retry-after"] == "7"


@pytest.mark.parametrize("fault", ["http_400_sse", "http_400_mislabelled"])
def test_sse_framed_400_leaves_the_raw_body(
    client: openai.OpenAI, emulator: Emulator, fault: str
) -> None:
    emulator.queue(Reply(fault=fault))
    with pytest.raises(openai.BadRequestError) as caught:
        stream_chat(client)
    assert caught.value.code is None
    assert caught.value.body.startswith('data: {"error":{"code":"invalid_parameter_error"')
    expected = "application/json" if fault.endswith("mislabelled") else "text/event-stream"
    assert caught.value.response.headers["content-type"].startswith(expected)


def test_error_frame_mid_stream_raises_api_error_after_content(
    client: openai.OpenAI, emulator: Emulator
) -> None:
    emulator.queue(Reply(text="one two three four", fault="error_frame", fault_after=3))
    received = []
    with pytest.raises(openai.APIError) as caught:
        for chunk in client.chat.completions.create(model="qwen-plus", messages=USER, stream=True):
            received.append(chunk.choices[0].delta.content)
    assert received == ["", "one ", "two "]
    assert not isinstance(caught.value, openai.APIStatusError)
    assert caught.value.code == "data_inspection_failed"
    assert caught.value.message == "Output data may contain inappropriate content."
    assert emulator.last.finished.wait(5)  # (counted just after it is sent)
    assert emulator.last.frames_sent == 4


def test_cut_stream_raises_connection_error_without_done(
    client: openai.OpenAI, emulator: Emulator
) -> None:
    emulator.queue(Reply(text="one two three four", fault="cut"))
    received = []
    with pytest.raises(openai.APIConnectionError):
        for chunk in client.chat.completions.create(model="qwen-plus", messages=USER, stream=True):
            received.append(chunk.choices[0].delta.content)
    assert received == ["", "one ", "two "]  # half of the 7 frames
    assert emulator.last.finished.wait(5)
    assert emulator.last.frames_sent == 3


def test_cut_non_stream_raises_connection_error(client: openai.OpenAI, emulator: Emulator) -> None:
    emulator.queue(Reply(fault="cut"))
    with pytest.raises(openai.APIConnectionError):
        client.chat.completions.create(model="qwen-plus", messages=USER)


@pytest.mark.parametrize("stream", [True, False])
def test_malformed_frame_raises_json_decode_error(
    client: openai.OpenAI, emulator: Emulator, stream: bool
) -> None:
    emulator.queue(Reply(fault="malformed"))
    with pytest.raises(json.JSONDecodeError):
        result = client.chat.completions.create(model="qwen-plus", messages=USER, stream=stream)
        list(result) if stream else None


def test_empty_answer_is_a_well_formed_stream(client: openai.OpenAI, emulator: Emulator) -> None:
    emulator.queue(Reply(fault="empty"))
    chunks = stream_chat(client, stream_options={"include_usage": True})
    assert contents(chunks) == ["", ""]
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].usage.completion_tokens == 0


def test_split_utf8_stream_still_decodes(client: openai.OpenAI, emulator: Emulator) -> None:
    emulator.queue(Reply(text="héllo 你好 🙂", fault="split_utf8"))
    assert "".join(t or "" for t in contents(stream_chat(client))) == "héllo 你好 🙂"


def test_split_utf8_cuts_characters_across_http_chunks(emulator: Emulator) -> None:
    emulator.queue(Reply(text="你好 世界", fault="split_utf8"))
    body = {"model": "qwen-plus", "messages": USER, "stream": True}
    pieces = raw_chunks(emulator, "/compatible-mode/v1/chat/completions", body)
    assert b"".join(pieces).decode().endswith("data: [DONE]\n\n")
    undecodable = 0
    for piece in pieces:
        try:
            piece.decode("utf-8")
        except UnicodeDecodeError:
            undecodable += 1
    assert undecodable >= 4


def test_stall_makes_the_client_time_out(emulator: Emulator) -> None:
    emulator.queue(Reply(fault="stall", delay=2.0))
    client = openai.OpenAI(
        base_url=emulator.compat_base, api_key="sk-test", max_retries=0, timeout=0.3
    )
    with pytest.raises(openai.APITimeoutError):
        stream_chat(client)
    record = emulator.last  # the stall noticed the client hanging up, before any byte
    assert record.finished.wait(5) and record.disconnected and record.status is None


def test_delay_is_slept_before_each_frame(client: openai.OpenAI, emulator: Emulator) -> None:
    emulator.queue(Reply(text="a b", delay=0.05))
    stream = client.chat.completions.create(model="qwen-plus", messages=USER, stream=True)
    next(iter(stream))
    assert not emulator.last.finished.is_set()
    list(stream)
    assert emulator.last.finished.wait(2)


# -- the wire ---------------------------------------------------------------------------------


def open_stream(emulator: Emulator, path: str, body: dict) -> tuple:
    conn = http.client.HTTPConnection("127.0.0.1", urlsplit(emulator.url).port, timeout=5)
    headers = {"Authorization": "Bearer sk-test", "Content-Type": "application/json"}
    conn.request("POST", path, json.dumps(body), headers)
    return conn, conn.getresponse()


def raw_chunks(emulator: Emulator, path: str, body: dict) -> list[bytes]:
    """The HTTP chunks exactly as the server wrote them (chunked transfer encoding)."""
    payload = json.dumps(body).encode()
    request = (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk-test\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", urlsplit(emulator.url).port), timeout=5) as sock:
        sock.sendall(request + payload)
        reader = sock.makefile("rb")
        while reader.readline() not in (b"\r\n", b""):
            pass
        pieces = []
        while size := int(reader.readline().strip(), 16):
            pieces.append(reader.read(size))
            reader.readline()
        return pieces


def test_raw_chat_stream_framing(emulator: Emulator) -> None:
    body = {"model": "qwen-plus", "messages": USER, "stream": True}
    conn, response = open_stream(emulator, "/compatible-mode/v1/chat/completions", body)
    text = response.read().decode()
    conn.close()
    assert response.status == 200
    assert response.getheader("Content-Type").startswith("text/event-stream")
    assert response.getheader("Connection") is None  # HTTP/1.1 keep-alive: reused
    events = text.split("\n\n")
    assert events[-2:] == ["data: [DONE]", ""]
    assert all(e.startswith("data: {") for e in events[:-2])
    assert '"finish_reason":null' in events[1] and '"usage":null' in events[1]


def test_client_disconnect_is_recorded(emulator: Emulator) -> None:
    emulator.queue(Reply(text=" ".join(["word"] * 40), delay=0.02))
    body = {"model": "qwen-plus", "messages": USER, "stream": True}
    conn, response = open_stream(emulator, "/compatible-mode/v1/chat/completions", body)
    frames = 0
    while frames < 2:
        frames += response.readline().startswith(b"data:")
    record = emulator.last
    response.close()
    conn.close()
    assert record.finished.wait(5)
    assert record.disconnected
    assert 2 <= record.frames_sent < 43


def test_concurrent_streams_are_served_in_parallel(emulator: Emulator) -> None:
    emulator.default_reply = Reply(text="a b c d", delay=0.05)
    client = openai.OpenAI(base_url=emulator.compat_base, api_key="sk-test", max_retries=0)
    results: list[str] = []

    def run(n: int) -> None:
        results.append("".join(t or "" for t in contents(stream_chat(client))))

    threads = [threading.Thread(target=run, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert results == ["a b c d"] * 4
