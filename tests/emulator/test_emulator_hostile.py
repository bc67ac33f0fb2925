"""The emulator's hostile-server faults, on the wire, on all three protocols: what a client
under test really receives (read with http.client, byte for byte)."""

from __future__ import annotations

import http.client
import json
import socket
from urllib.parse import urlsplit

import pytest

from qwen_magic.emulator.hostile import HOSTILE_FAULTS, HUGE_BYTES, MARKER, SLOW_PIECES
from qwen_magic.testing import FAULTS, Emulator, Reply

USER = [{"role": "user", "content": "hello there"}]
TEXT = "one two three four"
PROTOCOLS = {
    "chat": (
        "/compatible-mode/v1/chat/completions",
        {"model": "qwen-plus", "messages": USER, "stream_options": {"include_usage": True}},
        {},
    ),
    "responses": ("/compatible-mode/v1/responses", {"model": "qwen-plus", "input": "hi"}, {}),
    "native": (
        "/api/v1/services/aigc/text-generation/generation",
        {"model": "qwen-plus", "input": {"messages": USER},
         "parameters": {"incremental_output": True, "result_format": "message"}},
        {"X-DashScope-SSE": "enable"},
    ),
}  # fmt: skip


def fetch(emulator: Emulator, protocol: str, reply: Reply, stream: bool = True) -> tuple:
    """(status, content type, body) of one generation request answered with ``reply``."""
    path, body, headers = PROTOCOLS[protocol]
    body = {**body, "stream": True} if stream and protocol != "native" else body
    headers = headers if stream else {}
    emulator.queue(reply)
    conn = http.client.HTTPConnection("127.0.0.1", urlsplit(emulator.url).port, timeout=10)
    conn.request("POST", path, json.dumps(body), {
        "Authorization": "Bearer sk-test", "Content-Type": "application/json", **headers
    })  # fmt: skip
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, response.getheader("Content-Type") or "", data


def test_every_hostile_fault_is_a_reply_fault() -> None:
    assert set(HOSTILE_FAULTS) <= set(FAULTS)
    with pytest.raises(ValueError):
        Reply(fault="hostile")


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_empty_stream_has_no_event(emulator: Emulator, protocol: str) -> None:
    status, kind, body = fetch(emulator, protocol, Reply(text=TEXT, fault="empty_stream"))
    assert (status, body) == (200, b"") and kind.startswith("text/event-stream")


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_done_first_then_the_real_events(emulator: Emulator, protocol: str) -> None:
    _, _, body = fetch(emulator, protocol, Reply(text=TEXT, fault="done_first"))
    assert body.startswith(b"data: [DONE]\n\n") and b"three" in body


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_json_for_stream_answers_a_stream_with_a_whole_reply(emulator, protocol) -> None:
    _, kind, body = fetch(emulator, protocol, Reply(text=TEXT, fault="json_for_stream"))
    assert kind == "application/json" and TEXT in json.dumps(json.loads(body))


@pytest.mark.parametrize("stream", [True, False])
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_empty_json_and_html_502_whatever_was_asked(emulator, protocol, stream) -> None:
    assert fetch(emulator, protocol, Reply(fault="empty_json"), stream) == (
        200, "application/json", b"{}"
    )  # fmt: skip
    status, kind, body = fetch(emulator, protocol, Reply(fault="html_502"), stream)
    assert (status, kind) == (502, "text/html") and b"<title>502 Bad Gateway</title>" in body


@pytest.mark.parametrize("stream", [True, False])
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_string_usage_sends_every_count_as_a_string(emulator, protocol, stream) -> None:
    _, _, body = fetch(emulator, protocol, Reply(text=TEXT, fault="string_usage"), stream)
    text = body.decode()
    assert '_tokens":"' in text
    assert not any(f'_tokens":{digit}' in text for digit in "0123456789")


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_piece_faults_spoil_one_piece_and_end_the_stream(emulator, protocol) -> None:
    reply = Reply(text=TEXT, reasoning="", fault="bad_content_type", fault_after=2)
    _, _, body = fetch(emulator, protocol, reply)
    assert b":123" in body and b"one " in body and b"four" not in body
    assert MARKER.encode() not in body
    _, _, body = fetch(emulator, protocol, Reply(text=TEXT, fault="null_choice"))
    assert (b"data:null" in body) if protocol == "responses" else (b'"choices":[null]' in body)
    _, _, body = fetch(emulator, protocol, Reply(text=TEXT, fault="invalid_utf8"))
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_huge_frame_is_one_event_of_ten_megabytes(emulator: Emulator, protocol: str) -> None:
    _, _, body = fetch(emulator, protocol, Reply(text=TEXT, fault="huge_frame"))
    assert max(len(event) for event in body.split(b"\n\n")) > HUGE_BYTES


@pytest.mark.parametrize(
    ("protocol", "end_marker"),
    [("chat", b'"finish_reason":"stop"'), ("responses", b"response.completed"),
     ("native", b'"finish_reason":"stop"')],
)  # fmt: skip
def test_clean_close_ends_without_an_end_marker(emulator, protocol, end_marker) -> None:
    status, _, body = fetch(emulator, protocol, Reply(text=TEXT, fault="clean_close"))
    assert status == 200 and b"one" in body  # a complete HTTP body, cleanly ended
    assert end_marker not in body and b"[DONE]" not in body
    if protocol == "chat":
        assert b'"usage":{' not in body  # no usage chunk either


def test_slow_frame_arrives_a_few_bytes_at_a_time(emulator: Emulator) -> None:
    emulator.queue(Reply(text=TEXT, fault="slow_frame", fault_after=2, delay=0.01))
    payload = json.dumps({"model": "qwen-plus", "messages": USER, "stream": True}).encode()
    request = (
        b"POST /compatible-mode/v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
        b"Authorization: Bearer sk-test\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(payload), payload)
    )
    with socket.create_connection(("127.0.0.1", urlsplit(emulator.url).port), timeout=5) as sock:
        sock.sendall(request)
        reader = sock.makefile("rb")
        while reader.readline() not in (b"\r\n", b""):
            pass
        pieces = []
        while size := int(reader.readline().strip(), 16):
            pieces.append(reader.read(size))
            reader.readline()
    partial = [piece for piece in pieces if not piece.endswith(b"\n\n")]
    assert len(partial) == SLOW_PIECES - 1  # one frame in SLOW_PIECES HTTP chunks
    assert b"".join(pieces).endswith(b"data: [DONE]\n\n")


def test_a_stall_notices_the_client_hanging_up(emulator: Emulator) -> None:
    emulator.queue(Reply(fault="stall", delay=30.0))
    path, body, _ = PROTOCOLS["chat"]
    conn = http.client.HTTPConnection("127.0.0.1", urlsplit(emulator.url).port, timeout=0.3)
    conn.request("POST", path, json.dumps(body), {"Authorization": "Bearer sk-test"})
    with pytest.raises(TimeoutError):
        conn.getresponse()
    conn.close()
    record = emulator.last
    assert record.finished.wait(5) and record.disconnected and record.status is None
