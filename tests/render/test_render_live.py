"""The live view's Markdown stream: finished parts are sent once, long code blocks included."""

from __future__ import annotations

import re

from qwen_magic.render.live import MarkdownStream


def shown_texts(stream: MarkdownStream) -> list[str]:
    return [out.outputs[0]["data"]["text/markdown"] for out in stream.pieces() if out.outputs]


def test_a_long_code_block_is_frozen_in_pieces_not_resent_whole() -> None:
    stream = MarkdownStream(piece=800, budget=0)
    lines = [f"value_{i} = {i} * 2\n" for i in range(5000)]  # ~100 KB of code
    text = "Here is the code:\n\n```python\n"
    sent = 0
    for start in range(0, len(lines), 25):  # 200 refreshes
        text += "".join(lines[start : start + 25])
        stream.show(text)
        sent += len(stream.tail.outputs[0]["data"]["text/markdown"])
    text += "```\n\nDone."
    stream.show(text)
    assert sent < 200 * 4_000  # bounded per refresh; re-sending the block would be ~10 MB
    pieces = shown_texts(stream)
    assert len(pieces) > 10
    assert all(p.count("```") % 2 == 0 for p in pieces)  # every piece renders as closed code
    assert all(p.lstrip().startswith("```python") for p in pieces[2:-1])  # same language
    code = "".join(pieces)
    assert re.findall(r"value_(\d+) =", code) == [str(i) for i in range(5000)]  # once, in order
    assert pieces[-1].rstrip().endswith("Done.")


def test_prose_is_frozen_at_blank_lines() -> None:
    stream = MarkdownStream(piece=200, budget=0)
    text = ""
    for i in range(100):
        text += f"Paragraph {i} has a few words in it.\n\n"
        stream.show(text)
    assert "".join(shown_texts(stream)) == text
    assert len(stream.tail.outputs[0]["data"]["text/markdown"]) < 1_000


def test_the_tail_is_resent_only_when_new_text_pays_for_it() -> None:
    """A slow stream adding a few characters per refresh does not re-send its whole tail each
    time: with the default budget the tail goes out after enough new text (or a wait)."""
    stream = MarkdownStream(max_wait=3600)
    sends = 0
    text = "Start."
    stream.show(text)
    for _ in range(300):
        text += " w"  # 2 characters a refresh: a slow model
        before = stream.tail.outputs
        stream.show(text)
        sends += stream.tail.outputs is not before
    assert stream.tail.outputs[0]["data"]["text/markdown"]  # the first words were shown at once
    assert 0 < sends < 60  # at most one send per ~10 refreshes, not 300


def test_a_replaced_text_starts_over() -> None:
    stream = MarkdownStream(piece=50, budget=0)
    stream.show("First paragraph that is long enough to freeze.\n\nSecond one here. " * 3)
    assert len(stream.pieces()) > 1
    stream.show("Something else.")
    assert shown_texts(stream) == ["Something else."]
