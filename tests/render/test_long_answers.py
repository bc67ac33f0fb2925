"""Long answers stay cheap and readable while they stream.

A long answer must not be re-sent to the browser at every refresh, whatever its shape: what
the widgets send (every comm message, as a browser would get it) plus the displays, per byte of
answer, stays at most 10 for the five shapes of issue 11. Each frozen piece renders on its own
as the whole would (a table piece is a table, a list piece a list, a code piece closed code).
Counts and sizes, never timings: the bound holds at any pace, as the tail is re-sent only when
the new answer bytes pay for it.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from IPython.utils.capture import capture_output
from markdown_it import MarkdownIt

from qwen_magic.render.live import MarkdownStream
from qwen_magic.testing import Reply

GOAL = 10.0
VOCAB = ("the", "model", "streams", "a", "short", "answer", "in", "small", "chunks", "here")


def words(n: int, start: int = 0) -> list[str]:
    return [VOCAB[(start + i) % len(VOCAB)] for i in range(n)]


def sentences(n: int, every: int = 15) -> str:
    out = []
    for i, word in enumerate(words(n)):
        out.append(
            (word.capitalize() if i % every == 0 else word)
            + ("." if i % every == every - 1 else "")
        )
    return " ".join(out)


def table(rows: int = 300) -> str:
    head = "| # | name | value | note |\n|---|------|------:|------|\n"
    body = "".join(
        f"| {i} | item {i} | {i * 3.25:.2f} | {' '.join(words(6, i))} |\n" for i in range(rows)
    )
    return "Here is the table:\n\n" + head + body + "\nThat is all."


def bullets(items: int = 200) -> str:
    body = "".join(f"- Item {i}: {' '.join(words(12, i))}.\n" for i in range(items))
    return "The items:\n\n" + body + "\nDone."


def code(lines: int = 500) -> str:
    body = "".join(
        f"    total_{i} = compute({i}, factor={i % 7})  # step {i}\n" for i in range(lines)
    )
    return "The code:\n\n```python\ndef main():\n" + body + "```\n\nRun it."


SHAPES = {
    "paragraphs": lambda: "\n\n".join(sentences(60) for _ in range(20_000 // 60)),
    "one paragraph of 20,000 words": lambda: sentences(20_000),
    "300-row table": table,
    "200-item list": bullets,
    "500-line code block": code,
}


@pytest.mark.parametrize("shape", SHAPES)
def test_bytes_to_the_browser_per_answer_byte_stay_under_10(ip, emulator, comms, shape) -> None:
    text = SHAPES[shape]()
    emulator.queue(Reply(text=text, reasoning="", chunks=len(text.split())))
    with capture_output() as cap:
        ip.run_cell_magic("qwen", "", "Write a long answer.")
    assert ip.user_ns["_qwen"].text == text
    displays = sum(len(json.dumps(o.data)) + len(json.dumps(o.metadata)) for o in cap.outputs)
    ratio = (comms.bytes_sent + displays) / len(text.encode())
    assert comms.updates, "the live view streamed"
    assert ratio <= GOAL, f"{shape}: {ratio:.1f} bytes to the browser per answer byte"


# ------------------------------------------------------------------ each piece renders right
def stream_through(text: str, step: int = 97) -> MarkdownStream:
    stream = MarkdownStream(budget=0)
    for end in range(step, len(text) + step, step):
        stream.show(text[:end])
    return stream


def piece_texts(stream: MarkdownStream) -> list[str]:
    return [out.outputs[0]["data"]["text/markdown"] for out in stream.pieces() if out.outputs]


def html(markdown: str) -> str:
    return MarkdownIt("commonmark").enable(["table"]).render(markdown)


def rendered_pieces(text: str) -> list[tuple[str, str]]:
    """The pieces ``text`` freezes into as it streams (more than ten), each with its HTML."""
    pieces = piece_texts(stream_through(text))
    assert len(pieces) > 10
    return [(piece, html(piece)) for piece in pieces]


def test_a_long_table_freezes_between_rows_each_piece_a_table_with_its_header() -> None:
    rows = []
    for piece, rendered in rendered_pieces(table()):
        if "| item" in piece or "<td>" in rendered:
            assert rendered.count("<table>") == 1, piece
            assert "<th>name</th>" in rendered, piece  # each piece says what its columns are
            assert "| " not in re.sub(r"<[^>]+>", "", rendered), piece  # no row shown as text
        rows += re.findall(r"<td>item (\d+)</td>", rendered)
    assert rows == [str(i) for i in range(300)]  # every row once, in order


def test_a_long_list_freezes_between_items() -> None:
    items = []
    for piece, rendered in rendered_pieces(bullets()):
        items += re.findall(r"<li>Item (\d+):", rendered)
        assert "<p>- Item" not in rendered and "<p>Item" not in rendered, piece
    assert items == [str(i) for i in range(200)]


def test_one_long_paragraph_freezes_at_sentence_ends() -> None:
    text = sentences(20_000)
    stream = stream_through(text)
    pieces = piece_texts(stream)
    assert len(pieces) > 50
    assert all(len(p) < 4_000 for p in pieces)  # no piece is re-sent whole
    assert all(p.rstrip().endswith(".") for p in pieces[:-1])  # cut after a sentence
    assert " ".join(p.strip() for p in pieces) == text


def test_a_paragraph_is_not_cut_inside_bold_code_or_a_link() -> None:
    sentence = "A **bold claim. Still bold** and `code. More code` and [a. link](https://x.org). "
    text = sentence * 200
    for piece in piece_texts(stream_through(text))[:-1]:
        assert piece.count("**") % 2 == 0 and piece.count("`") % 2 == 0, piece
        assert piece.count("[") == piece.count("]"), piece


def test_a_long_code_block_freezes_as_closed_code_of_its_language() -> None:
    steps = []
    for piece, rendered in rendered_pieces(code()):
        if "total_" in piece:
            assert rendered.count("<pre>") == 1 and 'class="language-python"' in rendered, piece
        steps += re.findall(r"# step (\d+)", piece)
    assert steps == [str(i) for i in range(500)]


def test_a_table_header_waits_for_its_rule_row() -> None:
    """Mid-stream, a header row alone would show as a line of pipes: it is held back."""
    stream = MarkdownStream(budget=0)
    shown: list[str] = []

    def tail_after(text: str) -> str:
        stream.show(text)
        outputs: Any = stream.tail.outputs
        shown.append(outputs[0]["data"]["text/markdown"] if outputs else "")
        return shown[-1]

    intro = "The results:\n\n"
    assert "|" not in tail_after(intro + "| name | val")
    assert "|" not in tail_after(intro + "| name | value |\n")
    assert "|" not in tail_after(intro + "| name | value |\n|---|--")
    with_rule = tail_after(intro + "| name | value |\n|---|---|\n| a")
    assert "<table>" in html(with_rule) and "<th>name</th>" in html(with_rule)
    assert "<p>|" not in html(tail_after(intro + "| name | value |\n|---|---|\n| a | 1 |\n| b"))
    # inside a code block, pipes are code and are shown as they come
    assert "| x" in tail_after("```\n| x")
