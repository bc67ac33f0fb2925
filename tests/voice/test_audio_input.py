"""``-a/--audio``: a recording goes with the prompt. Each kind of source (a path, bytes in a
variable, ``(array, rate)``, an ``IPython.display.Audio``, a URL) becomes the content part each
API takes; it shows as a small player among the inputs; a chat's later turns keep it, also once
saved and loaded; and what the service would refuse is refused before any request."""

from __future__ import annotations

import base64
import io
import re
import wave

import numpy as np
import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

OMNI = "-m qwen3-omni-flash"
URL = "https://example.invalid/talk.mp3"  # never fetched
MP3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(200)  # an MP3's first bytes (ID3 tag)


def clip(seconds: float = 0.5, rate: int = 16_000) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    samples = (np.sin(2 * np.pi * 220 * t) * 10_000).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return buffer.getvalue()


pytestmark = pytest.mark.usefixtures("in_tmp")  # see conftest.py


def ask(ip, line: str, prompt: str = "What is in this recording?"):
    with capture_output() as cap:
        ip.run_cell_magic("qwen", line, prompt)
    return cap


def parts(emulator) -> list:
    return emulator.last.messages[-1]["content"]


def decoded(part: dict) -> bytes:
    return base64.b64decode(part["input_audio"]["data"].split(",", 1)[1])


def test_a_wav_file_is_sent_inline_and_heard(ip, magics, emulator, tmp_path) -> None:
    """The issue's "done when": ``-a clip.wav`` asks about a recording."""
    magics.display = "final"
    (tmp_path / "clip.wav").write_bytes(clip())
    cap = ask(ip, f"{OMNI} -a clip.wav")
    audio, text = parts(emulator)
    assert audio["type"] == "input_audio" and audio["input_audio"]["format"] == "wav"
    assert audio["input_audio"]["data"].startswith("data:audio/wav;base64,")
    assert decoded(audio) == clip()
    assert text == {"type": "text", "text": "What is in this recording?"}
    result = ip.user_ns["_qwen"]
    assert result.error is None and "(heard 1 audio clip)" in result.text
    markdown = cap.outputs[-1].data["text/markdown"]
    assert re.search(r'🔊 clip\.wav<br><audio controls[^>]*src="data:audio/wav;base64,', markdown)
    assert "[inputs: clip.wav · wav audio · 0.5 s]" in cap.outputs[-1].data["text/plain"]
    assert "base64,…(" in str(result.messages) and len(str(result.messages)) < 400  # elided


def test_each_kind_of_source(ip, magics, emulator, tmp_path) -> None:
    from IPython.display import Audio

    magics.display = "none"
    samples = np.sin(np.linspace(0, 200, 8000)).astype(np.float32)
    ip.user_ns.update(
        raw=MP3,
        pair=(samples, 8000),
        player=Audio(data=samples, rate=8000),
    )
    (tmp_path / "clip.wav").write_bytes(clip())
    ip.user_ns["from_file"] = Audio(filename=str(tmp_path / "clip.wav"))
    sources = ["clip.wav", "{raw}", "{pair}", "{player}", "{from_file}", URL]
    ask(ip, OMNI + " " + " ".join(f"-a {s}" for s in sources))
    sent = parts(emulator)
    assert [p["type"] for p in sent] == ["input_audio"] * 6 + ["text"]
    formats = [p["input_audio"]["format"] for p in sent[:-1]]
    assert formats == ["wav", "mp3", "wav", "wav", "wav", "mp3"]
    assert decoded(sent[0]) == decoded(sent[4]) == clip()
    assert sent[1]["input_audio"]["data"] == "data:audio/mpeg;base64," + base64.b64encode(
        MP3
    ).decode("ascii")
    with wave.open(io.BytesIO(decoded(sent[2])), "rb") as w:
        assert (w.getframerate(), w.getnframes(), w.getsampwidth()) == (8000, 8000, 2)
    with wave.open(io.BytesIO(decoded(sent[3])), "rb") as w:
        assert (w.getframerate(), w.getnframes()) == (8000, 8000)
    assert sent[5]["input_audio"]["data"] == URL
    assert ip.user_ns["_qwen"].error is None


def test_dashscope_sends_audio_parts_to_the_multimodal_endpoint(ip, magics, emulator, tmp_path):
    magics.display = "none"
    (tmp_path / "clip.wav").write_bytes(clip())
    ask(ip, f"{OMNI} --api dashscope -a clip.wav")
    assert emulator.last.protocol == "native-multimodal"
    audio, text = parts(emulator)
    assert audio == {"audio": "data:audio/wav;base64," + base64.b64encode(clip()).decode()}
    assert text == {"text": "What is in this recording?"}


def test_a_chat_keeps_the_recording_in_later_turns_and_in_its_file(
    ip, magics, emulator, tmp_path
) -> None:
    magics.display = "none"
    (tmp_path / "clip.wav").write_bytes(clip())
    ask(ip, f"{OMNI} -c talk -a clip.wav")
    ask(ip, f"{OMNI} -c talk", "And how long is it?")
    first = emulator.last.messages[0]
    assert first["content"][0]["type"] == "input_audio" and decoded(first["content"][0]) == clip()
    ip.run_line_magic("qwencmd", "save talk talk.json")
    ip.run_line_magic("qwencmd", "load again talk.json")
    ask(ip, f"{OMNI} -c again", "Once more?")
    assert decoded(emulator.last.messages[0]["content"][0]) == clip()
    shown, _ = ip.display_formatter.format(ip.run_line_magic("qwencmd", "history again"))
    assert "[audio]" in shown["text/markdown"]


@pytest.mark.parametrize(
    ("line", "words"),
    [
        (f"{OMNI} --api responses -a clip.wav", "The Responses API takes no audio"),
        ("-m qwen-plus -a clip.wav", "qwen-plus does not take audio"),
        ("-m qwen-audio-turbo -a clip.wav", "add --api dashscope"),
        (f"{OMNI} -a missing.wav", "-a missing.wav is not a file"),
        (f"{OMNI} -a notes.txt", "is not an audio file the service reads (.txt)"),
        (f"{OMNI} -a {{text}}", "-a {text} is bytes that are not an audio file"),
        (f"{OMNI} -a {{samples}}", "without its sample rate"),
        (f"{OMNI} -a {{bad_rate}}", "gives the sample rate 3"),
    ],
)
def test_refused_before_any_request(ip, magics, emulator, tmp_path, line, words) -> None:
    (tmp_path / "clip.wav").write_bytes(clip())
    (tmp_path / "notes.txt").write_text("hello")
    ip.user_ns.update(text=b"plain text", samples=np.zeros(100), bad_rate=(np.zeros(10), 3))
    with pytest.raises(UsageError, match=re.escape(words)):
        ip.run_cell_magic("qwen", line, "Listen")
    assert emulator.requests == []


def test_a_later_turn_on_the_responses_api_is_refused_too(ip, magics, emulator, tmp_path):
    magics.display = "none"
    (tmp_path / "clip.wav").write_bytes(clip())
    ask(ip, f"{OMNI} -c talk -a clip.wav")
    count = len(emulator.requests)
    with pytest.raises(UsageError, match="this chat's earlier audio"):
        ip.run_cell_magic("qwen", f"{OMNI} -c talk --api responses", "And now?")
    assert len(emulator.requests) == count


@pytest.mark.parametrize(
    "part",
    [
        {"type": "input_audio", "input_audio": "not an object"},
        {"type": "input_audio", "input_audio": {"format": "wav"}},
        {"type": "input_audio", "input_audio": {"data": "/tmp/x.wav", "format": "wav"}},
        {
            "type": "input_audio",
            "input_audio": {"data": "data:audio/wav;base64,@@@", "format": "wav"},
        },
    ],
)
def test_the_emulator_refuses_malformed_audio_parts(emulator, part) -> None:
    import openai

    client = openai.OpenAI(base_url=emulator.compat_base, api_key="sk-test", max_retries=0)
    messages = [{"role": "user", "content": [part, {"type": "text", "text": "hi"}]}]
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="qwen3-omni-flash", messages=messages, stream=True)
    assert caught.value.status_code == 400


def test_the_live_view_shows_each_recording_as_a_small_player(
    ip, magics, emulator, tmp_path, comms
) -> None:
    magics.display = "live"
    (tmp_path / "clip.wav").write_bytes(clip())
    cap = ask(ip, f"{OMNI} -a clip.wav -a {URL}")
    assert ip.user_ns["_qwen"].error is None
    opened = [d for t, d in comms.messages if t == "comm_open"]
    assert any("AudioModel" in str(d) for d in opened)  # the file, played from its bytes
    assert any(URL in str(d) and "<audio" in str(d) for d in opened)  # the URL, by the browser
    markdown = cap.outputs[-1].data["text/markdown"]
    assert markdown.count("<audio controls") == 2
