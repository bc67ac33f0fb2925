"""Loading and unloading the extension: the public surface, what unloading leaves behind,
and that a Result shows as Markdown wherever it is made."""

from __future__ import annotations

import gc
import weakref

import pytest
from IPython.utils.capture import capture_output

import qwen_magic
from qwen_magic import masking
from qwen_magic.ipython import magics_of, session_of
from qwen_magic.ipython.kernel import transform
from qwen_magic.result import Result
from qwen_magic.testing import Reply

TYPED_KEY = "sk-typed-UNLOAD-9c2e4b7a1d"


def test_the_public_surface() -> None:
    assert set(qwen_magic.__all__) >= {
        "ask", "Result", "Interrupted", "load_ipython_extension", "unload_ipython_extension",
        "__version__",
    }  # fmt: skip
    for name in qwen_magic.__all__:
        assert getattr(qwen_magic, name) is not None
    assert qwen_magic.Result is Result
    assert issubclass(qwen_magic.Interrupted, KeyboardInterrupt)
    assert not hasattr(qwen_magic, "_loaded")


def test_magics_of_and_session_of_follow_load_and_unload(shell) -> None:
    assert magics_of(shell) is None and session_of(shell) is None
    shell.run_line_magic("load_ext", "qwen_magic")
    try:
        magics = magics_of(shell)
        assert magics is not None and session_of(shell) is magics.session
    finally:
        shell.run_line_magic("unload_ext", "qwen_magic")
    assert magics_of(shell) is None


def _markdown(shell, value) -> str | None:
    data, _ = shell.display_formatter.format(value)
    return data.get("text/markdown")


def _one_cycle(shell, emulator, monkeypatch) -> tuple[weakref.ref, weakref.ref]:
    """Load, use everything that keeps state (a typed key, a chat, the SDKs' connections of
    all three APIs, _qwen), unload; weak references to the magics and its session."""
    shell.run_line_magic("load_ext", "qwen_magic")
    magics = magics_of(shell)
    magics.use_emulator(None)  # the real key path, so the typed key is what is sent
    magics.base_url = emulator.compat_base
    magics.send_key_to_base_url = True
    monkeypatch.setattr("getpass.getpass", lambda prompt: TYPED_KEY)
    with capture_output():
        shell.run_line_magic("qwencmd", "key")
        shell.run_cell_magic("qwen", "-q -c trip", "Hi")
        shell.run_cell_magic("qwen", "-q --api responses", "Hi")
        magics.base_url = emulator.native_base
        shell.run_cell_magic("qwen", "-q --api dashscope", "Hi")
    assert [q.api_key for q in emulator.requests[-3:]] == [TYPED_KEY] * 3
    assert _markdown(shell, shell.user_ns["_qwen"]) is not None
    refs = weakref.ref(magics), weakref.ref(magics.session)
    del magics
    shell.run_line_magic("unload_ext", "qwen_magic")
    return refs


def test_three_load_unload_cycles_leave_nothing_behind(shell, emulator, monkeypatch) -> None:
    from qwen_magic.providers import dashscope_http, openai_common

    monkeypatch.delenv("DASHSCOPE_API_KEY", raising=False)
    refs = [_one_cycle(shell, emulator, monkeypatch) for _ in range(3)]
    gc.collect()

    assert [ref() for pair in refs for ref in pair] == [None] * 6  # no instance, no session
    assert not any(type(c).__name__ == "QwenMagics" for c in shell.configurables)
    assert masking.redact(f"x {TYPED_KEY}") == f"x {TYPED_KEY}"  # the mask forgot the typed key
    assert openai_common._clients == {} and dashscope_http._session is None
    assert transform not in shell.input_transformers_cleanup
    assert "_qwen" not in shell.user_ns
    assert _markdown(shell, Result(text="plain")) is None  # the formatters are gone
    assert "qwen" not in shell.magics_manager.magics["cell"]

    shell.run_line_magic("load_ext", "qwen_magic")  # a new session: no key, no chat
    try:
        assert session_of(shell).key is None and session_of(shell).chats.chats == {}
    finally:
        shell.run_line_magic("unload_ext", "qwen_magic")


def test_a_result_shows_as_markdown_after_load_ext(ip, emulator) -> None:
    emulator.queue(Reply(text="**bold** answer", reasoning=""))
    with capture_output():
        ip.run_cell_magic("qwen", "-q -o r", "Hi")
    assert "**bold** answer" in _markdown(ip, ip.user_ns["r"])


def test_ask_in_ipython_without_the_extension_shows_markdown(shell, emulator) -> None:
    shell.run_line_magic("load_ext", "qwen_magic")
    shell.run_line_magic("unload_ext", "qwen_magic")
    assert _markdown(shell, Result(text="x")) is None
    emulator.queue(Reply(text="*from ask*", reasoning=""))
    result = qwen_magic.ask("Hi", base_url=emulator.compat_base, quiet=True)
    try:
        assert result.text == "*from ask*"
        assert "*from ask*" in _markdown(shell, result)
    finally:
        from qwen_magic.render import formatters

        formatters.unregister(shell)
        shell.user_ns.pop("_qwen", None)


@pytest.mark.parametrize("api", ["chat", "responses", "dashscope"])
@pytest.mark.parametrize("typed", [False, True], ids=["env key", "typed key"])
def test_a_refused_key_names_where_it_came_from(
    ip, magics, emulator, monkeypatch, test_key, api: str, typed: bool
) -> None:
    magics.use_emulator(None)  # the real key path, a plain base URL
    magics.send_key_to_base_url = True
    magics.base_url = emulator.native_base if api == "dashscope" else emulator.compat_base
    magics.display = "final"
    if typed:
        monkeypatch.setattr("getpass.getpass", lambda prompt: TYPED_KEY)
        with capture_output():
            ip.run_line_magic("qwencmd", "key")
    emulator.default_reply = Reply(fault="http_401")
    with capture_output() as cap:
        ip.run_cell_magic("qwen", f"--api {api} -o r", "Hello")
    error = ip.user_ns["r"].error
    source = "%qwencmd key" if typed else "$DASHSCOPE_API_KEY"
    assert error is not None and error.status == 401
    assert f"the key from {source}" in error.hint
    shown = cap.outputs[0].data["text/markdown"]
    assert f"the key from {source}" in shown
    assert test_key not in shown and TYPED_KEY not in shown
