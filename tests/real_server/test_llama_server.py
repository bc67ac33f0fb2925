"""%%qwen against a real llama.cpp llama-server (Gemma 3 270M, a base model): a server nobody
on the team wrote. Structure, not wording: deltas, usage, the reasoning/answer split, JSON
that parses, Stop keeping the partial answer, a readable error, the Responses API.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from IPython.utils.capture import capture_output

from qwen_magic.render.live import LiveRenderer

# A shared 2-core machine can slow a 270M model to a few tokens a second: room to finish.
pytestmark = pytest.mark.timeout(300)

SHORT = "--max-tokens 12"  # a small model answers fast; a few tokens are enough to check shape


def ask(ip: Any, line: str, cell: str = "Tell me about the sea.") -> tuple[Any, str]:
    with capture_output() as cap:
        ip.run_cell_magic("qwen", line, cell)
    shown = cap.outputs[-1].data.get("text/markdown", "") if cap.outputs else ""
    assert "Traceback" not in cap.stderr
    return ip.user_ns["_qwen"], shown


@pytest.mark.parametrize("api", ["chat", "responses"])
def test_an_answer_streams_in_several_refreshes_with_its_usage(ip, plain, comms, api: str) -> None:
    plain.display = "live"
    plain.update_interval = 0.02  # a fast machine streams 32 tokens in a fraction of a second
    r, shown = ask(ip, f"--api {api} --max-tokens 32")
    assert r.error is None and r.text.strip()
    assert r.finish_reason in ("stop", "length")
    assert r.usage.input_tokens and 0 < r.usage.output_tokens <= 32
    # It streamed: the first token came before the end (a whole answer has no first token),
    # and the live view showed the answer while it grew. (How many refreshes depends on the
    # machine's speed, so it is not counted.)
    assert r.ttft is not None and r.ttft < r.elapsed
    answer_updates = [u for u in comms.updates if "value" in u.get("state", {})]
    assert answer_updates
    assert f"{r.usage.input_tokens} in" in shown and f"{r.usage.output_tokens} out" in shown


def test_no_stream_gives_one_whole_answer(ip, plain) -> None:
    r, shown = ask(ip, f"--no-stream {SHORT}")
    assert r.error is None and r.text.strip() and r.usage.output_tokens
    assert "first token" not in shown  # nothing streamed, so no first-token time


def test_json_is_constrained_by_the_server_and_parsed(ip, plain) -> None:
    r, _ = ask(ip, "--json -t 0 --max-tokens 64", '{"ok": true}')
    assert r.error is None and isinstance(r.data, dict)


def test_a_chat_carries_the_first_turn_into_the_second_cell(ip, plain) -> None:
    first, _ = ask(ip, f"-c sea {SHORT}", "Name a sea.")
    second, _ = ask(ip, f"-c sea {SHORT}", "And another one?")
    assert first.error is None and second.error is None
    # the second prompt went with the first turn: the server counted it
    assert second.usage.input_tokens > first.usage.input_tokens + first.usage.output_tokens // 2
    assert len(plain.chats.get("sea").turns) == 2


class _StopWhenTextArrives(LiveRenderer):
    """Presses Stop (or Ctrl-C) as soon as some answer is on screen, as a user would."""

    how = "stop button"
    fired = threading.Event()

    def update(self, results: Any, ended: Any = ()) -> None:
        super().update(results, ended)
        shown = results if not isinstance(results, list | tuple) else results[0]
        if shown is not None and shown.text.strip() and not self.fired.is_set():
            self.fired.set()
            if self.how == "stop button":
                self.stop_button.click()  # what a browser's click does
            else:
                import _thread

                _thread.interrupt_main()  # what the kernel's interrupt does


@pytest.mark.parametrize("how", ["stop button", "interrupt"])
def test_stop_mid_stream_keeps_the_partial_answer(ip, plain, monkeypatch, how: str) -> None:
    class Renderer(_StopWhenTextArrives):
        fired = threading.Event()

    Renderer.how = how
    monkeypatch.setattr("qwen_magic.render.live.LiveRenderer", Renderer)
    plain.display = "live"
    r, shown = ask(ip, "--max-tokens 300")
    assert Renderer.fired.is_set()
    assert r.interrupted and r.error is None
    assert r.text.strip() and len(r.text) < 300 * 20  # stopped long before the limit
    assert r.text.strip()[:20] in shown and "partial" in shown

    after, _ = ask(ip, SHORT)  # the server and the magic are ready for the next cell
    assert after.error is None and after.text.strip()


@pytest.mark.parametrize("api", ["chat", "responses"])
def test_a_prompt_over_the_context_window_is_a_readable_error(ip, plain, api: str) -> None:
    r, shown = ask(ip, f"--api {api} {SHORT}", "word " * 5000)
    error = r.error
    assert error is not None and error.kind == "http" and error.status == 400
    assert error.code == "exceed_context_size_error" and error.request_id is None
    assert "context window" in error.hint and "exceeds the available context size" in shown
    assert "inside qwen_magic" not in shown


# -- reasoning: the thinking server ---------------------------------------------------------------


@pytest.mark.parametrize("api", ["chat", "responses"])
def test_reasoning_arrives_apart_from_the_answer(ip, thinking, api: str) -> None:
    # Greedy, this model's answer (after the server closed its thinking) itself starts with
    # "<think>": it must stay the answer (issue 11, item 6), not vanish into the reasoning.
    r, shown = ask(ip, f"--api {api} --think -t 0 --max-tokens 32")
    assert r.error is None
    assert r.reasoning.strip() and r.text.strip()
    assert "<details><summary>Thought for" in shown


def test_no_think_reaches_the_server_as_its_chat_template_switch(ip, thinking) -> None:
    r, _ = ask(ip, "--no-think --max-tokens 24")
    assert r.error is None and r.reasoning == "" and r.text.strip()
    r, _ = ask(ip, "--think --max-tokens 24")
    assert r.error is None and r.reasoning.strip()
