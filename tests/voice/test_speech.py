"""``--voice`` / ``--speak``: a Qwen-Omni model speaks its answer. Through the magic, against
the emulator (the real openai SDK over HTTP): what is sent, the speech collected into
``_qwen.audio`` (a WAV of the right rate and length), its player in the static output within
the notebook's budget (or a file next to the notebook, linked), the terminal's saved file, and
every refusal before any request."""

from __future__ import annotations

import base64
import io
import re
import subprocess
import sys
import wave

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

from qwen_magic.emulator.speech import SAMPLES_PER_CHARACTER, TONE_HZ
from qwen_magic.render.speech import SPEECH_BUDGET
from qwen_magic.testing import Reply

OMNI = "-m qwen3-omni-flash"


pytestmark = pytest.mark.usefixtures("in_tmp")  # see conftest.py


def ask(ip, line: str, prompt: str = "Say hello"):
    with capture_output() as cap:
        ip.run_cell_magic("qwen", line, prompt)
    return cap


def wav(data: bytes) -> tuple[int, int, int, int]:
    with wave.open(io.BytesIO(data), "rb") as w:
        return w.getframerate(), w.getsampwidth(), w.getnchannels(), w.getnframes()


def players(markdown: str) -> list[str]:
    return re.findall(r'<audio controls[^>]*src="([^"]+)"', markdown)


def test_the_request_asks_for_text_and_speech(ip, magics, emulator) -> None:
    magics.display = "final"
    ask(ip, f"{OMNI} --voice Cherry")
    body = emulator.last.body
    assert body["modalities"] == ["text", "audio"]
    assert body["audio"] == {"voice": "Cherry", "format": "wav"}
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}


def test_without_voice_nothing_about_audio_is_sent(ip, magics, emulator) -> None:
    magics.display = "final"
    ask(ip, OMNI)
    assert "modalities" not in emulator.last.body and "audio" not in emulator.last.body
    assert ip.user_ns["_qwen"].audio is None


def test_speak_uses_the_models_default_voice(ip, magics, emulator) -> None:
    magics.display = "final"
    ask(ip, f"{OMNI} --speak")
    assert emulator.last.body["audio"]["voice"] == "Cherry"
    ask(ip, "-m qwen3.5-omni-plus --speak")
    assert emulator.last.body["audio"]["voice"] == "Tina"


def test_the_speech_is_collected_as_a_wav_of_the_right_rate_and_length(
    ip, magics, emulator, tmp_path
) -> None:
    magics.display = "final"
    ask(ip, f"{OMNI} --voice Cherry", "Read this aloud")
    result = ip.user_ns["_qwen"]
    assert result.error is None and result.text == "Echo: Read this aloud"
    frames = SAMPLES_PER_CHARACTER * len(result.text)  # the emulator: 50 ms a character
    assert wav(result.audio.wav_bytes) == (24_000, 2, 1, frames)
    assert result.audio.sample_rate == 24_000
    assert result.audio.duration == pytest.approx(frames / 24_000)
    # the tone is continuous across chunks: 440 Hz all along (zero crossings per second)
    import numpy as np

    samples = np.frombuffer(result.audio.pcm, dtype="<i2").astype(float)
    crossings = np.count_nonzero(np.diff(np.signbit(samples)))
    assert crossings / result.audio.duration == pytest.approx(2 * TONE_HZ, rel=0.01)
    saved = result.audio.save(tmp_path / "answer.wav")
    assert saved == tmp_path / "answer.wav"
    assert wav(saved.read_bytes()) == (24_000, 2, 1, frames)
    assert result.audio.save(tmp_path / "noext").name == "noext.wav"


def test_the_static_output_has_a_player_of_the_whole_speech(ip, magics, emulator) -> None:
    magics.display = "final"
    cap = ask(ip, f"{OMNI} --voice Cherry")
    bundle = cap.outputs[-1].data
    (src,) = players(bundle["text/markdown"])
    assert src.startswith("data:audio/wav;base64,")
    assert base64.b64decode(src.split(",", 1)[1]) == ip.user_ns["_qwen"].audio.wav_bytes
    assert "spoken answer" in bundle["text/markdown"]
    assert "[spoken answer: 0.8 s · 24 kHz · 16-bit mono" in bundle["text/plain"]
    assert "<audio" in ip.user_ns["_qwen"].audio._repr_html_()


def test_longer_speech_is_down_sampled_to_fit_the_notebook(ip, magics, emulator) -> None:
    magics.display = "final"
    emulator.queue(Reply(text="word " * 120))  # 600 characters: 30 s, 1.4 MB as it came
    cap = ask(ip, f"{OMNI} --voice Cherry")
    markdown = cap.outputs[-1].data["text/markdown"]
    (src,) = players(markdown)
    assert len(src) <= SPEECH_BUDGET
    rate, width, channels, frames = wav(base64.b64decode(src.split(",", 1)[1]))
    assert (rate, channels) == (16_000, 1) and width in (1, 2)
    assert frames == pytest.approx(30 * rate, abs=2)
    assert "kept in the notebook at 16 kHz" in markdown
    assert ip.user_ns["_qwen"].audio.sample_rate == 24_000  # the Result keeps it as it came


def test_speech_too_long_for_the_notebook_is_saved_next_to_it_and_linked(
    ip, magics, emulator, tmp_path
) -> None:
    magics.display = "final"
    emulator.queue(Reply(text="word " * 500, chunks=50))  # 125 s: over 1 MB even at 8 kHz
    cap = ask(ip, f"{OMNI} --voice Cherry")
    markdown = cap.outputs[-1].data["text/markdown"]
    (src,) = players(markdown)
    assert re.fullmatch(r"qwen-speech-[0-9a-f]{12}\.wav", src)
    assert f'<a href="{src}">' in markdown and "too long to keep inside the notebook" in markdown
    assert wav((tmp_path / src).read_bytes())[3] == 125 * 24_000
    assert len(markdown) < 20_000


def test_the_live_view_says_speech_is_coming_then_shows_the_player(
    ip, magics, emulator, comms
) -> None:
    magics.display = "live"
    emulator.queue(Reply(chunks=6, delay=0.03))
    cap = ask(ip, f"{OMNI} --voice Cherry")
    sent = [str(d) for d in comms.updates]
    assert any("of speech so far" in s for s in sent)
    assert players(cap.outputs[-1].data["text/markdown"])


@pytest.mark.parametrize(
    ("line", "words"),
    [
        (f"{OMNI} --voice Cherry --no-stream", "--no-stream can't be combined with --voice"),
        (f"{OMNI} --speak --api responses", "only through the Chat Completions API"),
        (f"{OMNI} --speak --api dashscope", "only through the Chat Completions API"),
        ("-m qwen-plus --voice Cherry", "qwen-plus cannot speak"),
        ("-m qwen3-omni-flash-realtime --speak", "cannot speak"),
        (f"{OMNI} --voice 'Che rry'", "is not a voice name"),
        ("-m qwen-omni-turbo --speak -s 'Be brief'", "takes no system message when it speaks"),
    ],
)
def test_refused_before_any_request(ip, magics, emulator, line, words) -> None:
    with pytest.raises(UsageError, match=re.escape(words)):
        ip.run_cell_magic("qwen", line, "Say hello")
    assert emulator.requests == []


def test_the_emulator_refuses_what_the_service_refuses(emulator) -> None:
    """Sent anyway (the SDK directly): a model that can't speak, a non-streamed call."""
    import openai

    client = openai.OpenAI(base_url=emulator.compat_base, api_key="sk-test", max_retries=0)
    speech = {"modalities": ["text", "audio"], "audio": {"voice": "Cherry", "format": "wav"}}
    messages = [{"role": "user", "content": "hi"}]
    with pytest.raises(openai.BadRequestError, match="does not support audio output"):
        client.chat.completions.create(model="qwen-plus", messages=messages, stream=True, **speech)
    with pytest.raises(openai.APIStatusError):
        client.chat.completions.create(model="qwen3-omni-flash", messages=messages, **speech)


def test_qwencmd_voices_lists_the_documented_voices(ip) -> None:
    table = ip.run_line_magic("qwencmd", "voices")
    text = repr(table)
    assert "qwen3-omni*" in text and "Cherry" in text
    assert "qwen3.5-omni*" in text and "Tina" in text
    assert "Chelsie, Ethan" in text
    with pytest.raises(UsageError):
        ip.run_line_magic("qwencmd", "voices extra")


TERMINAL = r"""
import os
from IPython.testing.globalipapp import start_ipython
os.chdir(os.environ["WORKDIR"])
ip = start_ipython()
ip.run_line_magic("load_ext", "qwen_magic")
ip.run_line_magic("qwencmd", "emulator start")
ip.run_cell("%%qwen -m qwen3-omni-flash --voice Cherry\nHello there")
print("audio:", ip.user_ns["_qwen"].audio)
"""


def test_terminal_ipython_saves_the_speech_and_prints_its_path(tmp_path) -> None:
    import os

    env = {**os.environ, "WORKDIR": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-c", TERMINAL],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env=env,
    )
    match = re.search(r"\[spoken answer: [\d.]+ s saved to (\S+\.wav)\]", proc.stdout)
    assert match, proc.stdout
    path = match.group(1)
    assert os.path.dirname(path) == str(tmp_path.resolve())
    with open(path, "rb") as saved:
        assert wav(saved.read())[3] == SAMPLES_PER_CHARACTER * len("Echo: Hello there")
    assert "<audio" not in proc.stdout


def test_ask_speaks_and_hears_from_python(ip, magics, emulator) -> None:
    import numpy as np

    import qwen_magic

    result = qwen_magic.ask("Say hello", model="qwen3-omni-flash", voice="Cherry", quiet=True)
    assert emulator.last.body["audio"] == {"voice": "Cherry", "format": "wav"}
    assert result.audio is not None and result.audio.duration > 0
    spoken = qwen_magic.ask("Hi", model="qwen3-omni-flash", speak=True, quiet=True)
    assert spoken.audio is not None and emulator.last.body["modalities"] == ["text", "audio"]
    clip = (np.zeros(8000, dtype=np.int16), 16000)  # half a second of silence
    qwen_magic.ask("What is said?", model="qwen3-omni-flash", audio=clip, quiet=True)
    parts = emulator.last.body["messages"][-1]["content"]
    assert [p["type"] for p in parts] == ["input_audio", "text"]
    assert parts[0]["input_audio"]["data"].startswith("data:audio/wav;base64,")
    with pytest.raises(UsageError, match="audio"):  # refused before sending, as -a is
        qwen_magic.ask("Hi", model="qwen3-omni-flash", api="responses", audio=clip, quiet=True)
