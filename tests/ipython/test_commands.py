"""%qwencmd: configuration, key, models, usage, emulator, debug."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

from qwen_magic import masking
from qwen_magic.testing import Reply


def cmd(ip, line: str):
    with capture_output() as cap:
        value = ip.run_line_magic("qwencmd", line)
    return value, cap


def test_config_shows_effective_settings_and_the_key_masked(ip, magics, test_key) -> None:
    magics.use_emulator(None)
    table, _ = cmd(ip, "config")
    text = repr(table) + table._repr_markdown_()
    assert test_key not in text
    assert masking.mask(test_key) in text and "$DASHSCOPE_API_KEY" in text
    assert "https://dashscope-intl.aliyuncs.com/compatible-mode/v1" in text
    assert "https://dashscope-intl.aliyuncs.com/api/v1" in text
    assert "'qwen3.5-plus'" in text


def test_key_is_asked_with_getpass_and_kept_in_memory(ip, magics, monkeypatch, emulator):
    monkeypatch.setattr("getpass.getpass", lambda prompt: "sk-typed-in-session-1234")
    monkeypatch.delenv("DASHSCOPE_API_KEY")
    magics.use_emulator(None)
    magics.base_url = emulator.compat_base
    magics.send_key_to_base_url = True  # a local URL gets the key only when asked
    _, cap = cmd(ip, "key")
    assert "sk-…1234" in cap.stdout and "sk-typed-in-session-1234" not in cap.stdout
    with capture_output():
        ip.run_cell_magic("qwen", "-q", "Hi")
    assert emulator.last.api_key == "sk-typed-in-session-1234"
    table, _ = cmd(ip, "config")
    assert "sk-…1234 (from %qwencmd key)" in table._repr_markdown_()


def test_key_on_the_command_line_is_refused(ip) -> None:
    with pytest.raises(UsageError, match="saved in the notebook"):
        ip.run_line_magic("qwencmd", "key sk-abc")


def test_models_lists_the_endpoint_models(ip, emulator) -> None:
    table, _ = cmd(ip, "models")
    names = [row[0] for row in table.rows[1:]]
    assert "qwen3.5-plus" in names and "qwen-plus" in names
    assert emulator.requests[-1].protocol == "models"


def test_usage_adds_up_per_model(ip, emulator) -> None:
    emulator.queue(Reply(text="a b", reasoning=""), Reply(text="c", reasoning=""))
    with capture_output():
        ip.run_cell_magic("qwen", "-q -m qwen-plus", "one")
        ip.run_cell_magic("qwen", "-q -m qwen-plus", "two")
    table, _ = cmd(ip, "usage")
    row = next(r for r in table.rows if r[0] == "qwen-plus")
    calls, input_tokens, output_tokens = row[1], int(row[2]), row[3]
    assert (calls, output_tokens) == ("2", "3") and input_tokens > 0


def test_emulator_start_and_stop(ip, magics) -> None:
    magics.use_emulator(None)
    _, cap = cmd(ip, "emulator start")
    assert "Emulator running at http://127.0.0.1:" in cap.stdout
    started = magics.emulator
    with capture_output():
        ip.run_cell_magic("qwen", "-q", "Ping")
    assert ip.user_ns["_qwen"].text == "Echo: Ping"
    cmd(ip, "emulator stop")
    assert magics.emulator is None and not started.running


def test_unknown_command_lists_the_known_ones(ip) -> None:
    with pytest.raises(UsageError, match="config, key, models"):
        ip.run_line_magic("qwencmd", "bogus")
