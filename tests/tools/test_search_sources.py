"""``--search``: with ``--api dashscope`` and ``--api responses`` the sources are listed under
the answer, numbered as its ``[ref_N]`` markers (which link to them), and kept in
``Result.sources``; ``--api chat`` returns none, and says so once."""

from __future__ import annotations

from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

from qwen_magic.testing import Reply

FOUND = [
    ("Paris weather today", "https://weather.example.org/paris", "weather.example.org"),
    ("Météo <b>Paris</b> [live]", "https://meteo.example.fr/paris?x=1&y=(2)"),
]


def ask(ip: Any, line: str) -> tuple[Any, str, str]:
    with capture_output() as cap:
        ip.run_cell_magic("qwen", line, "Weather in Paris today?")
    markdown = [o.data["text/markdown"] for o in cap.outputs if "text/markdown" in o.data][-1]
    return ip.user_ns["_qwen"], markdown, cap.stderr


@pytest.mark.parametrize("api", ["dashscope", "responses"])
def test_sources_are_listed_and_numbered_as_the_markers(ip: Any, emulator: Any, api: str) -> None:
    emulator.queue(Reply(sources=FOUND))
    result, markdown, stderr = ask(ip, f"--api {api} --search")
    assert emulator.last.search
    assert [(s.index, s.title, s.url) for s in result.sources] == [
        (1, "Paris weather today", "https://weather.example.org/paris"),
        (2, "Météo <b>Paris</b> [live]", "https://meteo.example.fr/paris?x=1&y=(2)"),
    ]
    assert "[ref_1][ref_2]" in result.text  # the answer's markers, as sent
    answer, listed = markdown.split("**Sources**")
    # each marker links to its source; the list under the answer has the same numbers
    assert "[\\[1\\]](https://weather.example.org/paris)" in answer
    assert "[\\[2\\]](https://meteo.example.fr/paris?x=1&y=%282%29)" in answer
    assert "1. [Paris weather today — weather.example.org](https://weather.example.org/paris)" in (
        listed
    )
    assert "2. [Météo &#60;b&#62;Paris&#60;/b&#62; \\[live\\]" in listed  # a title is text
    assert "<b>" not in markdown and stderr == ""


def test_a_marker_without_a_source_stays_as_written(ip: Any, emulator: Any) -> None:
    emulator.queue(Reply(text="See [ref_1] and [ref_7].", sources=FOUND[:1]))
    result, markdown, _ = ask(ip, "--api dashscope --search")
    assert "[\\[1\\]](https://weather.example.org/paris)" in markdown
    assert "[ref_7]" in markdown.replace("\\", "")


def test_the_chat_api_says_once_that_it_returns_no_sources(ip: Any, emulator: Any) -> None:
    emulator.queue(Reply(sources=FOUND), Reply(sources=FOUND))
    result, markdown, stderr = ask(ip, "--api chat --search")
    assert emulator.last.search and result.sources == []
    assert "this API returns no sources" in stderr and "--api dashscope" in stderr
    assert "**Sources**" not in markdown
    _, _, again = ask(ip, "--api chat --search")
    assert again == ""  # once per session


def test_search_options_are_checked_before_any_request(ip: Any, emulator: Any) -> None:
    with pytest.raises(UsageError, match="not valid JSON"):
        ip.run_cell_magic("qwen", "--search --search-options {nope", "Hi")
    assert emulator.requests == []
