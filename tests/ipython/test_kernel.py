"""In a real ipykernel: %%qwen cells run as coroutines, so Stop and interrupt end the stream."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

pytest.importorskip("jupyter_client")

from qwen_magic.testing.kernel import (  # noqa: E402 - after the skip
    SLOW_REPLY,
    Kernel,
    click_stop_mid_answer,
    wait_for_answer_text,
)

REPORT = (
    "_rec = _m.emulator.last\n"
    "_rec.finished.wait(5)\n"
    "print(_qwen.interrupted, _qwen.error, len(_qwen.text.split()), _rec.disconnected, "
    "_rec.frames_sent)\n"
)


@pytest.fixture(scope="module")
def kernel() -> Iterator[Kernel]:
    k = Kernel()
    reply, _ = k.run("%load_ext qwen_magic\n%qwencmd emulator start")
    assert reply["content"]["status"] == "ok"
    yield k
    k.shutdown()


def test_a_cell_streams_and_ends_with_the_static_output(kernel: Kernel) -> None:
    reply, out = kernel.run(SLOW_REPLY.replace("400", "20"))
    msg_id = kernel.send("%%qwen\nHello")
    assert kernel.reply(msg_id)["content"]["status"] == "ok"
    kernel.wait_idle(msg_id)  # every output of the cell has arrived
    kinds = [m["msg_type"] for m in kernel.messages(msg_id)]
    assert "display_data" in kinds and "update_display_data" in kinds
    final = [m for m in kernel.messages(msg_id) if m["msg_type"] == "update_display_data"][-1]
    assert final["content"]["data"]["text/markdown"].count("word") == 20


def test_stop_button_ends_the_stream_mid_answer(kernel: Kernel) -> None:
    kernel.run(SLOW_REPLY)
    msg_id = kernel.send("%%qwen\nWrite a lot.")
    click_stop_mid_answer(kernel, msg_id)
    assert kernel.reply(msg_id)["content"]["status"] == "ok"  # no traceback
    _, report = kernel.run(REPORT)
    interrupted, error, words, disconnected, frames = report.split()
    assert (interrupted, error, disconnected) == ("True", "None", "True")
    assert 0 < int(words) < 400  # the partial answer is kept
    assert int(frames) < 400  # the server stopped sending: the connection was closed


def test_kernel_interrupt_ends_the_stream_and_keeps_the_kernel(kernel: Kernel) -> None:
    kernel.run(SLOW_REPLY)
    msg_id = kernel.send("%%qwen\nWrite a lot.")
    wait_for_answer_text(kernel, msg_id)
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
        "from qwen_magic.ipython import magics_of\n"
        "print([t.user['content'] for t in magics_of(get_ipython()).chats.get('k').turns])"
    )
    assert out.strip() == "['first', 'second, edited']"


def test_an_interrupted_chat_turn_is_not_recorded(kernel: Kernel) -> None:
    kernel.run(SLOW_REPLY)
    msg_id = kernel.send("%%qwen -c cut\nWrite a lot.")
    wait_for_answer_text(kernel, msg_id)
    kernel.km.interrupt_kernel()
    assert kernel.reply(msg_id)["content"]["status"] == "ok"
    _, out = kernel.run(
        "from qwen_magic.ipython import magics_of\n"
        "print(_qwen.interrupted, len(magics_of(get_ipython()).chats.get('cut').turns))"
    )
    assert out.split() == ["True", "0"]


def test_a_one_line_question_runs_as_a_coroutine_with_stop(kernel: Kernel) -> None:
    kernel.run(SLOW_REPLY)
    msg_id = kernel.send("%qwen Is this a question?")
    click_stop_mid_answer(kernel, msg_id)
    assert kernel.reply(msg_id)["content"]["status"] == "ok"
    _, out = kernel.run("print(_qwen.interrupted, _m.emulator.last.messages[-1]['content'])")
    assert out.strip() == "True Is this a question?"
