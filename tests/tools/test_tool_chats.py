"""In a chat (``-c``) the tool turns are history: the next question sends them, on each API,
and a saved chat keeps them, so a loaded one sends the same conversation."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tool_helpers import APIS, Calls, call, run

from qwen_magic.emulator.emulator import GENERATION
from qwen_magic.testing import Reply


def generations(emulator: Any) -> list[Any]:
    return [r for r in emulator.requests if r.protocol in GENERATION]


@pytest.mark.parametrize("api", APIS)
def test_the_next_turn_sends_the_calls_and_their_results(
    ip: Any, emulator: Any, calls: Calls, api: str
) -> None:
    emulator.queue(Reply(tool_calls=[call("get_weather", '{"city": "Paris"}')]), Reply())
    first, _ = run(ip, f"--api {api} -c trip --tools get_weather", "Weather in Paris?")
    call_id = first.tool_calls[0].call_id
    emulator.queue(Reply(text="Pack light."))
    run(ip, f"--api {api} -c trip", "What should I pack?")
    later = generations(emulator)[-1]
    (kept,) = later.tool_results  # the first turn's call and result are history now
    assert kept["call_id"] == call_id and json.loads(kept["output"])["temp"] == 21
    assert later.status == 200  # the service would refuse an unanswered call or an orphan
    (turn,) = ip.magics_obj.chats.get("trip").turns[:1]
    assert [m["role"] for m in turn.messages()] == ["user", "assistant", "tool", "assistant"]
    assert turn.messages()[1]["tool_calls"][0]["function"]["name"] == "get_weather"
    assert turn.answer == first.text  # the last round's answer


def test_a_saved_chat_keeps_its_tool_turns_and_a_loaded_one_sends_them(
    ip: Any, emulator: Any, calls: Calls, tmp_path: Any
) -> None:
    emulator.queue(
        Reply(text="Let me look.", tool_calls=[call("get_weather", '{"city": "Paris"}')]),
        Reply(text="It is 21 degrees."),
    )
    run(ip, "-c trip --tools get_weather", "Weather in Paris?")
    path = tmp_path / "trip.json"
    ip.run_line_magic("qwencmd", f"save trip {path}")
    saved = json.loads(path.read_text())
    assert saved["version"] == 2
    (turn,) = saved["turns"]
    assert turn["answer"] == "It is 21 degrees."
    assistant, tool = turn["tool_messages"]
    assert assistant["content"] == "Let me look."
    assert assistant["tool_calls"][0]["function"]["arguments"] == '{"city": "Paris"}'
    assert json.loads(tool["content"]) == {"city": "Paris", "temp": 21, "unit": "c"}

    ip.run_line_magic("qwencmd", f"load again {path}")
    for api in APIS:
        emulator.queue(Reply(text="ok"))
        result, _ = run(ip, f"--api {api} -c again", "And tomorrow?")
        assert result.ok, result.error
        sent = generations(emulator)[-1]
        assert [r["call_id"] for r in sent.tool_results] == [tool["tool_call_id"]]
        ip.run_line_magic("qwencmd", f"load again {path}")  # back to the saved turns
