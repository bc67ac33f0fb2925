"""A finished streamed answer hands its connection back: the next answer goes out on it, with
no new TCP (and, on Model Studio, TLS) handshake. A stream stopped mid-answer is not reused."""

from __future__ import annotations

import pytest

from qwen_magic.testing import Reply
from qwen_magic.testing.calls import interrupt_when_streaming

SLOW = " ".join(f"w{n}" for n in range(60))


def generations(emulator) -> list:
    return [q for q in emulator.requests if q.protocol in ("chat", "responses")]


@pytest.mark.parametrize("api", ["chat", "responses"])
def test_answers_in_a_row_share_one_connection(ip, magics, emulator, api) -> None:
    magics.display = "none"
    for n in range(3):
        ip.run_cell_magic("qwen", f"--api {api} --no-think -o r{n}", f"Question {n}")
    asked = generations(emulator)
    assert [ip.user_ns[f"r{n}"].text for n in range(3)] == [f"Echo: Question {n}" for n in range(3)]
    assert len(asked) == 3 and len({q.client for q in asked}) == 1


def test_a_stopped_answer_leaves_its_connection_and_the_next_one_is_whole(
    ip, magics, emulator
) -> None:
    magics.display = "none"
    emulator.queue(Reply(text=SLOW, chunks=40, delay=0.05))
    thread = interrupt_when_streaming(emulator, frames=5)
    ip.run_cell_magic("qwen", "--no-think -o stopped", "Long one")
    thread.join()
    ip.run_cell_magic("qwen", "--no-think -o after", "Short one")
    stopped, after = ip.user_ns["stopped"], ip.user_ns["after"]
    assert stopped.interrupted and SLOW.startswith(stopped.text) and stopped.text != SLOW
    assert after.ok and after.text == "Echo: Short one"
    first, second = generations(emulator)
    assert first.client != second.client  # the stopped stream's connection was closed
