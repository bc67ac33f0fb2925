"""Stop ends the tool loop between or during rounds and keeps what happened; a ``confirm=True``
tool asks with Run/Skip in the live view, and is refused where no one can click unless
``--yes``. The cell runs as the kernel's coroutine (``qwen_async``), as in a notebook."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

import pytest
from IPython.utils.capture import capture_output
from tool_helpers import Calls, call, run

import qwen_magic
from qwen_magic.emulator.emulator import GENERATION
from qwen_magic.render.live import LiveRenderer
from qwen_magic.render.tools import ToolRows
from qwen_magic.testing import Reply

NOT_ALLOWED = "the user did not allow this call"


def generations(emulator: Any) -> list[Any]:
    return [r for r in emulator.requests if r.protocol in GENERATION]


def run_async(magics: Any, line: str, cell: str) -> tuple[Any, str]:
    """The cell as a notebook runs it: awaited, so clicks arrive while it runs."""
    with capture_output() as cap:
        asyncio.run(magics.qwen_async(line, cell))
    shown = [o.data["text/markdown"] for o in cap.outputs if "text/markdown" in o.data]
    return magics.shell.user_ns["_qwen"], (shown[-1] if shown else "")


@pytest.fixture
def views(monkeypatch: pytest.MonkeyPatch) -> list[LiveRenderer]:
    """Every live view started, so a test can click its buttons as a browser would."""
    started: list[LiveRenderer] = []
    original = LiveRenderer.start

    def start(self: LiveRenderer, requests: Any, on_stop: Any) -> None:
        started.append(self)
        original(self, requests, on_stop)

    monkeypatch.setattr(LiveRenderer, "start", start)
    return started


@pytest.fixture
def delete_file(ip: Any) -> list[str]:
    deleted: list[str] = []

    @qwen_magic.tool(confirm=True)
    def delete_file(path: str) -> str:
        """Delete a file."""
        deleted.append(path)
        return f"deleted {path}"

    ip.user_ns["delete_file"] = delete_file
    return deleted


def test_stop_while_the_answer_streams_keeps_the_calls_and_the_partial_answer(
    magics: Any, emulator: Any, calls: Calls, views: list[LiveRenderer], monkeypatch: Any
) -> None:
    emulator.queue(
        Reply(tool_calls=[call("get_weather", '{"city": "Paris"}')]),
        Reply(text="word " * 200, chunks=200, delay=0.02, reasoning=""),
    )
    original = LiveRenderer.update

    def update(self: LiveRenderer, results: Sequence[Any], ended: Sequence[bool] = ()) -> None:
        original(self, results, ended)
        if any(r is not None and r.text.startswith("word") for r in results):
            self.stop_button.click()  # what a browser's click does

    monkeypatch.setattr(LiveRenderer, "update", update)
    result, markdown = run_async(magics, "--tools get_weather", "Weather?")
    assert len(views) == 1  # one live view for both rounds
    assert result.interrupted and result.error is None
    assert 0 < len(result.text.split()) < 200  # the partial answer is kept
    assert [s.status for s in result.tool_calls] == ["ok"] and len(calls.seen) == 1
    assert len(generations(emulator)) == 2
    assert "■ Stopped" in markdown and "<details><summary>🔧" in markdown


def test_stop_between_calls_runs_no_more_calls_and_no_more_rounds(
    ip: Any, magics: Any, emulator: Any, calls: Calls, views: list[LiveRenderer]
) -> None:
    def press_stop() -> str:
        """Stands for the user clicking Stop while this call runs."""
        views[-1].stop_button.click()
        return "pressed"

    ip.user_ns["press_stop"] = press_stop
    asked = [call("press_stop", "{}"), call("get_weather", '{"city": "Paris"}')]
    emulator.queue(Reply(tool_calls=asked), Reply())
    result, markdown = run_async(magics, "--tools press_stop,get_weather", "Go.")
    assert [s.status for s in result.tool_calls] == ["ok", "stopped"]
    assert calls.seen == [] and len(generations(emulator)) == 1 and emulator.pending == 1
    assert result.interrupted
    assert "■ stopped" in markdown and "■ Stopped" in markdown


def test_an_interrupt_during_a_call_stops_the_loop(ip: Any, emulator: Any) -> None:
    def slow() -> str:
        raise KeyboardInterrupt  # Ctrl-C (the kernel's interrupt) while the call runs

    ip.user_ns["slow"] = slow
    emulator.queue(Reply(tool_calls=[call("slow", "{}")]), Reply())
    result, _ = run(ip, "--tools slow", "Go.")
    assert result.interrupted and [s.status for s in result.tool_calls] == ["stopped"]
    assert len(generations(emulator)) == 1


@pytest.mark.parametrize("clicked", ["Run", "Skip"])
def test_a_confirm_tool_asks_with_run_and_skip_in_the_live_view(
    magics: Any, emulator: Any, delete_file: list[str], monkeypatch: Any, clicked: str
) -> None:
    asked: list[str] = []
    original = ToolRows.ask

    def ask(self: ToolRows, step: Any, on_answer: Any) -> None:
        original(self, step, on_answer)
        text, run_button, skip_button = self.question.children
        asked.append(text.value)
        button = run_button if clicked == "Run" else skip_button
        asyncio.get_running_loop().call_later(0.05, button.click)  # the user, a moment later

    monkeypatch.setattr(ToolRows, "ask", ask)
    emulator.queue(Reply(tool_calls=[call("delete_file", '{"path": "a.txt"}')]), Reply())
    result, markdown = run_async(magics, "--tools delete_file", "Delete a.txt")
    assert len(asked) == 1 and "delete_file(path=&quot;a.txt&quot;)" in asked[0]
    (sent,) = generations(emulator)[1].tool_results
    (step,) = result.tool_calls
    if clicked == "Run":
        assert delete_file == ["a.txt"] and sent["output"] == "deleted a.txt"
        assert step.status == "ok"
    else:
        assert delete_file == [] and sent["output"] == NOT_ALLOWED
        assert step.status == "skipped" and "⊘ skipped" in markdown


def test_stop_while_a_confirm_tool_waits_ends_the_loop(
    magics: Any, emulator: Any, delete_file: list[str], views: list[LiveRenderer], monkeypatch: Any
) -> None:
    original = ToolRows.ask

    def ask(self: ToolRows, step: Any, on_answer: Any) -> None:
        original(self, step, on_answer)
        asyncio.get_running_loop().call_later(0.05, views[-1].stop_button.click)

    monkeypatch.setattr(ToolRows, "ask", ask)
    emulator.queue(Reply(tool_calls=[call("delete_file", '{"path": "a.txt"}')]), Reply())
    result, _ = run_async(magics, "--tools delete_file", "Delete a.txt")
    assert delete_file == [] and result.interrupted
    assert [s.status for s in result.tool_calls] == ["stopped"]
    assert len(generations(emulator)) == 1


def test_a_confirm_tool_is_refused_in_a_headless_run_unless_yes(
    ip: Any, emulator: Any, delete_file: list[str], monkeypatch: Any
) -> None:
    import qwen_magic.ipython.kernel as kernel

    monkeypatch.setattr(kernel, "frontend_takes_input", lambda shell: False)  # nbclient's way
    emulator.queue(Reply(tool_calls=[call("delete_file", '{"path": "a.txt"}')]), Reply())
    result, markdown = run(ip, "--tools delete_file", "Delete a.txt")
    assert delete_file == []
    (sent,) = generations(emulator)[1].tool_results
    assert sent["output"] == NOT_ALLOWED  # the model is told
    (step,) = result.tool_calls
    assert step.status == "refused" and "headless" in (step.error or "")
    assert "--yes" in (step.error or "") and "⊘ not run" in markdown  # ... and so is the user
    assert result.ok  # the model answered anyway

    emulator.queue(Reply(tool_calls=[call("delete_file", '{"path": "b.txt"}')]), Reply())
    result, _ = run(ip, "--tools delete_file --yes", "Delete b.txt")
    assert delete_file == ["b.txt"] and result.tool_calls[0].status == "ok"
    assert generations(emulator)[-1].tool_results[0]["output"] == "deleted b.txt"


def test_a_confirm_tool_is_refused_where_no_click_could_arrive(
    ip: Any, emulator: Any, delete_file: list[str]
) -> None:
    emulator.queue(Reply(tool_calls=[call("delete_file", '{"path": "a.txt"}')]), Reply())
    result, _ = run(ip, "--tools delete_file", "Delete a.txt")  # not awaited: no click arrives
    assert delete_file == [] and result.tool_calls[0].status == "refused"
    assert "coroutine" in (result.tool_calls[0].error or "")
    emulator.queue(Reply(tool_calls=[call("delete_file", '{"path": "a.txt"}')]), Reply())
    result, _ = run(ip, "--tools delete_file -q", "Delete a.txt")
    assert "nothing is displayed" in (result.tool_calls[0].error or "")
    assert json.loads(json.dumps(result.tool_calls[0].result)) == NOT_ALLOWED
