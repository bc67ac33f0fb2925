"""How tool calls look: live, a folded section of rows above the streaming answer; in a
terminal, a line per call (and a y/N question for a confirm tool)."""

from __future__ import annotations

import html
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

from tool_helpers import Calls, call, run

from qwen_magic.render.live import LiveRenderer
from qwen_magic.testing import Reply


def test_live_rows_are_folded_above_the_answer(
    ip: Any, emulator: Any, calls: Calls, monkeypatch: Any
) -> None:
    seen: dict[str, Any] = {}
    original = LiveRenderer.finish

    def finish(self: LiveRenderer, results: Sequence[Any]) -> None:
        panel = self.panels[0]
        children = list(panel.widget.children)
        seen.update(
            title=panel.tool_rows.fold.get_title(0),
            folded=panel.tool_rows.fold.selected_index is None,
            rows=panel.tool_rows.rows.value,
            before_answer=children.index(panel.tool_rows.widget) < children.index(panel.answer.box),
        )
        original(self, results)

    monkeypatch.setattr(LiveRenderer, "finish", finish)
    asked = [call("get_weather", '{"city": "Paris"}'), call("get_time", '{"city": "<b>"}')]
    emulator.queue(Reply(tool_calls=asked), Reply())
    result, _ = run(ip, "--tools get_weather,get_time", "Hi")
    assert seen["folded"] and seen["before_answer"]
    assert seen["title"].startswith("🔧 2 tool calls")
    assert 'get_weather(city="Paris") → {"city": "Paris"' in html.unescape(seen["rows"])
    assert "<b>" not in seen["rows"]  # the model's arguments are text, never HTML
    assert result.text.startswith("Echo:")


def test_no_tools_no_tool_widgets(ip: Any, emulator: Any, monkeypatch: Any) -> None:
    panels: list[Any] = []
    original = LiveRenderer.finish

    def finish(self: LiveRenderer, results: Sequence[Any]) -> None:
        panels.extend(self.panels)
        original(self, results)

    monkeypatch.setattr(LiveRenderer, "finish", finish)
    run(ip, "", "Hi")
    assert panels[0].tool_rows is None and panels[0].sources is None


TERMINAL = r"""
from IPython.testing.globalipapp import start_ipython
ip = start_ipython()
ip.run_line_magic("load_ext", "qwen_magic")
ip.run_line_magic("qwencmd", "emulator start")
from qwen_magic.ipython import magics_of
from qwen_magic.testing import Reply
import qwen_magic

@qwen_magic.tool(confirm=True)
def remove(path: str) -> str:
    return "removed " + path

def get_weather(city: str) -> dict:
    return {"temp": 21}

ip.user_ns.update(remove=remove, get_weather=get_weather)
magics_of(ip).emulator.queue(
    Reply(tool_calls=[{"name": "get_weather", "arguments": '{"city": "Paris"}'},
                      {"name": "remove", "arguments": '{"path": "a.txt"}'}]),
    Reply(reasoning=""),
)
print("=== cell ===")
ip.run_cell("%%qwen --tools get_weather,remove\nGo")
print("=== after ===")
print("sent:", [r["output"] for r in magics_of(ip).emulator.last.tool_results])
"""


def test_a_terminal_prints_a_line_per_call_and_asks_y_or_n() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", TERMINAL], input="y\n", capture_output=True, text=True,
        timeout=120, check=True,
    )  # fmt: skip
    cell = proc.stdout.split("=== cell ===\n", 1)[1].split("=== after ===", 1)[0]
    assert '[tool] get_weather(city="Paris") → {"temp": 21} · ' in cell
    assert 'Run remove(path="a.txt")? [y/N]' in cell
    assert '[tool] remove(path="a.txt") → removed a.txt · ' in cell
    assert cell.index("[tool] get_weather") < cell.index("Echo:")
    assert "sent: ['{\"temp\": 21}', 'removed a.txt']" in proc.stdout
