"""In a real ipykernel: a ``confirm=True`` tool's Run button is clicked (the comm message a
browser sends) while the cell waits for it, and the call runs on the kernel's main thread."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

pytest.importorskip("jupyter_client")

from qwen_magic.testing.kernel import Kernel  # noqa: E402 - after the skip

SETUP = """
import threading
import qwen_magic
from qwen_magic.ipython import magics_of
from qwen_magic.testing import Reply

threads = []

@qwen_magic.tool(confirm=True)
def remove(path: str) -> str:
    threads.append(threading.current_thread().name)
    return "removed " + path

magics_of(get_ipython()).emulator.queue(
    Reply(tool_calls=[{"name": "remove", "arguments": '{"path": "a.txt"}'}]), Reply()
)
"""


@pytest.fixture(scope="module")
def kernel() -> Iterator[Kernel]:
    k = Kernel()
    reply, _ = k.run("%load_ext qwen_magic\n%qwencmd emulator start")
    assert reply["content"]["status"] == "ok"
    yield k
    k.shutdown()


def button(kernel: Kernel, msg_id: str, description: str) -> str:
    msg = kernel.wait_for(
        msg_id,
        lambda m: (
            m["msg_type"] == "comm_open"
            and m["content"]["data"]["state"].get("_model_name") == "ButtonModel"
            and m["content"]["data"]["state"].get("description") == description
        ),
    )
    return msg["content"]["comm_id"]


def test_the_run_button_is_clicked_while_the_cell_waits(kernel: Kernel) -> None:
    reply, _ = kernel.run(SETUP)
    assert reply["content"]["status"] == "ok"
    msg_id = kernel.send("%%qwen --tools remove\nRemove a.txt")
    comm_id = button(kernel, msg_id, "Run")  # the question is shown; the cell waits
    click = kernel.kc.session.msg(
        "comm_msg",
        {"comm_id": comm_id, "data": {"method": "custom", "content": {"event": "click"}}},
    )
    kernel.kc.shell_channel.send(click)
    assert kernel.reply(msg_id)["content"]["status"] == "ok"
    kernel.wait_idle(msg_id)
    final = [m for m in kernel.messages(msg_id) if m["msg_type"] == "update_display_data"][-1]
    assert "removed a.txt" in final["content"]["data"]["text/markdown"]
    _, out = kernel.run(
        "print(threads, [s.status for s in _qwen.tool_calls], "
        "magics_of(get_ipython()).emulator.last.tool_results[0]['output'])"
    )
    assert out.strip() == "['MainThread'] ['ok'] removed a.txt"
