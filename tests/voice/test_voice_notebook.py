"""A notebook run headless (nbclient with its defaults, as CI and graders run them): the saved
notebook keeps the spoken answer's player, its audio inline within the budget, and no widget
state. And the ways ``Audio`` is made smaller, with or without ``audioop`` and numpy."""

from __future__ import annotations

import base64
import io
import re
import wave
from pathlib import Path

import pytest

from qwen_magic import audio as audio_module
from qwen_magic.audio import SPEECH_RATE, Audio
from qwen_magic.render.speech import SPEECH_BUDGET


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_a_headless_run_saves_a_budgeted_player_and_no_widgets(tmp_path: Path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    from nbclient import NotebookClient

    cells = [
        "%load_ext qwen_magic\n%qwencmd emulator start",
        "%%qwen -m qwen3-omni-flash --voice Cherry\nTell me a short story.",
        "print(round(_qwen.audio.duration, 2), _qwen.audio.sample_rate)",
    ]
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    monkeypatch.delenv("DASHSCOPE_API_KEY", raising=False)
    NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()

    (output,) = [o for o in nb.cells[1].outputs if o.get("output_type") == "display_data"]
    markdown = output["data"]["text/markdown"]
    (src,) = re.findall(r'<audio controls[^>]*src="([^"]+)"', markdown)
    assert src.startswith("data:audio/wav;base64,") and len(src) <= SPEECH_BUDGET
    with wave.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1])), "rb") as w:
        seconds = w.getnframes() / w.getframerate()
    text = "Echo: Tell me a short story."
    assert seconds == pytest.approx(len(text) * 0.05)
    assert nb.cells[2].outputs[0]["text"].split() == [
        f"{len(text) * 0.05:.2f}".rstrip("0"),
        "24000",
    ]
    assert "widgets" not in nb.metadata
    saved = nbformat.writes(nb)
    assert "application/vnd.jupyter.widget" not in saved
    assert len(saved) < SPEECH_BUDGET + 50_000


def tone(seconds: float) -> Audio:
    import numpy as np

    t = np.arange(int(seconds * SPEECH_RATE)) / SPEECH_RATE
    return Audio((np.sin(2 * np.pi * 440 * t) * 8000).astype("<i2").tobytes())


@pytest.mark.parametrize("without", ["nothing", "audioop", "audioop and numpy"])
def test_a_smaller_copy_is_made_without_audioop_or_numpy(monkeypatch, without) -> None:
    """Python 3.13 has no audioop: numpy does it, or plain Python."""
    import sys

    speech = tone(2.0)
    if without != "nothing":
        monkeypatch.setattr(audio_module, "_audioop", lambda: None)
    if without == "audioop and numpy":
        monkeypatch.setattr(audio_module, "_import_numpy", lambda: None)
        monkeypatch.setitem(sys.modules, "numpy", None)
    small = speech.fitted(80_000)  # 2 s at 24 kHz 16-bit is 128 KB of data URL
    assert small is not None and small is not speech
    assert len(small.data_url) <= 80_000
    with wave.open(io.BytesIO(small.wav_bytes), "rb") as w:
        assert w.getframerate() == small.sample_rate < SPEECH_RATE
        assert w.getnframes() == pytest.approx(2.0 * small.sample_rate, abs=2)
    assert speech.fitted(10_000) is None
    assert speech.fitted(10**7) is speech
