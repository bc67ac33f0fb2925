"""Inline <think> tags (vLLM, Ollama, llama.cpp) become reasoning, even split across chunks."""

from __future__ import annotations

import pytest

from qwen_magic.events import ReasoningDelta, TextDelta
from qwen_magic.providers.think_tags import ThinkTagSplitter


def split(chunks: list[str]) -> tuple[str, str]:
    splitter = ThinkTagSplitter()
    events = [e for c in chunks for e in splitter.feed(c)] + list(splitter.flush())
    reasoning = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    return reasoning, text


@pytest.mark.parametrize(
    "chunks",
    [
        ["<think>Hmm, ok.</think>\n\nAnswer."],
        ["<thi", "nk>Hmm,", " ok.</th", "ink>", "\n\nAns", "wer."],
        ["\n<think>", "Hmm, ok.", "<", "/think>Answer."],
        list("<think>Hmm, ok.</think>Answer."),
    ],
)
def test_think_tags_split_anywhere(chunks: list[str]) -> None:
    assert split(chunks) == ("Hmm, ok.", "Answer.")


def test_plain_answers_pass_through_untouched() -> None:
    assert split(["Just ", "an answer with <b>tags</b>."]) == (
        "",
        "Just an answer with <b>tags</b>.",
    )
    assert split(["<", "b>bold</b>"]) == ("", "<b>bold</b>")


def test_unfinished_thinking_is_still_reasoning() -> None:
    assert split(["<think>never ends"]) == ("never ends", "")
