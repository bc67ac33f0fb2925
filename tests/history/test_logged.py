"""Every call is appended to the local history, with what was asked and what came back, by
every way of asking; never the key; nothing when the history is off."""

from __future__ import annotations

import json
import time

import pytest
from IPython.core.error import UsageError

import qwen_magic
from qwen_magic.emulator import Reply
from tests.history.conftest import rows


def test_a_cell_is_logged_with_its_prompt_options_answer_and_usage(ip, emulator, log_file):
    emulator.queue(Reply(text="Plants turn light into sugar.", reasoning="Think of leaves."))
    before = time.time()
    ip.run_cell_magic(
        "qwen", "-m qwen-plus --think -t 0.3 --max-tokens 80 -o r", "What is photosynthesis?"
    )
    result = ip.user_ns["r"]
    (row,) = rows(log_file)
    assert row["prompt"] == "What is photosynthesis?"
    assert row["answer"] == result.text == "Plants turn light into sugar."
    assert row["reasoning"] == "Think of leaves."
    assert (row["model"], row["api"], row["kind"]) == ("qwen-plus", "chat", "ask")
    options = json.loads(row["options"])
    assert options["temperature"] == 0.3 and options["max_tokens"] == 80
    usage = json.loads(row["usage"])
    assert usage["input_tokens"] == result.usage.input_tokens > 0
    assert row["output_tokens"] == result.usage.output_tokens > 0
    assert before <= row["time"] <= time.time()
    assert row["elapsed"] == pytest.approx(result.elapsed)
    assert row["execution_count"] == ip.execution_count
    cost = getattr(result, "cost", None)
    if cost is not None and getattr(cost, "amount", None) is not None:  # the price table's
        assert row["cost"] == pytest.approx(cost.amount)


def test_the_key_is_nowhere_in_the_file(ip, emulator, log_file, test_key):
    """Not even when the prompt and the answer hold it: the file is scanned byte by byte."""
    emulator.queue(Reply(text=f"Your key is {test_key}, keep it safe."))
    ip.user_ns["k"] = test_key
    ip.run_cell_magic("qwen", "--eval -o r", "Remember {k} for me")
    qwen_magic.ask(f"Say {test_key} twice", system=f"key {test_key}")
    assert len(rows(log_file)) == 2
    files = [p for p in log_file.parent.iterdir() if p.name.startswith(log_file.name)]
    assert files  # the database, and its WAL
    for path in files:
        data = path.read_bytes()
        for form in (test_key, test_key[3:-3], test_key.upper()):
            assert form.encode() not in data, path.name
        assert test_key.encode("utf-16-le") not in data


def test_ask_each_item_and_each_variant_are_rows(ip, emulator, log_file):
    qwen_magic.ask("Hello from Python", model="qwen-max")
    ip.user_ns["fruits"] = ["apple", "pear", "plum"]
    ip.run_cell_magic("qwen", "--each fruits -q", "Colour of {item}?")
    ip.run_cell_magic("qwen", "-m qwen-plus,qwen-max -q", "Compare me")
    logged = [(r["kind"], r["model"], r["prompt"]) for r in rows(log_file)]
    assert logged == [
        ("ask", "qwen-max", "Hello from Python"),
        ("each", "qwen3.5-plus", "Colour of apple?"),
        ("each", "qwen3.5-plus", "Colour of pear?"),
        ("each", "qwen3.5-plus", "Colour of plum?"),
        ("compare", "qwen-plus", "Compare me"),
        ("compare", "qwen-max", "Compare me"),
    ]


def test_a_failed_call_is_logged_with_its_error(ip, emulator, log_file):
    emulator.queue(Reply(fault="http_429", retry_after="0"), Reply(fault="http_429"))
    emulator.queue(Reply(fault="http_429"))
    ip.run_cell_magic("qwen", "-q", "Will this work?")
    (row,) = rows(log_file)
    assert row["prompt"] == "Will this work?" and row["answer"] == ""
    assert "429" in row["error"]


def test_fix_is_logged_as_a_fix(ip, emulator, log_file):
    with pytest.raises(ZeroDivisionError):
        ip.run_cell("1 / 0")
    ip.run_line_magic("qwen", "--fix -q")
    (row,) = rows(log_file)
    assert row["kind"] == "fix" and "ZeroDivisionError" in row["prompt"]


def test_images_are_kept_as_references_not_payloads(ip, emulator, log_file, tmp_path):
    from PIL import Image

    picture = tmp_path / "cat.png"
    Image.new("RGB", (640, 480), "orange").save(picture)
    ip.run_cell_magic("qwen", f"-m qwen-vl-plus -i {picture} -q", "What colour?")
    (row,) = rows(log_file)
    (media,) = json.loads(row["media"])
    assert media["source"] == str(picture) and media["size"] == [640, 480]
    assert media["bytes"] > 1000
    assert len(row["media"]) < media["bytes"]  # a thumbnail at most, never the image sent
    assert row["prompt"] == "What colour?"


def test_history_off_logs_nothing(ip, emulator, log_file):
    ip.run_line_magic("config", "QwenMagics.history = False")
    ip.run_cell_magic("qwen", "-q", "Not for the record")
    qwen_magic.ask("Nor this")
    assert not log_file.exists() or rows(log_file) == []
    ip.run_line_magic("config", "QwenMagics.history = True")
    ip.run_cell_magic("qwen", "-q", "For the record")
    assert [r["prompt"] for r in rows(log_file)] == ["For the record"]


def test_history_path_puts_the_log_elsewhere(ip, emulator, log_file, tmp_path):
    elsewhere = tmp_path / "class" / "log.sqlite3"
    ip.run_line_magic("config", f"QwenMagics.history_path = {str(elsewhere)!r}")
    ip.run_cell_magic("qwen", "-q", "Where am I kept?")
    assert [r["prompt"] for r in rows(elsewhere)] == ["Where am I kept?"]
    assert not log_file.exists()
    table = ip.run_line_magic("qwencmd", "log")
    assert [e.prompt for e in table] == ["Where am I kept?"]


def test_a_folder_as_history_path_is_refused_at_config(ip, tmp_path, caplog):
    ip.run_line_magic("config", f"QwenMagics.history_path = {str(tmp_path)!r}")
    assert "is a folder: give a file in it" in caplog.text  # said at once, as one line
    assert ip.magics_obj.history_path is None


def test_an_unwritable_log_never_costs_the_answer(ip, emulator, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    ip.run_line_magic("config", f"QwenMagics.history_path = {str(blocker / 'log.sqlite3')!r}")
    ip.run_cell_magic("qwen", "-q -o r", "Still answered?")
    assert ip.user_ns["r"].text == "Echo: Still answered?"
    err = capsys.readouterr().err
    assert "not added to the history" in err
    assert err.count("QwenMagics.history = False") == 1 and ".." not in err  # said once


def test_unknown_log_command_is_a_usage_error(ip):
    with pytest.raises(UsageError, match="Unknown `%qwencmd log frobnicate`"):
        ip.run_line_magic("qwencmd", "log frobnicate")
    with pytest.raises(UsageError, match="--since 'soon'"):
        ip.run_line_magic("qwencmd", "log --since soon")


def test_the_log_is_readable_by_its_owner_only(ip, emulator, log_file):
    ip.run_cell_magic("qwen", "-q", "A private question")
    assert log_file.stat().st_mode & 0o077 == 0


def test_a_tool_loop_is_one_row_with_its_calls_summarized(ip, emulator, log_file):
    def get_weather(city: str) -> dict:
        """The current weather in a city."""
        return {"city": city, "temp": 21}

    ip.user_ns["get_weather"] = get_weather
    call = {"id": "call_1", "name": "get_weather", "arguments": '{"city": "Paris"}'}
    emulator.queue(Reply(tool_calls=[call]), Reply(text="It is 21 degrees in Paris."))
    ip.run_cell_magic("qwen", "--tools get_weather -q", "Weather in Paris?")
    (row,) = rows(log_file)
    assert row["kind"] == "tools" and row["prompt"] == "Weather in Paris?"
    assert json.loads(row["options"])["tools"] == ["get_weather"]
    steps = json.loads(row["steps"])
    (tool,) = [s for s in steps if s["kind"] == "tool"]
    assert (tool["name"], tool["status"]) == ("get_weather", "ok")
    assert json.loads(tool["arguments"]) == {"city": "Paris"}
    assert json.loads(tool["result"]) == {"city": "Paris", "temp": 21}
