"""The emulator's DashScope native protocol, through the real dashscope SDK."""

from __future__ import annotations

import asyncio
import http.client
import json
from pathlib import Path
from urllib.parse import urlsplit

import dashscope
import pytest
import requests
from dashscope import AioGeneration, Generation, MultiModalConversation

from qwen_magic.testing import Emulator, Reply

USER = [{"role": "user", "content": "hello there"}]


@pytest.fixture
def kw(emulator: Emulator) -> dict[str, str]:
    return {"api_key": "sk-test", "base_address": emulator.native_base}


def message_stream(**kwargs: object) -> list:
    kwargs.setdefault("model", "qwen-plus")
    kwargs.setdefault("messages", USER)
    return list(Generation.call(result_format="message", stream=True, **kwargs))


def test_incremental_message_stream_with_thinking(kw: dict, emulator: Emulator) -> None:
    emulator.queue(Reply(text="Hi there", reasoning="Let me think", request_id="rid-n"))
    frames = message_stream(incremental_output=True, enable_thinking=True, **kw)
    assert {f.status_code for f in frames} == {200} and {f.request_id for f in frames} == {"rid-n"}
    messages = [f.output.choices[0].message for f in frames]
    assert [m.reasoning_content for m in messages if m.reasoning_content] == [
        "Let ",
        "me ",
        "think",
    ]
    assert [m.content for m in messages if m.content] == ["Hi ", "there"]
    finishes = [f.output.choices[0].finish_reason for f in frames]
    assert finishes == ["null"] * (len(frames) - 1) + ["stop"]
    outputs = [f.usage.output_tokens for f in frames]
    assert outputs == [1, 2, 3, 4, 5, 5]  # cumulative on every frame
    last = frames[-1].usage
    assert last["output_tokens_details"]["reasoning_tokens"] == 3
    assert last["prompt_tokens_details"]["cached_tokens"] == 0
    assert last.total_tokens == last.input_tokens + 5
    assert emulator.last.body["parameters"]["enable_thinking"] is True


def test_cumulative_when_incremental_output_is_absent(kw: dict, emulator: Emulator) -> None:
    frames = message_stream(**kw)
    texts = [f.output.choices[0].message.content for f in frames]
    assert texts == ["Echo: ", "Echo: hello ", "Echo: hello there"]
    assert frames[-1].output.choices[0].finish_reason == "stop"
    assert "incremental_output" not in emulator.last.body["parameters"]


def test_qwen3_models_default_to_incremental(kw: dict) -> None:
    texts = [f.output.choices[0].message.content for f in message_stream(model="qwen3-max", **kw)]
    assert texts == ["Echo: ", "hello ", "there", ""]


def test_explicit_false_is_merged_by_the_sdk(kw: dict, emulator: Emulator) -> None:
    frames = message_stream(incremental_output=False, **kw)
    assert frames[-1].output.choices[0].message.content == "Echo: hello there"
    assert emulator.last.body["parameters"]["incremental_output"] is True  # the SDK's rewrite


def test_thinking_requires_incremental_output(kw: dict) -> None:
    frames = message_stream(enable_thinking=True, **kw)
    assert len(frames) == 1 and frames[0].status_code == 400
    assert frames[0].code == "InvalidParameter"
    assert frames[0].message == (
        'The incremental_output parameter must be "true" when enable_thinking is true'
    )


def test_text_result_format_is_the_default(kw: dict) -> None:
    response = Generation.call(model="qwen-plus", prompt="say hi", **kw)
    assert response.status_code == 200
    assert (response.output.text, response.output.finish_reason) == ("Echo: say hi", "stop")
    assert response.usage.input_tokens == 6 and response.usage.output_tokens == 3


def test_non_stream_message_with_reasoning(kw: dict) -> None:
    response = Generation.call(
        model="qwen-plus", messages=USER, result_format="message", enable_thinking=True, **kw
    )
    message = response.output.choices[0].message
    assert message.content == "Echo: hello there"
    assert message.reasoning_content.startswith("The user asked")
    assert response.usage["output_tokens_details"]["reasoning_tokens"] == 9


def test_multimodal_content_lists(kw: dict, emulator: Emulator) -> None:
    content = [{"image": "https://example.com/dog.png"}, {"text": "what is it"}]
    frames = list(
        MultiModalConversation.call(
            model="qwen3.5-plus",
            messages=[{"role": "user", "content": content}],
            stream=True,
            incremental_output=True,
            **kw,
        )
    )
    parts = [p["text"] for f in frames for p in f.output.choices[0].message.content]
    assert "".join(parts) == "Echo: what is it"
    assert any(f.output.choices[0].message.reasoning_content for f in frames)
    assert emulator.last.protocol == "native-multimodal"
    assert emulator.last.body["input"]["messages"][0]["content"] == content


def test_multimodal_only_model_on_text_generation_is_url_error(kw: dict) -> None:
    response = Generation.call(model="qwen3.5-plus", prompt="hi", **kw)
    assert (response.status_code, response.code) == (400, "InvalidParameter")
    assert response.message == "url error, please check url！"


def test_thinking_only_model_rejects_thinking_off(kw: dict) -> None:
    frames = message_stream(model="qwq-plus", enable_thinking=False, incremental_output=True, **kw)
    assert frames[0].status_code == 400
    assert frames[0].message == "The value of the enable_thinking parameter is restricted to True."


def test_unknown_model_is_404(kw: dict) -> None:
    response = Generation.call(model="qwen-imaginary", prompt="hi", **kw)
    assert (response.status_code, response.code) == (404, "ModelNotFound")


def test_oversized_data_uri_is_rejected(kw: dict) -> None:
    big = "data:image/png;base64," + "A" * 10485760
    response = MultiModalConversation.call(
        model="qwen3-vl-plus",
        messages=[{"role": "user", "content": [{"image": big}, {"text": "hi"}]}],
        **kw,
    )
    assert response.status_code == 400
    assert response.message == "Exceeded limit on max bytes per data-uri item : 10485760"


def test_mislabelled_sse_error_makes_the_sdk_raise_json_decode_error(
    kw: dict, emulator: Emulator
) -> None:
    emulator.queue(Reply(fault="http_400_mislabelled"))
    with pytest.raises(json.JSONDecodeError):
        message_stream(incremental_output=True, **kw)


def test_error_frame_after_results_becomes_a_400_response(kw: dict, emulator: Emulator) -> None:
    emulator.queue(Reply(text="a b c", fault="error_frame", fault_after=2))
    frames = message_stream(incremental_output=True, **kw)
    assert [f.status_code for f in frames] == [200, 200, 400]
    assert frames[-1].code == "DataInspectionFailed"
    assert frames[-1].message == "Output data may contain inappropriate content."


def test_cut_stream_raises_chunked_encoding_error(kw: dict, emulator: Emulator) -> None:
    emulator.queue(Reply(fault="cut"))
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        message_stream(incremental_output=True, **kw)


def test_malformed_frame_becomes_an_error_response(kw: dict, emulator: Emulator) -> None:
    emulator.queue(Reply(text="a b c", fault="malformed", fault_after=1))
    frames = message_stream(incremental_output=True, **kw)
    assert frames[-1].status_code == 400 and frames[-1].code == "Unknown"


def test_empty_and_split_utf8(kw: dict, emulator: Emulator) -> None:
    emulator.queue(Reply(fault="empty"), Reply(text="你好 🙂 é", fault="split_utf8"))
    empty = message_stream(incremental_output=True, **kw)
    assert [f.output.choices[0].message.content for f in empty] == [""]
    assert empty[0].output.choices[0].finish_reason == "stop"
    split = message_stream(incremental_output=True, **kw)
    assert "".join(f.output.choices[0].message.content for f in split) == "你好 🙂 é"


def test_aio_generation_streams_and_reports_error_frames(kw: dict, emulator: Emulator) -> None:
    emulator.queue(Reply(text="a b"), Reply(text="a b c", fault="error_frame", fault_after=1))

    async def run() -> tuple[list, list]:
        try:
            calls = []
            for _ in range(2):
                frames = await AioGeneration.call(
                    model="qwen-plus",
                    messages=USER,
                    result_format="message",
                    stream=True,
                    incremental_output=True,
                    **kw,
                )
                calls.append([f async for f in frames])
            return calls[0], calls[1]
        finally:
            await dashscope.close_shared_aio_session()

    ok, failed = asyncio.run(run())
    assert "".join(f.output.choices[0].message.content for f in ok) == "a b"
    assert [f.status_code for f in failed] == [200, 400]
    assert failed[-1].code == "DataInspectionFailed"


def test_raw_native_framing(emulator: Emulator) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", urlsplit(emulator.url).port, timeout=5)
    body = {"model": "qwen-plus", "input": {"messages": USER}, "parameters": {}}
    headers = {"Authorization": "Bearer k", "X-DashScope-SSE": "enable"}
    conn.request(
        "POST", "/api/v1/services/aigc/text-generation/generation", json.dumps(body), headers
    )
    response = conn.getresponse()
    text = response.read().decode()
    conn.close()
    assert response.getheader("Content-Type") == "text/event-stream;charset=UTF-8"
    blocks = text.strip("\n").split("\n\n")
    for number, block in enumerate(blocks, 1):
        lines = block.split("\n")
        assert lines[:3] == [f"id:{number}", "event:result", ":HTTP_STATUS/200"]
        assert lines[3].startswith('data:{"output":')
    assert '"finish_reason":"null"' in blocks[0] and '"finish_reason":"stop"' in blocks[-1]
    assert "[DONE]" not in text


def test_raw_error_frame_is_sent_with_http_200(emulator: Emulator) -> None:
    emulator.queue(Reply(fault="error_frame", fault_after=0))
    conn = http.client.HTTPConnection("127.0.0.1", urlsplit(emulator.url).port, timeout=5)
    body = {"model": "qwen-plus", "input": {"prompt": "hi"}}
    headers = {"Authorization": "Bearer k", "Accept": "text/event-stream"}
    conn.request(
        "POST", "/api/v1/services/aigc/text-generation/generation", json.dumps(body), headers
    )
    response = conn.getresponse()
    lines = response.read().decode().split("\n")
    conn.close()
    assert response.status == 200
    assert lines[:3] == ["id:1", "event:error", ":HTTP_STATUS/400"]
    assert json.loads(lines[3][5:])["code"] == "DataInspectionFailed"


def test_local_file_upload_goes_through_the_emulator(
    kw: dict, emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dashscope, "base_http_api_url", emulator.native_base)
    image = tmp_path / "cat.png"
    image.write_bytes(b"\x89PNG fake")
    content = [{"image": f"file://{image}"}, {"text": "describe"}]
    response = MultiModalConversation.call(
        model="qwen3-vl-plus", messages=[{"role": "user", "content": content}], **kw
    )
    assert response.status_code == 200
    policy, upload, generation = emulator.requests
    assert policy.protocol == "uploads" and policy.query["action"] == "getPolicy"
    assert policy.query["model"] == "qwen3-vl-plus"
    assert upload.protocol == "oss-upload" and upload.form["file"] == b"\x89PNG fake"
    assert upload.form["key"].endswith("/cat.png")
    sent = generation.body["input"]["messages"][0]["content"][0]["image"]
    assert sent == f"oss://{upload.form['key']}"
    assert generation.headers["x-dashscope-ossresourceresolve"] == "enable"
