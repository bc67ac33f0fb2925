"""``%%qwen --tools f`` on each API, against the emulator: the model asks, the function runs on
the kernel's thread, its real return value goes back, and the answer uses it."""

from __future__ import annotations

import html
import json
import re
import threading
from typing import Any

import pytest
from tool_helpers import APIS, Calls, call, run

from qwen_magic.emulator.emulator import GENERATION
from qwen_magic.testing import Reply

PARIS = {"city": "Paris", "temp": 21, "unit": "c"}


def generations(emulator: Any) -> list[Any]:
    return [r for r in emulator.requests if r.protocol in GENERATION]


def summaries(markdown: str) -> list[str]:
    """The tool rows of a static output, as a reader sees them."""
    return [html.unescape(s) for s in re.findall(r"<details><summary>🔧 (.*?)</summary>", markdown)]


@pytest.mark.parametrize("api", APIS)
def test_one_call_runs_on_the_main_thread_and_the_answer_uses_its_value(
    ip: Any, emulator: Any, calls: Calls, api: str
) -> None:
    emulator.queue(Reply(tool_calls=[call("get_weather", '{"city": "Paris"}')]), Reply())
    result, markdown = run(ip, f"--api {api} --tools get_weather", "Weather in Paris?")
    assert calls.seen == [("get_weather", {"city": "Paris", "unit": "c"}, "MainThread")]
    assert threading.main_thread().name == "MainThread"
    first, second = generations(emulator)
    assert first.tools == ["get_weather"] and first.tool_results == []
    (sent,) = second.tool_results  # the function's real return value went back
    assert json.loads(sent["output"]) == PARIS
    assert '"temp": 21' in result.text  # ... and the answer was made from it
    assert [s.kind for s in result.steps] == ["model", "tool", "model"]
    (step,) = result.tool_calls
    assert (step.name, step.status, step.value, step.call_id) == (
        "get_weather", "ok", PARIS, sent["call_id"],
    )  # fmt: skip
    assert json.loads(step.arguments) == {"city": "Paris"} and step.seconds is not None
    assert result.ok and result.finish_reason == "stop"
    (row,) = summaries(markdown)
    assert row.startswith('get_weather(city="Paris") → {"city": "Paris", "temp": 21')
    assert row.endswith(" s")
    assert markdown.index("<details><summary>🔧") < markdown.index("Echo:")  # rows, then answer


@pytest.mark.parametrize("api", APIS)
def test_parallel_calls_run_in_order_and_each_result_goes_back(
    ip: Any, emulator: Any, calls: Calls, api: str
) -> None:
    asked = [
        call("get_weather", '{"city": "Paris"}'),
        call("get_time", '{"city": "Oslo"}'),
        call("get_weather", '{"city": "Oslo", "unit": "f"}'),
    ]
    emulator.queue(Reply(tool_calls=asked, interleave=True), Reply())
    result, markdown = run(ip, f"--api {api} --tools get_weather,get_time", "Paris and Oslo?")
    assert [(name, args) for name, args, _ in calls.seen] == [
        ("get_weather", {"city": "Paris", "unit": "c"}),
        ("get_time", {"city": "Oslo"}),
        ("get_weather", {"city": "Oslo", "unit": "f"}),
    ]
    assert calls.threads == {"MainThread"}  # one after another, on the kernel's thread
    outputs = [r["output"] for r in generations(emulator)[1].tool_results]
    assert [json.loads(o) if o.startswith("{") else o for o in outputs] == [
        PARIS, "12:00 in Oslo", {"city": "Oslo", "temp": 9, "unit": "f"},
    ]  # fmt: skip
    assert [s.name for s in result.tool_calls] == ["get_weather", "get_time", "get_weather"]
    assert len(summaries(markdown)) == 3


def test_thread_safe_tools_may_run_at_the_same_time(ip: Any, emulator: Any) -> None:
    import qwen_magic

    both_in = threading.Barrier(2, timeout=5)  # passes only if both calls run at once
    threads: list[str] = []

    @qwen_magic.tool(thread_safe=True)
    def slow_lookup(key: str) -> str:
        threads.append(threading.current_thread().name)
        both_in.wait()
        return key.upper()

    ip.user_ns["slow_lookup"] = slow_lookup
    asked = [call("slow_lookup", '{"key": "a"}'), call("slow_lookup", '{"key": "b"}')]
    emulator.queue(Reply(tool_calls=asked), Reply())
    result, _ = run(ip, "--tools slow_lookup", "Look up a and b.")
    assert sorted(threads) == ["qwen-tool-slow_lookup"] * 2
    assert [s.result for s in result.tool_calls] == ["A", "B"]  # results in the order asked
    assert [r["output"] for r in generations(emulator)[1].tool_results] == ["A", "B"]


@pytest.mark.parametrize("api", APIS)
def test_a_raising_tool_sends_its_exception_back_and_shows_it(
    ip: Any, emulator: Any, api: str
) -> None:
    def divide(a: int, b: int) -> float:
        return a / b

    ip.user_ns["divide"] = divide
    emulator.queue(Reply(tool_calls=[call("divide", '{"a": 1, "b": 0}')]), Reply())
    result, markdown = run(ip, f"--api {api} --tools divide", "1/0?")
    (sent,) = generations(emulator)[1].tool_results
    assert sent["output"] == "Error: ZeroDivisionError: division by zero"
    (step,) = result.tool_calls
    assert step.status == "error" and step.error == "ZeroDivisionError: division by zero"
    assert result.ok  # the model answered: the loop went on
    (row,) = summaries(markdown)
    assert row.startswith("divide(a=1, b=0) → ⚠ ZeroDivisionError: division by zero")
    inside = markdown.split("🔧", 1)[1].split("</summary>", 1)[1].split("</details>")[0]
    assert "ZeroDivisionError: division by zero" in inside  # the whole error, unfolded


def test_bad_arguments_and_unknown_tools_are_told_to_the_model(
    ip: Any, emulator: Any, calls: Calls
) -> None:
    asked = [call("get_weather", "{not json"), call("get_forecast", "{}"), call("get_time", "{}")]
    emulator.queue(Reply(tool_calls=asked), Reply())
    result, _ = run(ip, "--tools get_weather,get_time", "Hi")
    outputs = [r["output"] for r in generations(emulator)[1].tool_results]
    assert outputs[0].startswith("Error: the arguments are not valid JSON")
    assert outputs[1] == (
        "Error: there is no tool named 'get_forecast' (the tools: get_weather, get_time)"
    )
    assert outputs[2].startswith("Error: TypeError:") and "city" in outputs[2]
    assert calls.seen == [] and result.ok


@pytest.mark.parametrize("api", APIS)
def test_max_rounds_stops_the_loop_with_a_clear_error(
    ip: Any, emulator: Any, calls: Calls, api: str
) -> None:
    again = Reply(tool_calls=[call("get_weather", '{"city": "Paris"}')])
    emulator.queue(again, again, again, again)
    result, markdown = run(ip, f"--api {api} --tools get_weather --max-rounds 2", "Loop.")
    assert len(generations(emulator)) == 2 and len(calls.seen) == 1
    assert result.error is not None and result.error.kind == "tools"
    assert "after 2 rounds (get_weather)" in result.error.message
    assert [s.status for s in result.tool_calls] == ["ok", "not run"]
    assert "⚠ The tool loop stopped" in markdown and "--max-rounds" in markdown
    assert emulator.pending == 2  # nothing more was asked


def test_the_default_is_eight_rounds(ip: Any, emulator: Any, calls: Calls) -> None:
    emulator.queue(*[Reply(tool_calls=[call("get_time", '{"city": "Rome"}')])] * 9)
    result, _ = run(ip, "--tools get_time", "Loop.")
    assert len(generations(emulator)) == 8 and len(calls.seen) == 7
    assert result.error is not None and "after 8 rounds" in result.error.message


@pytest.mark.parametrize("api", APIS)
def test_tool_choice_is_sent_and_a_forced_tool_is_forced_once(
    ip: Any, emulator: Any, calls: Calls, api: str
) -> None:
    emulator.queue(Reply(tool_calls=[call("get_time", '{"city": "Rome"}')]), Reply())
    run(ip, f"--api {api} --tools get_weather,get_time --tool-choice get_time", "Time?")
    first, second = generations(emulator)
    assert "get_time" in json.dumps(first.tool_choice)
    assert second.tool_choice == "auto"


def test_ask_takes_functions_as_tools(ip: Any, emulator: Any) -> None:
    import qwen_magic

    seen: list[str] = []

    def shout(text: str) -> str:
        """Upper-case the text."""
        seen.append(threading.current_thread().name)
        return text.upper()

    emulator.queue(Reply(tool_calls=[call("shout", '{"text": "hi"}')]), Reply())
    result = qwen_magic.ask("Shout hi.", tools=[shout], quiet=True)
    assert seen == ["MainThread"] and result.tool_calls[0].result == "HI"
    assert "HI" in result.text


def test_results_are_cut_to_a_budget(ip: Any, emulator: Any) -> None:
    def big() -> str:
        return "x" * 100_000

    ip.user_ns["big"] = big
    emulator.queue(Reply(tool_calls=[call("big", "{}")]), Reply())
    result, _ = run(ip, "--tools big", "Big?")
    (sent,) = generations(emulator)[1].tool_results
    assert len(sent["output"]) < 16_100 and "[cut: 100,000 characters in all" in sent["output"]
    assert result.tool_calls[0].value == big()  # the whole value stays in the Result
