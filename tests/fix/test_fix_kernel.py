"""In a real ipykernel: ``%qwencmd fix -f code`` puts the corrected cell below (the execute
reply's set_next_input payload, as JupyterLab reads it), Stop works on it, the explain button's
click is answered under the button, and a headless run shows no button at all."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("jupyter_client")
nbformat = pytest.importorskip("nbformat")

from nbclient import NotebookClient  # noqa: E402 - after the skip

from qwen_magic.testing.kernel import (  # noqa: E402
    SLOW_REPLY,
    Kernel,
    click_stop_mid_answer,
)

SETUP = (
    "%load_ext qwen_magic\n%qwencmd emulator start\n"
    "from qwen_magic.ipython import magics_of\n"
    "from qwen_magic.testing import Reply\n"
    "_m = magics_of(get_ipython())\n"
)
FIXED = "rate = 3\nper_day = 21 / rate"
ANSWER = f"`rate` is 0.\n\n```python\n{FIXED}\n```\n"


def queue(kernel: Kernel, text: str) -> None:
    reply, _ = kernel.run(f"_m.emulator.queue(Reply(text={text!r}, reasoning=''))")
    assert reply["content"]["status"] == "ok"


def sent_text(kernel: Kernel) -> str:
    _, out = kernel.run("print(_m.emulator.last.body['messages'][-1]['content'])")
    return out


def generation_requests(kernel: Kernel) -> int:
    _, out = kernel.run("print(sum('messages' in (r.body or {}) for r in _m.emulator.requests))")
    return int(out)


@pytest.fixture(scope="module")
def kernel() -> Iterator[Kernel]:
    k = Kernel()
    reply, _ = k.run(SETUP)
    assert reply["content"]["status"] == "ok"
    yield k
    k.shutdown()


def test_fix_f_code_puts_the_corrected_cell_below(kernel: Kernel) -> None:
    reply, _ = kernel.run("rate = 0\nper_day = 21 / rate")
    assert reply["content"]["status"] == "error"
    queue(kernel, ANSWER)
    reply, _ = kernel.run("%qwencmd fix -f code")
    assert reply["content"]["status"] == "ok"
    payload = reply["content"]["payload"]
    assert payload == [{"source": "set_next_input", "text": FIXED, "replace": False}]
    text = sent_text(kernel)
    assert "per_day = 21 / rate" in text and "ZeroDivisionError: division by zero" in text
    assert "- rate: int = 0" in text and "\x1b" not in text


def test_stop_ends_a_fix_answer(kernel: Kernel) -> None:
    reply, _ = kernel.run("{}['missing']")
    assert reply["content"]["status"] == "error"
    kernel.run(SLOW_REPLY)
    msg_id = kernel.send("%qwencmd fix")  # runs as a coroutine, as %%qwen does
    click_stop_mid_answer(kernel, msg_id)
    assert kernel.reply(msg_id)["content"]["status"] == "ok"
    _, out = kernel.run("print(_qwen.interrupted, 0 < len(_qwen.text.split()) < 400)")
    assert out.split() == ["True", "True"]


def explain_button_comm(kernel: Kernel, msg_id: str) -> str:
    msg = kernel.wait_for(
        msg_id,
        lambda m: (
            m["msg_type"] == "comm_open"
            and m["content"]["data"]["state"].get("description") == "Explain with Qwen"
        ),
    )
    return str(msg["content"]["comm_id"])


def test_the_button_is_answered_under_itself_only_when_clicked(kernel: Kernel) -> None:
    kernel.run("%config QwenMagics.explain_errors = True")
    before = generation_requests(kernel)
    msg_id = kernel.send("words = ['a', 'b']\nwords[7]")
    assert kernel.reply(msg_id)["content"]["status"] == "error"
    kernel.wait_idle(msg_id)
    kinds = [m["msg_type"] for m in kernel.messages(msg_id)]
    assert kinds.index("error") < kinds.index("display_data")  # the button under the traceback
    comm_id = explain_button_comm(kernel, msg_id)
    assert generation_requests(kernel) == before  # nothing sent yet
    queue(kernel, "The list has 2 items, so index 7 is out of range.")
    click = kernel.kc.session.msg(
        "comm_msg",
        {"comm_id": comm_id, "data": {"method": "custom", "content": {"event": "click"}}},
    )
    kernel.kc.shell_channel.send(click)
    # The static answer fills the Output widget under the button (its outputs state).
    kernel.wait_for(
        click["header"]["msg_id"],
        lambda m: (
            m["msg_type"] == "comm_msg"
            and "index 7 is out of range"
            in json.dumps(m["content"]["data"].get("state", {}).get("outputs", ""))
        ),
    )
    assert generation_requests(kernel) == before + 1
    assert "words[7]" in sent_text(kernel)
    kernel.run("%config QwenMagics.explain_errors = False")


def notebook(cells: list[str]) -> Any:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    return nb


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_a_headless_run_shows_no_button() -> None:
    nb = notebook(
        [
            SETUP + "%config QwenMagics.explain_errors = True",
            "1 / 0",
            "print(sum('messages' in (r.body or {}) for r in _m.emulator.requests))",
        ]
    )
    NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True).execute()
    outputs = nb.cells[1].outputs
    assert [o["output_type"] for o in outputs] == ["error"]  # the traceback, nothing else
    assert "widgets" not in nb.metadata
    assert nb.cells[2].outputs[0]["text"].strip() == "0"
