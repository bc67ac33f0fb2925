"""%qwencmd record: a session's answers into a recording (never the key), replayed the same."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

from qwen_magic.emulator.replay import read_entries
from qwen_magic.testing import Reply


def ask(ip: Any, line: str, cell: str) -> Any:
    with capture_output():
        ip.run_cell_magic("qwen", line + " -o r", cell)
    return ip.user_ns["r"]


def cmd(ip: Any, line: str) -> str:
    with capture_output() as cap:
        ip.run_line_magic("qwencmd", line)
    return cap.stdout


@pytest.mark.parametrize("api", ["chat", "responses", "dashscope"])
def test_recorded_then_replayed_gives_the_same_answer(ip, emulator, tmp_path, test_key, api):
    path = tmp_path / "session.jsonl"
    assert "Recording every answer into" in cmd(ip, f"record start {path}")
    emulator.queue(
        Reply(text=f"Careful: your key {test_key} was in the logs.", reasoning="Warn them."),
        Reply(text="Paris is the capital of France.", reasoning="Easy: Paris.", chunks=4),
    )
    ask(ip, f"--api {api} -m qwen3.5-plus", "What did the logs say?")
    first = ask(ip, f"--api {api} -m qwen3.5-plus -t 0.3", "Capital of France?")
    assert "2 answer(s)" in cmd(ip, "record stop")

    data = path.read_bytes()
    assert test_key.encode() not in data  # never the key, in any line
    assert len(read_entries(path)) == 2

    emulator.clear()
    emulator.replay_from(path, speed=0)
    again = ask(ip, f"--api {api} -m qwen3.5-plus -t 0.3", "Capital of France?")
    assert (again.text, again.reasoning) == (first.text, first.reasoning)
    assert again.usage.output_tokens == first.usage.output_tokens
    assert again.usage.input_tokens == first.usage.input_tokens
    masked = ask(ip, f"--api {api} -m qwen3.5-plus", "What did the logs say?")
    assert masked.text.startswith("Careful: your key ") and test_key not in masked.text


def test_a_tool_loop_is_recorded_round_by_round(ip, emulator, tmp_path):
    path = tmp_path / "tools.jsonl"
    ip.run_cell('def get_weather(city: str) -> str:\n    return f"Sunny in {city}"\n')
    cmd(ip, f"record start {path}")
    emulator.queue(
        Reply(tool_calls=[{"name": "get_weather", "arguments": {"city": "Paris"}}]),
        Reply(text="It is sunny in Paris."),
    )
    first = ask(ip, "-m qwen-plus --tools get_weather", "Weather in Paris?")
    cmd(ip, "record stop")
    assert first.text == "It is sunny in Paris."
    assert len(read_entries(path)) == 2

    emulator.clear()
    emulator.replay_from(path, speed=0)
    again = ask(ip, "-m qwen-plus --tools get_weather", "Weather in Paris?")
    assert again.text == "It is sunny in Paris."
    assert [(s.name, s.result) for s in again.tool_calls] == [("get_weather", "Sunny in Paris")]


def test_record_refuses_a_file_that_is_not_a_recording(ip, tmp_path: Path) -> None:
    other = tmp_path / "notes.txt"
    other.write_text("my notes\n", encoding="utf-8")
    with pytest.raises(UsageError, match="not a qwen_magic recording"):
        ip.run_line_magic("qwencmd", f"record start {other}")
    assert other.read_text() == "my notes\n"
    assert "Not recording" in cmd(ip, "record")
