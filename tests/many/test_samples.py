"""``-n K``: K samples of one prompt. On Model Studio's chat API, for Qwen Plus and the open
Qwen3 models when not thinking, they come from the service's ``n`` (up to 4 per request);
elsewhere, or where the service refuses or ignores ``n``, one request each."""

from __future__ import annotations

import _thread
import threading

import pytest
from IPython.utils.capture import capture_output

from qwen_magic.testing import Reply
from qwen_magic.testing.calls import interrupt_when_streaming

SLOW = " ".join(f"w{n}" for n in range(60))


def bodies(emulator) -> list[dict]:
    return [r.body for r in emulator.requests if r.protocol == "chat"]


def texts(cmp) -> list[str]:
    return [r.text for r in cmp.values()]


def test_three_samples_come_from_one_request(ip, final, emulator) -> None:
    with capture_output() as cap:
        ip.run_cell_magic("qwen", "-m qwen-plus -n 3 -o cmp", "Pick a number")
    cmp = ip.user_ns["cmp"]
    assert [b.get("n") for b in bodies(emulator)] == [3]
    assert cmp.keys() == [0, 1, 2] and cmp.titles == ["#1", "#2", "#3"]
    assert texts(cmp) == [
        "Echo: Pick a number", "Echo: Pick a number (sample 2)",
        "Echo: Pick a number (sample 3)",
    ]  # fmt: skip
    assert all(r.ok for r in cmp.values())
    first, *others = cmp.values()
    # the request's tokens (every sample's output) are the first sample's, counted once
    assert first.usage.output_tokens == 4 + 6 + 6
    assert all(r.usage.output_tokens is None and r.cost is None for r in others)
    assert cmp.usage.output_tokens == 16 and cmp.usage.input_tokens == first.usage.input_tokens
    markdown = cap.outputs[-1].data["text/markdown"]
    assert markdown.count("3 samples in 1 request: tokens and cost for all 3") == 1
    assert markdown.count("3 samples in 1 request: tokens and cost with the first") == 2


def test_more_than_four_samples_take_several_requests(ip, final, emulator) -> None:
    ip.run_cell_magic("qwen", "-m qwen-plus -n 6 --no-stream -o cmp", "Hi")
    cmp = ip.user_ns["cmp"]
    assert sorted(b.get("n") for b in bodies(emulator)) == [2, 4]
    assert texts(cmp) == [
        "Echo: Hi", "Echo: Hi (sample 2)", "Echo: Hi (sample 3)", "Echo: Hi (sample 4)",
        "Echo: Hi", "Echo: Hi (sample 2)",
    ]  # fmt: skip
    assert [r.samples for r in cmp.values()] == [(0, 4), (1, 4), (2, 4), (3, 4), (0, 2), (1, 2)]


def test_samples_of_each_model_share_their_own_request(ip, final, emulator) -> None:
    ip.run_cell_magic("qwen", "-m qwen-plus,qwen-max -n 2 -o cmp", "Hi")
    cmp = ip.user_ns["cmp"]
    sent = sorted((b["model"], b.get("n")) for b in bodies(emulator))
    assert sent == [("qwen-max", None), ("qwen-max", None), ("qwen-plus", 2)]
    assert cmp.keys() == [("qwen-plus", 0), ("qwen-plus", 1), ("qwen-max", 0), ("qwen-max", 1)]
    assert [r.model for r in cmp.values()] == ["qwen-plus"] * 2 + ["qwen-max"] * 2
    assert cmp[("qwen-plus", 1)].text == "Echo: Hi (sample 2)"
    assert cmp[("qwen-max", 1)].text == "Echo: Hi"  # its own request


@pytest.mark.parametrize(
    "line",
    [
        "-m qwen-plus -n 2 --think",  # thinking: n is not served
        "-n 2",  # qwen3.5-plus thinks by default
        "-m qwen-max -n 2",  # not a Qwen Plus / open Qwen3 model
        "-m qwen-plus -n 2 --api responses",  # n is the chat API's
        "-m qwen-plus -n 2 --api dashscope",
    ],
)
def test_where_n_is_not_served_each_sample_is_its_own_request(ip, final, emulator, line) -> None:
    ip.run_cell_magic("qwen", line + " -o cmp", "Hi")
    cmp = ip.user_ns["cmp"]
    assert len(emulator.requests) == 2
    assert all("n" not in (r.body or {}) for r in emulator.requests)
    assert all(r.ok and r.samples is None for r in cmp.values())


@pytest.mark.parametrize("stream", ["", "--no-stream"])
def test_a_refused_n_asks_each_sample_alone(ip, final, emulator, stream) -> None:
    emulator.queue(Reply(fault="http_400"))  # the service refuses the request with n
    ip.run_cell_magic("qwen", f"-m qwen-plus -n 3 {stream} -o cmp", "Hi")
    cmp = ip.user_ns["cmp"]
    assert [b.get("n") for b in bodies(emulator)] == [3, None, None, None]
    assert all(r.ok and r.text == "Echo: Hi" and r.samples is None for r in cmp.values())
    assert all(r.usage.output_tokens for r in cmp.values())  # each counts its own


@pytest.mark.parametrize("stream", ["", "--no-stream"])
def test_an_ignored_n_asks_the_missing_samples_alone(ip, final, emulator, stream) -> None:
    emulator.queue(Reply(choices=1))  # a server that answers one choice whatever n says
    with capture_output() as cap:
        ip.run_cell_magic("qwen", f"-m qwen-plus -n 3 {stream} -o cmp", "Hi")
    cmp = ip.user_ns["cmp"]
    assert [b.get("n") for b in bodies(emulator)] == [3, None, None]
    assert all(r.ok and r.samples is None for r in cmp.values())
    assert "samples in 1 request" not in cap.outputs[-1].data["text/markdown"]


def test_a_retry_before_the_answer_asks_for_every_sample_again(ip, final, emulator) -> None:
    emulator.queue(Reply(fault="http_429", retry_after="0"))
    ip.run_cell_magic("qwen", "-m qwen-plus -n 3 -o cmp", "Hi")
    cmp = ip.user_ns["cmp"]
    assert [b.get("n") for b in bodies(emulator)] == [3, 3]
    assert all(r.ok for r in cmp.values()) and texts(cmp)[2] == "Echo: Hi (sample 3)"


def test_a_broken_request_fails_every_sample_and_keeps_their_parts(ip, final, emulator) -> None:
    emulator.queue(Reply(text="one two three four five six", fault="cut", fault_after=9))
    ip.run_cell_magic("qwen", "-m qwen-plus -n 3 -o cmp", "Hi")
    cmp = ip.user_ns["cmp"]
    assert len(bodies(emulator)) == 1  # the answer began: no retry
    assert all(r.error is not None for r in cmp.values())
    assert {r.error.kind for r in cmp.values()} == {cmp[0].error.kind}
    assert all(r.text and "one two three four five six".startswith(r.text) for r in cmp.values())


def test_an_interrupt_stops_every_sample_of_the_request(ip, emulator, magics) -> None:
    magics.display = "none"
    emulator.default_reply = Reply(text=SLOW, chunks=40, delay=0.05)
    thread = interrupt_when_streaming(emulator, frames=6)
    ip.run_cell_magic("qwen", "-m qwen-plus -n 3 -o cmp", "Hi")
    thread.join()
    cmp = ip.user_ns["cmp"]
    assert len(bodies(emulator)) == 1
    assert all(r.interrupted and r.text and SLOW.startswith(r.text) for r in cmp.values())
    assert all(r.text != SLOW for r in cmp.values())


def test_live_grid_streams_each_sample_into_its_panel(ip, emulator, comms) -> None:
    with capture_output() as cap:
        ip.run_cell_magic("qwen", "-m qwen-plus -n 2 -o cmp", "Hi")
    assert [b.get("n") for b in bodies(emulator)] == [2]
    final = cap.outputs[-1].data["text/html"]
    assert "Echo: Hi (sample 2)" in final and final.count("Echo: Hi") == 2
    cmp = ip.user_ns["cmp"]
    assert texts(cmp) == ["Echo: Hi", "Echo: Hi (sample 2)"]


def test_a_dry_run_shows_one_request_with_n_and_the_prompt_billed_once(ip, emulator) -> None:
    with capture_output() as cap:
        ip.run_cell_magic("qwen", "-m qwen-plus -n 3 --dry-run -o plan", "Pick a number")
    assert emulator.requests == []
    shown = cap.outputs[-1].data["text/plain"]
    assert "1 request(s) for 3 samples" in shown and '"n": 3' in shown
    plan = ip.user_ns["plan"]
    assert [e.input_tokens for e in plan.estimates][1:] == [0, 0]
    assert plan.estimates[0].input_tokens > 0


def test_when_the_request_cannot_be_made_every_sample_says_so(ip, final, emulator, monkeypatch):
    magics = final
    magics.timeout = 47.0  # a client of its own (clients are kept per endpoint and timeout)
    monkeypatch.setenv("SSL_CERT_FILE", "/nonexistent/ca.pem")  # building the client fails
    watchdog = threading.Timer(20, _thread.interrupt_main)  # a hang ends as an interrupt
    watchdog.start()
    try:
        ip.run_cell_magic("qwen", "-m qwen-plus -n 3 -o cmp", "Hi")
    finally:
        watchdog.cancel()
    cmp = ip.user_ns["cmp"]
    assert emulator.requests == []
    assert not any(r.interrupted for r in cmp.values())  # nothing waited for the watchdog
    first, *others = cmp.values()
    assert first.error is not None and "FileNotFoundError" in str(first.error)
    assert all(r.error is not None and "ended without its answer" in str(r.error) for r in others)


def test_a_refused_prompt_is_not_asked_again_per_sample(ip, final, emulator) -> None:
    emulator.queue(Reply(fault="data_inspection"))  # the prompt itself is refused
    ip.run_cell_magic("qwen", "-m qwen-plus -n 3 -o cmp", "Hi")
    cmp = ip.user_ns["cmp"]
    assert [b.get("n") for b in bodies(emulator)] == [3]
    assert all(r.error is not None and r.error.status == 400 for r in cmp.values())
    assert {r.error.code for r in cmp.values()} == {cmp[0].error.code}


def test_an_empty_sample_is_an_answer_not_asked_again(ip, final, emulator) -> None:
    emulator.queue(Reply(text="", samples=["", ""]))
    ip.run_cell_magic("qwen", "-m qwen-plus -n 3 -o cmp", "Say nothing")
    cmp = ip.user_ns["cmp"]
    assert [b.get("n") for b in bodies(emulator)] == [3]
    assert texts(cmp) == ["", "", ""] and all(r.finish_reason == "stop" for r in cmp.values())
