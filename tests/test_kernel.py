"""In a real ipykernel: %%qwen cells run as coroutines, so Stop and interrupt end the stream."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

jupyter_client = pytest.importorskip("jupyter_client")

SLOW_REPLY = (
    "from qwen_magic import _loaded\n"
    "from qwen_magic.testing import Reply\n"
    "_m = _loaded[id(get_ipython())]\n"
    "_m.emulator.queue(Reply(text='word ' * 400, reasoning='', chunks=400, delay=0.02))\n"
)
REPORT = (
    "_rec = _m.emulator.last\n"
    "_rec.finished.wait(5)\n"
    "print(_qwen.interrupted, _qwen.error, len(_qwen.text.split()), _rec.disconnected, "
    "_rec.frames_sent)\n"
)


class Kernel:
    def __init__(self) -> None:
        self.km = jupyter_client.KernelManager(kernel_name="python3")
        self.km.start_kernel()
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)
        self.iopub: list[dict[str, Any]] = []
        self._stop = False
        self._pump = threading.Thread(target=self._read_iopub, daemon=True)
        self._pump.start()

    def _read_iopub(self) -> None:
        while not self._stop:
            try:
                self.iopub.append(self.kc.get_iopub_msg(timeout=0.1))
            except queue.Empty:
                continue
            except Exception:
                return

    def send(self, code: str) -> str:
        return self.kc.execute(code)

    def reply(self, msg_id: str, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            msg = self.kc.get_shell_msg(timeout=max(0.01, deadline - time.monotonic()))
            if msg["parent_header"].get("msg_id") == msg_id:
                return msg

    def run(self, code: str) -> tuple[dict[str, Any], str]:
        msg_id = self.send(code)
        reply = self.reply(msg_id)
        time.sleep(0.2)  # let iopub drain
        return reply, self.stdout(msg_id)

    def messages(self, msg_id: str) -> list[dict[str, Any]]:
        return [m for m in list(self.iopub) if m["parent_header"].get("msg_id") == msg_id]

    def stdout(self, msg_id: str) -> str:
        return "".join(
            m["content"]["text"] for m in self.messages(msg_id) if m["msg_type"] == "stream"
        )

    def wait_for(self, msg_id: str, predicate: Any, timeout: float = 20) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for msg in self.messages(msg_id):
                if predicate(msg):
                    return msg
            time.sleep(0.02)
        raise AssertionError("the kernel never sent the expected message")

    def shutdown(self) -> None:
        self._stop = True
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


@pytest.fixture(scope="module")
def kernel() -> Iterator[Kernel]:
    k = Kernel()
    reply, _ = k.run("%load_ext qwen_magic\n%qwencmd emulator start")
    assert reply["content"]["status"] == "ok"
    yield k
    k.shutdown()


def _stop_button_comm(kernel: Kernel, msg_id: str) -> str:
    msg = kernel.wait_for(
        msg_id,
        lambda m: (
            m["msg_type"] == "comm_open"
            and m["content"]["data"]["state"].get("_model_name") == "ButtonModel"
        ),
    )
    return msg["content"]["comm_id"]


def _click_stop_mid_answer(kernel: Kernel, msg_id: str) -> None:
    """Once the answer is streaming, send the comm message a browser sends for a click."""
    comm_id = _stop_button_comm(kernel, msg_id)
    _wait_for_answer_text(kernel, msg_id)
    click = kernel.kc.session.msg(
        "comm_msg",
        {"comm_id": comm_id, "data": {"method": "custom", "content": {"event": "click"}}},
    )
    kernel.kc.shell_channel.send(click)


def _wait_for_answer_text(kernel: Kernel, msg_id: str) -> None:
    kernel.wait_for(
        msg_id,
        lambda m: (
            m["msg_type"] == "comm_msg"
            and "word" in str(m["content"]["data"].get("state", {}).get("outputs", ""))
        ),
    )


def test_a_cell_streams_and_ends_with_the_static_output(kernel: Kernel) -> None:
    reply, out = kernel.run(SLOW_REPLY.replace("400", "20"))
    msg_id = kernel.send("%%qwen\nHello")
    assert kernel.reply(msg_id)["content"]["status"] == "ok"
    time.sleep(0.2)
    kinds = [m["msg_type"] for m in kernel.messages(msg_id)]
    assert "display_data" in kinds and "update_display_data" in kinds
    final = [m for m in kernel.messages(msg_id) if m["msg_type"] == "update_display_data"][-1]
    assert final["content"]["data"]["text/markdown"].count("word") == 20


def test_stop_button_ends_the_stream_mid_answer(kernel: Kernel) -> None:
    kernel.run(SLOW_REPLY)
    msg_id = kernel.send("%%qwen\nWrite a lot.")
    _click_stop_mid_answer(kernel, msg_id)
    assert kernel.reply(msg_id)["content"]["status"] == "ok"  # no traceback
    _, report = kernel.run(REPORT)
    interrupted, error, words, disconnected, frames = report.split()
    assert (interrupted, error, disconnected) == ("True", "None", "True")
    assert 0 < int(words) < 400  # the partial answer is kept
    assert int(frames) < 400  # the server stopped sending: the connection was closed


def test_kernel_interrupt_ends_the_stream_and_keeps_the_kernel(kernel: Kernel) -> None:
    kernel.run(SLOW_REPLY)
    msg_id = kernel.send("%%qwen\nWrite a lot.")
    _wait_for_answer_text(kernel, msg_id)
    kernel.km.interrupt_kernel()
    assert kernel.reply(msg_id)["content"]["status"] == "ok"
    _, report = kernel.run(REPORT)
    interrupted, error, words, disconnected, frames = report.split()
    assert (interrupted, error, disconnected) == ("True", "None", "True")
    assert 0 < int(words) < 400 and int(frames) < 400
    reply, out = kernel.run("%qwen -q again\nprint(_qwen.text)")
    assert reply["content"]["status"] == "ok" and "Echo: again" in out


def test_chat_turns_follow_the_cell_ids_jupyterlab_sends(kernel: Kernel) -> None:
    def run_in_cell(code: str, cell_id: str) -> None:
        content = dict(code=code, silent=False, store_history=True, user_expressions={},
                       allow_stdin=False, stop_on_error=True)  # fmt: skip
        msg = kernel.kc.session.msg("execute_request", content, metadata={"cellId": cell_id})
        kernel.kc.shell_channel.send(msg)
        assert kernel.reply(msg["header"]["msg_id"])["content"]["status"] == "ok"

    run_in_cell("%%qwen -q -c k\nfirst", "cell-a")
    run_in_cell("%%qwen -q -c k\nsecond", "cell-b")
    run_in_cell("%%qwen -q -c k\nthird", "cell-c")
    run_in_cell("%%qwen -q -c k\nsecond, edited", "cell-b")
    _, out = kernel.run(
        "from qwen_magic import _loaded\n"
        "print([t.user['content'] for t in _loaded[id(get_ipython())].chats.get('k').turns])"
    )
    assert out.strip() == "['first', 'second, edited']"


def test_an_interrupted_chat_turn_is_not_recorded(kernel: Kernel) -> None:
    kernel.run(SLOW_REPLY)
    msg_id = kernel.send("%%qwen -c cut\nWrite a lot.")
    _wait_for_answer_text(kernel, msg_id)
    kernel.km.interrupt_kernel()
    assert kernel.reply(msg_id)["content"]["status"] == "ok"
    _, out = kernel.run(
        "from qwen_magic import _loaded\n"
        "print(_qwen.interrupted, len(_loaded[id(get_ipython())].chats.get('cut').turns))"
    )
    assert out.split() == ["True", "0"]


def test_a_one_line_question_runs_as_a_coroutine_with_stop(kernel: Kernel) -> None:
    kernel.run(SLOW_REPLY)
    msg_id = kernel.send("%qwen Is this a question?")
    _click_stop_mid_answer(kernel, msg_id)
    assert kernel.reply(msg_id)["content"]["status"] == "ok"
    _, out = kernel.run("print(_qwen.interrupted, _m.emulator.last.messages[-1]['content'])")
    assert out.strip() == "True Is this a question?"
