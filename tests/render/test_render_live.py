"""The live view's Markdown stream: finished parts are sent once, long code blocks included."""

from __future__ import annotations

import re

from qwen_magic.render.live import MarkdownStream


def shown_texts(stream: MarkdownStream) -> list[str]:
    return [
        child.outputs[0]["data"]["text/markdown"] for child in stream.box.children if child.outputs
    ]


def test_a_long_code_block_is_frozen_in_pieces_not_resent_whole() -> None:
    stream = MarkdownStream(min_tail=800, freeze_every=0)
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
    stream = MarkdownStream(min_tail=200, freeze_every=0)
    text = ""
    for i in range(100):
        text += f"Paragraph {i} has a few words in it.\n\n"
        stream.show(text)
    assert "".join(shown_texts(stream)) == text
    assert len(stream.tail.outputs[0]["data"]["text/markdown"]) < 1_000
