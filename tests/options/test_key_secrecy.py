"""The key never shows, whatever a server echoes and wherever it echoes it.

A hostile server (qwen_magic.emulator.echo) sends the bearer key it received back in every
field it can — answer, reasoning, ids, request ids (body and header), error code/type/param/
message, a mid-stream error frame, a text body cut at 300 characters, model ids — verbatim and
escaped. Through the magic, on all three APIs, nothing the user can see or save holds it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

from qwen_magic import masking
from qwen_magic.emulator.echo import EchoServer, forms
from qwen_magic.options import keys
from qwen_magic.render.static import to_markdown

APIS = ("chat", "responses", "dashscope")
# A key with every character an escape changes: JSON (" \ /), URL (+ / = & %), HTML (& ").
ODD_KEY = 'sk-Odd/Key+With"Quote\\Slash=&Amp%25-4d8e2a'


@pytest.fixture(scope="module")
def echo_server() -> Iterator[EchoServer]:
    with EchoServer() as server:
        yield server


@pytest.fixture
def echo(echo_server: EchoServer) -> EchoServer:
    echo_server.mode = "answer"
    echo_server.clear()
    return echo_server


@pytest.fixture
def hostile(ip: Any, magics: Any, echo: EchoServer) -> EchoServer:
    """The magic on the real key path (the env key, a plain base URL), against the echo."""
    magics.use_emulator(None)
    magics.send_key_to_base_url = True
    magics.max_retries = 0
    return echo


def secrets_of(key: str) -> list[str]:
    """What must never be shown: the key in each echoed form, and each one's middle part."""
    return [piece for form in forms(key) for piece in (form, form[8:-6])]


def assert_hidden(key: str, texts: list[str]) -> None:
    for text in texts:
        for secret in secrets_of(key):
            assert secret not in text, f"{secret!r} shown in {text[:200]!r}"


def everything_shown(cap: Any, result: Any, comms: Any = None) -> list[str]:
    """All a user sees or keeps of a call: outputs, streams, the Result and its parts."""
    texts = [cap.stdout, cap.stderr, *(json.dumps(o.data, default=str) for o in cap.outputs)]
    texts += [repr(result), str(result), to_markdown(result), result.text, result.reasoning]
    texts += [repr(result.raw), str(result.request_id), str(result.finish_reason)]
    if result.error is not None:
        error = result.error
        texts += [str(error), repr(error), error.summary(), repr(error.context), str(error.hint)]
    if comms is not None:  # what the live view sent to the browser while streaming
        texts += [json.dumps(m, default=str) for m in comms.messages]
    return texts


@pytest.mark.parametrize(
    ("mode", "stream"),
    [
        ("answer", True),
        ("answer", False),
        ("error", True),
        ("error", False),
        ("long_error", True),
        ("long_error", False),
        ("stream_error", True),
    ],
    ids=lambda v: {True: "stream", False: "no-stream"}.get(v, v) if isinstance(v, bool) else v,
)
@pytest.mark.parametrize("api", APIS)
def test_an_echoing_server_never_gets_the_key_shown(
    ip, magics, hostile, comms, test_key, api, mode, stream
) -> None:
    hostile.mode = mode
    magics.base_url = hostile.base_for(api)
    line = f"--api {api} -o r" + ("" if stream else " --no-stream")
    with capture_output() as cap:
        ip.run_cell_magic("qwen", line, "Hello")
    assert [q.api_key for q in hostile.requests] == [test_key]  # the key really went there
    result = ip.user_ns["r"]
    shown = everything_shown(cap, result, comms)
    assert_hidden(test_key, shown)
    assert masking.mask(test_key) in "".join(shown)  # the echo arrived, masked
    if mode == "answer":
        assert result.ok and result.text.startswith("answer: sk-…")
    else:
        assert result.error is not None


@pytest.mark.parametrize("api", APIS)
def test_a_key_with_escapable_characters_is_masked_in_every_escaped_form(
    ip, magics, hostile, monkeypatch, api
) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", ODD_KEY)
    magics.base_url = hostile.base_for(api)
    for mode in ("answer", "error", "stream_error"):
        hostile.mode = mode
        with capture_output() as cap:
            ip.run_cell_magic("qwen", f"--api {api} -o r", "Hello")
        assert hostile.requests[-1].api_key == ODD_KEY
        assert_hidden(ODD_KEY, everything_shown(cap, ip.user_ns["r"]))


def test_the_saved_chat_and_the_static_output_hold_no_key(
    ip, magics, hostile, test_key, tmp_path
) -> None:
    magics.base_url = hostile.compat_base
    magics.display = "final"
    with capture_output() as cap:
        ip.run_cell_magic("qwen", "-c talk -o r", "Hello")
        ip.run_line_magic("qwencmd", f"save talk {tmp_path / 'talk.json'}")
    assert "answer: sk-…" in cap.outputs[0].data["text/markdown"]
    saved = (tmp_path / "talk.json").read_text()
    assert "answer: sk-…" in saved
    assert_hidden(test_key, [saved, *everything_shown(cap, ip.user_ns["r"])])


@pytest.mark.parametrize("mode", ["answer", "error"])
def test_qwencmd_models_and_config_mask_what_the_server_sends(
    ip, magics, hostile, test_key, mode
) -> None:
    hostile.mode = mode
    magics.base_url = hostile.compat_base
    with capture_output() as cap:
        try:
            table = ip.run_line_magic("qwencmd", "models")
            shown = [repr(table), table._repr_markdown_()]
            assert "qwen-plus" in shown[0] and "sk-…" in shown[0]
        except UsageError as exc:  # the error mode: the listing failed
            shown = [str(exc)]
            assert mode == "error" and "Could not list models" in str(exc)
        config = ip.run_line_magic("qwencmd", "config")
    assert hostile.requests[-1].api_key == test_key
    assert_hidden(test_key, [*shown, repr(config), config._repr_markdown_(), cap.stdout])


def test_a_verbose_traceback_shows_the_key_masked(ip, magics, monkeypatch, test_key) -> None:
    """A bug while the Request is built: %xmode Verbose prints the variables around it."""
    from qwen_magic.options import build as settings
    from qwen_magic.request import Request

    class Broken(Request):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            raise RuntimeError("a bug while building the request")

    magics.use_emulator(None)
    magics.base_url = "https://dashscope-intl.aliyuncs.com/compatible-mode/v1"
    monkeypatch.setattr(settings, "Request", Broken)
    ip.run_line_magic("xmode", "Verbose")
    try:
        with capture_output() as cap, pytest.raises(RuntimeError, match="a bug while building"):
            ip.run_cell("%%qwen --api chat\nHello")
    finally:
        ip.run_line_magic("xmode", "Context")
    assert "a bug while building the request" in cap.stdout
    assert "api_key" in cap.stdout and masking.mask(test_key) in cap.stdout  # printed, masked
    assert_hidden(test_key, [cap.stdout, cap.stderr])


@pytest.mark.parametrize(
    ("bad", "what"),
    [
        ("sk-qwenmagic-TEST\nKEY-7f3a9c1e5b", "a line break"),
        ("sk-qwenmagic-TEST\u200bKEY-7f3a9c1e5b", "zero width space"),
        ("\ufeffsk-qwenmagic-TESTKEY-7f3a9c1e5b", "U+FEFF"),
        ("sk-qwenmagic-TEST KEY-7f3a9c1e5b", "a space"),
        ("sk-qwenmagic-TEST\x07KEY-7f3a9c1e5b", "a control character"),
        ("sk-qwenmagic-TESTKÉY-7f3a9c1e5b", "non-ASCII"),
    ],
)
@pytest.mark.parametrize("api", APIS)
def test_a_key_with_a_stray_character_is_refused_naming_its_source(
    ip, magics, hostile, monkeypatch, api, bad, what
) -> None:
    monkeypatch.setenv("MY_QWEN_KEY", bad)
    magics.api_key_env = "MY_QWEN_KEY"
    magics.base_url = hostile.base_for(api)
    with pytest.raises(UsageError) as caught:
        ip.run_cell_magic("qwen", f"--api {api}", "Hello")
    message = str(caught.value)
    assert "$MY_QWEN_KEY" in message and what in message
    assert "TESTK" not in message and "7f3a9c" not in message
    assert hostile.requests == []  # refused before any request


def test_qwencmd_key_refuses_a_pasted_key_with_a_line_break(
    ip, magics, hostile, monkeypatch
) -> None:
    monkeypatch.setattr("getpass.getpass", lambda prompt: "sk-pasted\nwith-a-line-break-1234")
    with pytest.raises(UsageError, match="`%qwencmd key`") as caught:
        ip.run_line_magic("qwencmd", "key")
    assert "with-a-line" not in str(caught.value)
    assert keys.resolve_key("DASHSCOPE_API_KEY")[1] == "$DASHSCOPE_API_KEY"  # none was set


def test_config_names_an_unusable_key_without_showing_it(ip, magics, monkeypatch) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-qwenmagic-TEST\nKEY-7f3a9c1e5b")
    table = ip.run_line_magic("qwencmd", "config")
    text = repr(table)
    assert "unusable" in text and "a line break" in text and "7f3a9c" not in text


def test_the_key_is_held_as_a_secret_whose_repr_is_masked(ip, magics, test_key) -> None:
    from qwen_magic.options.build import build_request

    magics.use_emulator(None)
    request = build_request("Hello", {}, magics)
    assert request.api_key == test_key  # the SDKs get the real key...
    assert f"Bearer {request.api_key}" == f"Bearer {test_key}"
    assert repr(request.api_key) == repr(masking.mask(test_key))  # ...reprs never do
    assert test_key not in repr([request.api_key]) and test_key not in repr(request)
    assert request.key_source == "$DASHSCOPE_API_KEY"


def test_a_key_cut_by_the_server_is_still_masked(test_key) -> None:
    """A long piece of a key (a server cut it, or the 300-character limit did) is masked too."""
    keys.checked_key(test_key, "$DASHSCOPE_API_KEY")
    for piece in (test_key[:16], test_key[5:], test_key[-14:], test_key[4:-4]):
        shown = masking.redact(f"echo {piece}!")
        assert piece not in shown and shown.startswith("echo sk-…") and shown.endswith("!")
    assert masking.redact("a sk- prefix, and 7f3a9 alone") == "a sk- prefix, and 7f3a9 alone"


TERMINAL = r"""
import os
from IPython.testing.globalipapp import start_ipython
from qwen_magic.emulator.echo import EchoServer
ip = start_ipython()
ip.run_line_magic("load_ext", "qwen_magic")
from qwen_magic.ipython import magics_of
magics = magics_of(ip)
magics.update_interval = 0.02  # many refreshes, some in the middle of an echoed key
magics.send_key_to_base_url = True
echo = EchoServer(pause=0.004).start()
magics.base_url = echo.compat_base
print("=== cell ===")
ip.run_cell("%%qwen -o r\nHello")
assert echo.requests[-1].api_key == os.environ["DASHSCOPE_API_KEY"]
print("stored:", ip.user_ns["r"].text[:40])
"""


def test_the_terminal_never_prints_a_piece_of_the_key(test_key) -> None:
    """The terminal prints deltas and cannot take them back: no delta may hold a key's start."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "DASHSCOPE_API_KEY": test_key}
    proc = subprocess.run(
        [sys.executable, "-c", TERMINAL], capture_output=True, text=True, timeout=120, env=env
    )
    assert proc.returncode == 0, proc.stderr
    cell = proc.stdout.split("=== cell ===\n", 1)[1]
    assert "answer: sk-…1e5b | " in cell and "reasoning: sk-…1e5b | " in cell
    assert "stored: answer: sk-…1e5b" in cell
    assert_hidden(test_key, [proc.stdout, proc.stderr])
    assert test_key[:5] not in proc.stdout  # not even the start of it, in any delta


def test_a_key_put_into_the_prompt_is_masked_in_what_the_result_says_was_sent(
    ip, magics, hostile, test_key
) -> None:
    magics.base_url = hostile.compat_base
    ip.user_ns["pasted"] = test_key
    try:
        with capture_output() as cap:
            ip.run_cell_magic("qwen", "-o r", "Is {pasted} a valid key?")
    finally:
        ip.user_ns.pop("pasted")
    sent = hostile.requests[-1].body["messages"][-1]["content"]
    assert test_key in str(sent)  # the user sent it: that is theirs to decide...
    result = ip.user_ns["r"]
    assert "Is sk-…1e5b a valid key?" in str(result.messages)  # ...but it is never shown
    assert_hidden(test_key, [str(result.messages), *everything_shown(cap, result)])


def test_a_key_typed_into_a_chat_prompt_is_not_saved(ip, magics, emulator, test_key, tmp_path):
    ip.user_ns["my_key"] = test_key  # e.g. a user pasting the key into a prompt by mistake
    with capture_output():
        ip.run_cell_magic("qwen", "-q -c leak", "My key is {my_key}")
        ip.run_line_magic("qwencmd", f"save leak {tmp_path / 'leak.json'}")
    saved = (tmp_path / "leak.json").read_text()
    assert "My key is sk-…" in saved
    assert_hidden(test_key, [saved])
