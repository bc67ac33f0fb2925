"""Tools the tests hand to the model, and a way to run a cell and keep what it showed."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from IPython.utils.capture import capture_output

APIS = ("chat", "responses", "dashscope")


class Calls:
    """Records each call of a test tool: its arguments and the thread it ran on."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any], str]] = []

    def record(self, name: str, **arguments: Any) -> None:
        self.seen.append((name, arguments, threading.current_thread().name))

    @property
    def threads(self) -> set[str]:
        return {thread for _, _, thread in self.seen}


def install(ip: Any) -> Calls:
    """``get_weather`` and ``get_time`` in the user namespace, recording their calls."""
    record = Calls()

    def get_weather(city: str, unit: str = "c") -> dict[str, Any]:
        """The current weather in a city.

        Args:
            city: The city's name.
            unit: c or f.
        """
        record.record("get_weather", city=city, unit=unit)
        return {"city": city, "temp": 21 if city == "Paris" else 9, "unit": unit}

    def get_time(city: str) -> str:
        """The local time in a city."""
        record.record("get_time", city=city)
        return f"12:00 in {city}"

    ip.user_ns.update(get_weather=get_weather, get_time=get_time)
    return record


def run(ip: Any, line: str, cell: str) -> tuple[Any, str]:
    """Run ``%%qwen line`` and give its Result and the last static Markdown shown."""
    with capture_output() as cap:
        ip.run_cell_magic("qwen", line, cell)
    shown = [o.data.get("text/markdown") for o in cap.outputs if "text/markdown" in o.data]
    return ip.user_ns["_qwen"], (shown[-1] if shown else "")


def call(name: str, arguments: str, ident: str | None = None) -> dict[str, Any]:
    scripted: dict[str, Any] = {"name": name, "arguments": arguments}
    if ident is not None:
        scripted["id"] = ident
    return scripted


Runner = Callable[[Any, str, str], tuple[Any, str]]
