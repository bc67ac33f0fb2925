"""Static output and mid-stream Markdown: what a saved notebook and the live view show."""

from __future__ import annotations

from qwen_magic.errors import ServiceError
from qwen_magic.events import Usage
from qwen_magic.render.markdown import close_open_fence, open_fence, split_stable
from qwen_magic.render.static import to_bundle, to_markdown, usage_line
from qwen_magic.result import Result


def test_an_unclosed_code_fence_is_closed_for_display() -> None:
    text = "Here:\n```python\nprint(1)"
    assert open_fence(text) == "```"
    assert close_open_fence(text) == text + "\n```"
    assert close_open_fence("```\ncode\n```\nafter") == "```\ncode\n```\nafter"
    assert open_fence("````\n```\nstill code") == "````"


def test_split_stable_never_cuts_inside_code() -> None:
    code = "```\n" + "x = 1\n\n" * 400 + "```\n\n"
    text = "intro\n\n" + code + "tail " * 10
    stable, tail = split_stable(text, min_tail=100)
    assert stable + tail == text
    assert open_fence(stable) is None
    assert split_stable("short", 100) == ("", "short")


def result(**kw) -> Result:
    base = dict(
        text="The answer.",
        reasoning="Some thought.",
        usage=Usage(12, 345, 120, 8),
        model="qwen3.5-plus",
        api="chat",
        region="sg",
        ttft=0.41,
        elapsed=3.2,
        reasoning_time=1.5,
    )
    base.update(kw)
    return Result(**base)


def test_static_markdown_has_collapsed_reasoning_answer_and_usage() -> None:
    md = to_markdown(result())
    assert md.startswith("<details><summary>Thought for 1.5 s · 120 tokens</summary>\n\n")
    assert "> Some thought.\n\n</details>" in md
    assert "\n\nThe answer.\n\n" in md
    assert md.endswith(
        "<sub>qwen3.5-plus · chat · sg · 12 in · 345 out (120 reasoning) · 8 cached · "
        "first token 0.41 s · 3.2 s · 124 tok/s</sub>"
    )


def test_no_reasoning_no_details() -> None:
    assert "<details>" not in to_markdown(result(reasoning=""))


def test_errors_and_stops_are_shown_with_the_partial_answer() -> None:
    err = ServiceError("http", "Incorrect API key provided.", 401, "invalid_api_key", "rid-9")
    err.hint = "keys are per region"
    bundle = to_bundle(result(error=err, interrupted=True))
    md = bundle["text/markdown"]
    assert "The answer." in md and "Stopped" in md
    assert "invalid_api_key" in md and "rid-9" in md and "keys are per region" in md
    assert "[error]" in bundle["text/plain"] and "The answer." in bundle["text/plain"]


def test_text_format_shows_the_answer_verbatim() -> None:
    md = to_markdown(result(text="*not emphasis*", reasoning="", format="text"))
    assert "```text\n*not emphasis*\n```" in md


def test_usage_line_without_numbers() -> None:
    assert usage_line(Result(model="m", api="chat")) == "m · chat"


def test_a_cut_off_answer_says_why() -> None:
    md = to_markdown(result(finish_reason="length"))
    assert "cut off at the token limit" in md and "--max-tokens" in md


def test_an_empty_answer_is_said_to_be_empty() -> None:
    assert "empty answer" in to_markdown(result(text="", reasoning="", finish_reason="stop"))
    assert "empty answer" not in to_markdown(result(finish_reason="stop"))
