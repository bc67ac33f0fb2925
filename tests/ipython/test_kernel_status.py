"""The kernel's status while a ``%%qwen`` cell streams, as a frontend sees it on IOPub.

JupyterLab shows the last status message it received, whatever request it answers. While a
cell awaits, ipykernel 7 still answers control-channel requests (the debugger's
``debug_request``, ``kernel_info_request``) with "busy" then "idle": the status must go back
to "busy" until the cell ends.
"""

from __future__ import annotations

import pytest

pytest.importorskip("jupyter_client")

from qwen_magic.testing.kernel import SLOW_REPLY, Kernel, wait_for_answer_text  # noqa: E402


@pytest.fixture(scope="module")
def kernel():
    k = Kernel()
    k.run("%load_ext qwen_magic\n%qwencmd emulator start")
    yield k
    k.shutdown()


def test_the_status_stays_busy_until_a_streaming_cell_ends(kernel) -> None:
    kernel.run(SLOW_REPLY)
    cell = kernel.send("%%qwen\nWrite a lot.")
    wait_for_answer_text(kernel, cell)  # the answer streams
    for request in (
        kernel.kc.session.msg("kernel_info_request", {}),
        kernel.kc.session.msg(
            "debug_request",
            {"type": "request", "seq": 1, "command": "debugInfo", "arguments": {}},
        ),
    ):
        kernel.kc.control_channel.send(request)
    kernel.wait_for(
        request["header"]["msg_id"],
        lambda m: m["msg_type"] == "status" and m["content"]["execution_state"] == "idle",
    )
    kernel.wait_idle(cell, timeout=60)
    states = []  # every status a frontend saw, in order, up to the cell's own idle
    for msg in list(kernel.iopub):
        if msg["msg_type"] == "status":
            mine = msg["parent_header"].get("msg_id") == cell
            states.append((msg["content"]["execution_state"], mine))
            if mine and states[-1][0] == "idle":
                break
    start = states.index(("busy", True))
    during = states[start:-1]
    assert ("idle", False) in during  # the control requests were answered mid-cell ...
    assert during[-1] == ("busy", True)  # ... and the last word before the end is "busy"
    assert states[-1] == ("idle", True)
