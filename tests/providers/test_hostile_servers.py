"""Hostile servers, through the magic on each API: every reply that breaks its protocol ends
in a short error that names the server, keeps the answer that arrived before, leaves `_qwen`
current and the next cell working; Stop sends nothing more; every read is bounded; the wait
for an answer has a deadline.
"""

from __future__ import annotations

import _thread
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from IPython.utils.capture import capture_output

from qwen_magic.testing import Reply, run_reply

APIS = ("chat", "responses", "dashscope")
TEXT = "one two three four"
LEAD_FRAMES = {"chat": 1, "responses": 4, "dashscope": 0}  # frames before the first answer delta
FRAME_FAULTS = ("clean_close", "slow_frame")  # fault_after counts frames (else answer pieces)


@dataclass(frozen=True)
class Hostile:
    fault: str
    kind: str  # the Result.error kind
    blame: str  # words of the error that name the server as the party at fault
    kept: str = ""  # the answer kept, when the fault strikes mid-answer ("" : nothing came)


CASES = [
    Hostile("empty_stream", "server", "The server sent a reply"),
    Hostile("done_first", "server", "The server sent a reply"),
    Hostile("json_for_stream", "server", "answered a streaming request with application/json"),
    Hostile("empty_json", "server", "answered a streaming request with application/json"),
    Hostile("bad_content_type", "server", "123, not text", kept="one two "),
    Hostile("null_choice", "server", "null", kept="one two "),
    Hostile("invalid_utf8", "server", "not valid UTF-8", kept="one two "),
    Hostile("huge_frame", "server", "one event of the stream passed 8 MB", kept="one two "),
    Hostile("html_502", "proxy", "HTTP 502 Bad Gateway (an HTML page from a proxy, not the servi"),
    Hostile("clean_close", "stream", "the server closed the stream before the answer was finished",
            kept="one two "),
    Hostile("slow_frame", "timeout", "the server sent it a few bytes at a time", kept="one two "),
]  # fmt: skip


@pytest.fixture
def hostile(ip, magics, emulator) -> Iterator[None]:
    magics.display = "final"
    magics.max_retries = 0  # each case: the one reply (retries are tested below)
    magics.timeout = 0.5  # a trickled frame is given this long
    yield


def ask(ip, line: str, cell: str = "Hello") -> tuple:
    with capture_output() as cap:
        ip.run_cell_magic("qwen", line, cell)
    shown = cap.outputs[-1].data.get("text/markdown", "") if cap.outputs else ""
    return ip.user_ns["_qwen"], shown, cap


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("case", CASES, ids=[c.fault for c in CASES])
def test_a_hostile_reply_ends_in_a_short_error_naming_the_server(
    ip, hostile, emulator, api: str, case: Hostile
) -> None:
    after = 2 + (LEAD_FRAMES[api] if case.fault in FRAME_FAULTS else 0)
    emulator.queue(Reply(text=TEXT, reasoning="", fault=case.fault, delay=0.2, fault_after=after))
    r, shown, cap = ask(ip, f"--api {api} --no-think -o r")

    assert r is ip.user_ns["r"]  # _qwen and -o hold this cell's Result
    assert r.error is not None and r.error.kind == case.kind, r.error
    assert case.blame in str(r.error) and case.blame in shown
    assert len(r.error.summary()) < 200 and r.error.hint  # short, with a fix
    assert r.text == case.kept
    if case.kept:
        assert case.kept.strip() in shown and "partial answer above is kept" in shown
    assert "Traceback" not in cap.stdout + cap.stderr
    assert "<html>" not in shown  # an HTML page is named, never shown

    emulator.queue(Reply(text="fine again", reasoning=""))
    after, _, _ = ask(ip, f"--api {api} --no-think")
    assert (after.text, after.error) == ("fine again", None)


@pytest.mark.parametrize("api", ("responses", "dashscope"))
def test_token_counts_sent_as_strings_are_the_servers_fault(ip, hostile, emulator, api) -> None:
    emulator.queue(Reply(text=TEXT, reasoning="", fault="string_usage", prompt_tokens=7))
    r, shown, _ = ask(ip, f"--api {api} --no-think")
    assert r.error.kind == "server" and "input_tokens is '7', not a token count" in shown
    assert r.text and TEXT.startswith(r.text)


def test_chat_reads_token_counts_sent_as_strings(ip, hostile, emulator) -> None:
    """The openai SDK's chat types convert numeric strings: the counts arrive as numbers."""
    emulator.queue(Reply(text=TEXT, reasoning="", fault="string_usage", prompt_tokens=7))
    r, _, _ = ask(ip, "--api chat --no-think")
    assert (r.text, r.error, r.usage.input_tokens) == (TEXT, None, 7)


@pytest.mark.parametrize("api", APIS)
def test_a_non_stream_reply_that_is_empty_or_html_names_the_server(ip, hostile, emulator, api):
    emulator.queue(Reply(fault="empty_json"))
    r, _, _ = ask(ip, f"--api {api} --no-think --no-stream")
    assert r.error.kind == "server" and "The server sent a reply" in str(r.error)
    emulator.queue(Reply(fault="empty_stream"))
    r, _, _ = ask(ip, f"--api {api} --no-think --no-stream")
    assert r.error.kind == "server"
    emulator.queue(Reply(fault="html_502"))
    r, shown, _ = ask(ip, f"--api {api} --no-think --no-stream")
    assert r.error.kind == "proxy" and "HTTP 502 Bad Gateway" in shown and "<html" not in shown


@pytest.mark.parametrize("api", APIS)
def test_a_reply_past_the_size_cap_is_cut_with_a_clear_error(
    ip, hostile, emulator, monkeypatch, api: str
) -> None:
    monkeypatch.setattr("qwen_magic.providers.guard.MAX_REPLY_BYTES", 64 * 1024)
    answer = "word " * 6000  # 400 events of about 250 bytes of JSON around 75 of text
    emulator.queue(Reply(text=answer, reasoning="", chunks=400, delay=0.005))
    r, shown, _ = ask(ip, f"--api {api} --no-think")
    assert r.error.kind == "server" and "the reply passed 0.0625 MB" in shown
    assert r.text and answer.startswith(r.text) and len(r.text) < len(answer)


# -- Stop means stopped -----------------------------------------------------------------------


def generation_requests(emulator) -> int:
    return len([q for q in emulator.requests if q.protocol not in ("models", "uploads")])


def interrupt_once_sent(emulator, answered: bool = False) -> threading.Thread:
    """Like the kernel's interrupt: KeyboardInterrupt in the cell once the request is out
    (``answered``: once the server has also sent its whole answer, e.g. a 503 to retry)."""

    def interrupt() -> None:
        emulator.wait_until(lambda: bool(emulator.requests))
        if answered:
            emulator.requests[0].finished.wait(10)
        _thread.interrupt_main()

    thread = threading.Thread(target=interrupt, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "no-stream"])
@pytest.mark.parametrize("api", APIS)
def test_interrupt_before_the_first_byte_sends_nothing_more(
    ip, magics, emulator, api: str, stream: bool
) -> None:
    magics.display = "final"
    magics.max_retries = 2
    magics.timeout = 30.0
    emulator.default_reply = Reply(fault="stall", delay=30.0)  # every attempt would stall
    interrupter = interrupt_once_sent(emulator)
    r, _, cap = ask(ip, f"--api {api} --no-think" + ("" if stream else " --no-stream"))
    interrupter.join()

    assert r.interrupted and r.error is None and r.text == ""
    assert "Traceback" not in cap.stderr
    shown = cap.outputs[0].data["text/markdown"]
    assert "Stopped before the first token — nothing was generated" in shown
    assert "answer above is partial" not in shown
    record = emulator.requests[0]
    assert record.finished.wait(5) and record.disconnected  # the socket was shut
    assert not [t for t in threading.enumerate() if t.name == "qwen-stream" and t.is_alive()]
    time.sleep(1.5)  # past any retry delay (0.5 s, then 1 s)
    assert generation_requests(emulator) == 1  # never retried, never re-sent


@pytest.mark.parametrize("api", APIS)
def test_interrupt_while_waiting_to_retry_cancels_the_retry(ip, magics, emulator, api) -> None:
    magics.display = "final"
    magics.max_retries = 2
    emulator.default_reply = Reply(fault="http_503", retry_after="2")
    interrupter = interrupt_once_sent(emulator, answered=True)
    r, _, _ = ask(ip, f"--api {api} --no-think")
    interrupter.join()
    assert r.interrupted and r.error is None
    time.sleep(2.5)  # past the Retry-After
    assert generation_requests(emulator) == 1


# -- retries and the deadline -----------------------------------------------------------------


@pytest.mark.parametrize("api", APIS)
def test_a_read_timeout_is_retried_once_and_the_error_says_how_long(emulator, api) -> None:
    emulator.default_reply = Reply(fault="stall", delay=5.0)
    r = run_reply(emulator, Reply(fault="stall", delay=5.0), api, timeout=0.3, max_retries=3)
    assert generation_requests(emulator) == 2
    assert r.error.kind == "timeout" and r.error.attempts == 2
    assert "2 attempts, each waiting up to 0.3 s" in r.error.message
    assert r.error.message.startswith("no answer after ")


@pytest.mark.parametrize("api", APIS)
def test_the_deadline_bounds_every_attempt_and_the_pauses(emulator, api) -> None:
    emulator.default_reply = Reply(fault="http_503", retry_after="0.2")
    r = run_reply(emulator, Reply(fault="http_503", retry_after="0.2"), api,
                  timeout=5.0, max_retries=50, deadline=0.9)  # fmt: skip
    attempts = generation_requests(emulator)
    assert 2 <= attempts < 50 and r.error.status == 503 and r.error.attempts == attempts
    assert f"after {attempts} attempts" in r.error.message

    emulator.clear()
    r = run_reply(emulator, Reply(fault="stall", delay=5.0), api, timeout=5.0, deadline=0.5)
    assert r.error.kind == "timeout" and "the call's deadline (0.5 s) passed" in r.error.message
    assert generation_requests(emulator) == 1


@pytest.mark.parametrize("api", APIS)
def test_a_retry_after_beyond_a_minute_is_not_waited_for(emulator, api) -> None:
    r = run_reply(emulator, Reply(fault="http_429", retry_after="120"), api, max_retries=2)
    assert r.error.status == 429 and generation_requests(emulator) == 1


def test_the_deadline_is_a_setting(ip, magics, emulator) -> None:
    ip.run_line_magic("config", "QwenMagics.deadline = 0.5")
    emulator.queue(Reply(fault="stall", delay=5.0))
    with capture_output():
        ip.run_cell_magic("qwen", "-q -o r", "Hello")
    error = ip.user_ns["r"].error
    assert error.kind == "timeout" and "the call's deadline (0.5 s) passed" in error.message
    magics.deadline = None  # no limit beyond each read's timeout


# -- the runner never lets a failure escape the cell ------------------------------------------


def test_a_failing_display_still_ends_the_cell_with_a_result(ip, magics, emulator, monkeypatch):
    from qwen_magic.render import FinalRenderer

    def broken(self, result) -> None:
        raise RuntimeError("the display broke")

    monkeypatch.setattr(FinalRenderer, "finish", broken)
    magics.display = "final"
    emulator.queue(Reply(text="still here", reasoning=""))
    r, _, cap = ask(ip, "--no-think")
    assert r.text == "still here" and r.error.kind == "internal"
    assert "the display broke" in r.error.message
    assert "still here" in cap.outputs[-1].data["text/plain"]  # shown plainly instead
    assert "Traceback" not in cap.stderr


# -- in a real kernel: the Stop button and the interrupt, before the first byte ----------------

STALL_NEXT = (
    "from qwen_magic.ipython import magics_of\n"
    "from qwen_magic.testing import Reply\n"
    "_m = magics_of(get_ipython())\n"
    "_m.emulator.clear()\n"
    "_m.emulator.default_reply = Reply(fault='stall', delay=30.0)\n"
)
REPORT = (
    "import time\n"
    "time.sleep(1.5)\n"  # past any retry delay
    "_sent = [q for q in _m.emulator.requests if q.protocol != 'models']\n"
    "_sent[0].finished.wait(5)\n"
    "print(len(_sent), _qwen.interrupted, repr(_qwen.text), _qwen.error, _sent[0].disconnected)\n"
    "_m.emulator.clear()\n"
)


@pytest.fixture(scope="module")
def kernel() -> Iterator:
    pytest.importorskip("jupyter_client")
    from qwen_magic.testing.kernel import Kernel

    k = Kernel()
    reply, _ = k.run("%load_ext qwen_magic\n%qwencmd emulator start")
    assert reply["content"]["status"] == "ok"
    yield k
    k.shutdown()


@pytest.mark.parametrize("how", ["stop button", "interrupt"])
@pytest.mark.parametrize("api", APIS)
def test_in_a_kernel_stop_before_the_first_byte_sends_nothing_more(kernel, api, how) -> None:
    from qwen_magic.testing.kernel import stop_button_comm

    kernel.run(f"%qwen -q --api {api} warm up")  # the SDK imported, the client built
    kernel.run(STALL_NEXT)
    msg_id = kernel.send(f"%%qwen --api {api}\nHello")
    comm_id = stop_button_comm(kernel, msg_id)
    time.sleep(1.0)  # the request is out (the warm-up built the client); its answer is 30 s off
    if how == "interrupt":
        kernel.km.interrupt_kernel()
    else:
        click = {"comm_id": comm_id, "data": {"method": "custom", "content": {"event": "click"}}}
        kernel.kc.shell_channel.send(kernel.kc.session.msg("comm_msg", click))
    assert kernel.reply(msg_id, timeout=10)["content"]["status"] == "ok"  # no traceback
    _, report = kernel.run(REPORT)
    assert report.split() == ["1", "True", "''", "None", "True"]


def test_a_provider_that_cannot_be_made_still_ends_the_cell_with_a_result(
    ip, magics, emulator, monkeypatch
) -> None:
    def broken(request):
        raise RuntimeError("no provider today")

    monkeypatch.setattr("qwen_magic.runner.make_provider", broken)
    magics.display = "final"
    r, shown, cap = ask(ip, "--no-think")
    assert r.error.kind == "internal" and "no provider today" in shown
    assert "Traceback" not in cap.stderr and emulator.requests == []
