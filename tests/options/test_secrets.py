"""The API key never appears in outputs, errors, reprs or results — whatever happens."""

from __future__ import annotations

import pytest
from IPython.utils.capture import capture_output

from qwen_magic.render.static import to_markdown
from qwen_magic.testing import Reply

FAULTS = ["http_401", "http_404", "http_429", "http_500", "error_frame", "cut", "malformed"]


@pytest.mark.parametrize("fault", [None, *FAULTS])
def test_the_key_appears_nowhere(ip, magics, emulator, test_key, fault) -> None:
    # A real key from the environment, a real base URL (the emulator's): no emulator shortcut.
    magics.use_emulator(None)
    magics.base_url = emulator.compat_base
    magics.send_key_to_base_url = True  # a local URL gets the key only when asked
    magics.max_retries = 0
    magics.debug = True
    emulator.queue(Reply(text="some answer words", reasoning="hmm", fault=fault, retry_after="0"))
    with capture_output() as cap:
        ip.run_cell_magic("qwen", "--think -o r", "Hello")
        ip.run_line_magic("qwencmd", "config")
    assert emulator.last.api_key == test_key  # it was really used...
    r = ip.user_ns["r"]
    seen = [cap.stdout, cap.stderr, repr(r), str(r), to_markdown(r), str(r.messages)]
    seen += [str(o.data) for o in cap.outputs]
    if r.error is not None:
        seen += [str(r.error), repr(r.error), str(r.error.context)]
    for text in seen:  # ...and shown nowhere
        assert test_key not in text
        assert test_key[8:] not in text


def test_the_key_is_not_sent_to_a_server_named_with_base_url(ip, magics, emulator, test_key):
    magics.use_emulator(None)
    magics.base_url = emulator.compat_base  # e.g. a local vLLM: it gets a placeholder
    with capture_output():
        ip.run_cell_magic("qwen", "-q", "Hello")
    assert emulator.last.api_key == "not-needed"
    table = ip.run_line_magic("qwencmd", "config")
    assert test_key not in repr(table)


def test_an_error_message_that_echoes_the_key_is_scrubbed(test_key) -> None:
    from qwen_magic.errors import ServiceError
    from qwen_magic.events import Failed
    from qwen_magic.masking import Secret
    from qwen_magic.runner import Collector
    from qwen_magic.testing import request_for

    emu = type("E", (), {"compat_base": "http://127.0.0.1:9/v1", "native_base": ""})()
    collector = Collector(request_for(emu, "chat", api_key=Secret(test_key)))
    echoed = ServiceError("http", f"Incorrect API key provided: {test_key}", 401, code=test_key)
    echoed.request_id, echoed.context["body"] = test_key, f'{{"key": "{test_key}"}}'
    collector.apply(Failed(echoed))
    error = collector.snapshot().error
    assert error is not None and "sk-…" in error.message
    assert test_key not in repr([error.message, error.code, error.request_id, error.context])
