"""Replay: the emulator answers from a recording (docs/recording.md), through %%qwen."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

from qwen_magic.emulator import Emulator
from qwen_magic.emulator.replay import MARKER, RecordingError, read_entries

ROOT = Path(__file__).resolve().parents[2]
QUESTION = "Why is the sky blue?"
ANSWER = "Sunlight scatters off air molecules; **blue** light scatters most (Rayleigh)."
THOUGHT = "Rayleigh scattering goes as one over the wavelength to the fourth power."


def make_recording() -> Any:
    spec = importlib.util.spec_from_file_location(
        "make_recording", ROOT / "scripts/make_recording.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_items(tmp_path: Path, items: list[dict[str, Any]]) -> Path:
    source, target = tmp_path / "items.json", tmp_path / "lesson.jsonl"
    source.write_text(json.dumps(items), encoding="utf-8")
    assert make_recording().main([str(source), "-o", str(target)]) == 0
    return target


def ask(ip: Any, line: str, cell: str) -> Any:
    with capture_output():
        ip.run_cell_magic("qwen", line + " -o r", cell)
    return ip.user_ns["r"]


@pytest.fixture
def recording(tmp_path: Path) -> Path:
    return write_items(
        tmp_path,
        [
            {
                "prompt": QUESTION,
                "model": "qwen3.5-plus",
                "answer": ANSWER,
                "reasoning": THOUGHT,
                "usage": {"input_tokens": 21, "output_tokens": 40, "reasoning_tokens": 15},
                "pacing": {"ttft": 0.01, "tokens_per_second": 5000},
            },
            {
                "prompt": QUESTION,
                "model": "qwen-plus",
                "options": {"temperature": 0.2},
                "answer": "Rayleigh scattering.",
            },
        ],
    )


@pytest.mark.parametrize("api", ["chat", "responses", "dashscope"])
def test_a_recorded_answer_replays_on_each_api(ip, emulator, recording, api) -> None:
    emulator.replay_from(recording, speed=0)
    r = ask(ip, f"--api {api} -m qwen3.5-plus", QUESTION)
    assert r.text == ANSWER and r.reasoning == THOUGHT
    assert (r.usage.input_tokens, r.usage.output_tokens) == (21, 40)
    assert r.usage.reasoning_tokens == 15
    # the stream came as recorded: one frame per output token (plus the protocol's own)
    assert emulator.last.frames_sent >= 40


def test_the_options_that_change_an_answer_are_matched(ip, emulator, recording) -> None:
    emulator.replay_from(recording, speed=0)
    assert ask(ip, "-m qwen-plus -t 0.2", QUESTION).text == "Rayleigh scattering."
    other = ask(ip, "-m qwen-plus -t 0.9", QUESTION).text
    assert other == MARKER + "Echo: " + QUESTION
    thinking_off = ask(ip, "-m qwen3.5-plus --no-think", QUESTION).text
    assert thinking_off.startswith(MARKER)


def test_forgiving_where_safe(ip, emulator, recording) -> None:
    """max_tokens, the stream flag and stream options, whitespace around the prompt."""
    emulator.replay_from(recording, speed=0)
    r = ask(ip, "-m qwen-plus -t 0.2 --max-tokens 500 --no-stream", f"  {QUESTION}\n")
    assert r.text == "Rayleigh scattering."


def test_pacing_kept_counted_in_frames(ip, emulator, tmp_path) -> None:
    path = write_items(
        tmp_path,
        [
            {"prompt": "one", "model": "qwen-plus", "answer": "a b c d e f g h",
             "usage": {"output_tokens": 8}},
            {"prompt": "two", "model": "qwen-plus", "answer": "a b c d e f g h",
             "usage": {"output_tokens": 2}},
        ],
    )  # fmt: skip
    emulator.replay_from(path, speed=0)
    ask(ip, "-m qwen-plus", "one")
    assert emulator.last.finished.wait(5)  # the server's count ends a moment after the client
    many = emulator.last.frames_sent
    ask(ip, "-m qwen-plus", "two")
    assert emulator.last.finished.wait(5)
    few = emulator.last.frames_sent
    assert many - few == 6


def test_an_unrecorded_request_gets_the_echo_saying_so(ip, emulator, recording) -> None:
    emulator.replay_from(recording, speed=0)
    with capture_output() as cap:
        ip.run_cell_magic("qwen", "-m qwen-plus -o r", "Something never recorded")
    assert ip.user_ns["r"].text == "[no recording for this request] Echo: Something never recorded"
    shown = "".join(str(output.data) for output in cap.outputs)
    assert "no recording for this request" in shown  # what the student sees in the cell


def test_queued_replies_still_come_first(ip, emulator, recording) -> None:
    from qwen_magic.testing import Reply

    emulator.replay_from(recording, speed=0)
    emulator.queue(Reply(text="scripted"))
    assert ask(ip, "-m qwen-plus -t 0.2", QUESTION).text == "scripted"


def test_emulator_start_replay_command(ip, magics, recording) -> None:
    with capture_output() as cap:
        ip.run_line_magic("qwencmd", f"emulator start --replay {recording} --speed 0")
    assert "Answering from the recording" in cap.stdout
    try:
        assert ask(ip, "-m qwen-plus -t 0.2", QUESTION).text == "Rayleigh scattering."
    finally:
        magics.session.use_emulator(None)


def test_an_unknown_version_is_refused_clearly(ip, tmp_path) -> None:
    path = tmp_path / "future.jsonl"
    path.write_text('{"format": "qwen-magic-recording", "version": 99}\n', encoding="utf-8")
    with pytest.raises(RecordingError, match="version 99.*reads version 1"):
        Emulator(replay=path)
    with pytest.raises(UsageError, match="version 99"):
        ip.run_line_magic("qwencmd", f"emulator start --replay {path}")
    other = tmp_path / "other.jsonl"
    other.write_text('{"messages": []}\n', encoding="utf-8")
    with pytest.raises(RecordingError, match="not a qwen_magic recording"):
        read_entries(other)


def test_make_recording_round_trip(tmp_path) -> None:
    import openai

    path = write_items(
        tmp_path,
        [{"prompt": "Hi", "model": "qwen-plus", "system": "Answer in JSON.",
          "options": {"seed": 7, "json": True}, "answer": '{"hello": "world"}'}],
    )  # fmt: skip
    header, entry = (json.loads(line) for line in path.read_text().splitlines())
    assert header == {"format": "qwen-magic-recording", "version": 1}
    assert entry["request"]["messages"] == [
        {"role": "system", "text": "Answer in JSON."},
        {"role": "user", "text": "Hi"},
    ]
    assert entry["request"]["options"] == {
        "thinking": False, "seed": 7, "response_format": "json_object"
    }  # fmt: skip
    with Emulator(replay=path, replay_speed=0) as emu:
        client = openai.OpenAI(base_url=emu.compat_base, api_key="sk-test")
        answer = client.chat.completions.create(
            model="qwen-plus",
            messages=[
                {"role": "system", "content": "Answer in JSON."},
                {"role": "user", "content": "Hi"},
            ],
            seed=7,
            response_format={"type": "json_object"},
        )
    assert answer.choices[0].message.content == '{"hello": "world"}'
