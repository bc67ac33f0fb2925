"""A real ipykernel driven like a browser would: for tests and benchmarks of Stop/interrupt.

Needs ``jupyter_client`` (a test dependency); imported only by those who use it.
"""

from __future__ import annotations

import queue
import threading
import time
from typing import Any

import jupyter_client

# Run in the kernel after `%load_ext qwen_magic` and `%qwencmd emulator start`: a slow answer.
SLOW_REPLY = (
    "from qwen_magic.ipython import magics_of\n"
    "from qwen_magic.testing import Reply\n"
    "_m = magics_of(get_ipython())\n"
    "_m.emulator.queue(Reply(text='word ' * 400, reasoning='', chunks=400, delay=0.02))\n"
)


class Kernel:
    """A python3 kernel with every iopub message recorded."""

    def __init__(self) -> None:
        self.km = jupyter_client.KernelManager(kernel_name="python3")
        self.km.start_kernel()
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)
        self.iopub: list[dict[str, Any]] = []
        self._arrived = threading.Condition()  # a message was added to iopub
        self._stop = False
        self._pump = threading.Thread(target=self._read_iopub, daemon=True)
        self._pump.start()

    def _read_iopub(self) -> None:
        while not self._stop:
            try:
                msg = self.kc.get_iopub_msg(timeout=0.1)
            except queue.Empty:
                continue
            except Exception:
                return
            with self._arrived:
                self.iopub.append(msg)
                self._arrived.notify_all()

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
        self.wait_idle(msg_id)
        return reply, self.stdout(msg_id)

    def wait_idle(self, msg_id: str, timeout: float = 20) -> None:
        """Until the kernel says it is idle after ``msg_id``: every output of that cell (and
        the final display update) is on iopub before that status message."""
        self.wait_for(
            msg_id,
            lambda m: m["msg_type"] == "status" and m["content"]["execution_state"] == "idle",
            timeout,
        )

    def messages(self, msg_id: str) -> list[dict[str, Any]]:
        return [m for m in list(self.iopub) if m["parent_header"].get("msg_id") == msg_id]

    def stdout(self, msg_id: str) -> str:
        return "".join(
            m["content"]["text"] for m in self.messages(msg_id) if m["msg_type"] == "stream"
        )

    def wait_for(self, msg_id: str, predicate: Any, timeout: float = 20) -> dict[str, Any]:
        found: list[dict[str, Any]] = []

        def seen() -> bool:
            found[:] = [m for m in self.messages(msg_id) if predicate(m)][:1]
            return bool(found)

        with self._arrived:
            if not self._arrived.wait_for(seen, timeout):
                raise AssertionError("the kernel never sent the expected message")
        return found[0]

    def shutdown(self) -> None:
        self._stop = True
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


def stop_button_comm(kernel: Kernel, msg_id: str) -> str:
    msg = kernel.wait_for(
        msg_id,
        lambda m: (
            m["msg_type"] == "comm_open"
            and m["content"]["data"]["state"].get("_model_name") == "ButtonModel"
        ),
    )
    return msg["content"]["comm_id"]


def click_stop_mid_answer(kernel: Kernel, msg_id: str) -> None:
    """Once the answer is streaming, send the comm message a browser sends for a click."""
    comm_id = stop_button_comm(kernel, msg_id)
    wait_for_answer_text(kernel, msg_id)
    click = kernel.kc.session.msg(
        "comm_msg",
        {"comm_id": comm_id, "data": {"method": "custom", "content": {"event": "click"}}},
    )
    kernel.kc.shell_channel.send(click)


def wait_for_answer_text(kernel: Kernel, msg_id: str) -> None:
    kernel.wait_for(
        msg_id,
        lambda m: (
            m["msg_type"] == "comm_msg"
            and "word" in str(m["content"]["data"].get("state", {}).get("outputs", ""))
        ),
    )
