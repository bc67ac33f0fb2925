"""qwen_magic.ask(): the same call from plain Python, outside IPython."""

from __future__ import annotations

import _thread
import subprocess
import sys
import threading

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

import qwen_magic
import qwen_magic.api
from qwen_magic.testing import Reply

SCRIPT = r"""
import os, sys
from qwen_magic.testing import Emulator, Reply
import qwen_magic
with Emulator() as emu:
    emu.queue(Reply(text="Two, three, five.", reasoning="primes", chunks=3))
    r = qwen_magic.ask("Name three primes.", base_url=emu.compat_base, thinking=True)
    print("\nRESULT", repr(r.text), repr(r.reasoning), r.usage.output_tokens, r.error)
    q = qwen_magic.ask("Quiet please.", base_url=emu.compat_base, quiet=True)
    print("QUIET", repr(q.text))
print("IPython shell:", __import__("IPython").get_ipython())
"""


def test_ask_outside_ipython_streams_to_stdout_and_returns_a_result() -> None:
    env = {"DASHSCOPE_API_KEY": "sk-outside-ipython-0000", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "── thinking ──\nprimes" in out and "Two, three, five." in out
    assert "RESULT 'Two, three, five.' 'primes' 4 None" in out
    assert "QUIET 'Echo: Quiet please.'" in out
    assert out.count("Echo: Quiet please.") == 1  # quiet printed nothing itself
    assert "IPython shell: None" in out


def test_ask_inside_ipython_uses_the_loaded_configuration(ip, magics, emulator) -> None:
    magics.model = "qwen-flash"
    emulator.queue(Reply(text="fine", reasoning=""))
    r = qwen_magic.ask("How are you?", display="none", temperature=0.5)
    assert r.text == "fine" and r.model == "qwen-flash"
    assert emulator.last.body["temperature"] == 0.5


def test_ask_rejects_unknown_options(ip) -> None:
    with pytest.raises(UsageError, match="temprature"):
        qwen_magic.ask("Hi", temprature=0.5)


def test_ask_takes_images_as_paths_or_objects(ip, emulator, tmp_path) -> None:
    from PIL import Image

    path = tmp_path / "red.png"
    Image.new("RGB", (40, 30), "red").save(path)
    r = qwen_magic.ask(
        "What colours?", image=[str(path), Image.new("RGB", (20, 20), "blue")], display="none"
    )
    parts = emulator.last.messages[-1]["content"]
    kinds = [p["type"] for p in parts]
    assert kinds == ["image_url", "image_url", "text"]
    assert all(p["image_url"]["url"].startswith("data:image/") for p in parts[:2])
    payload = parts[0]["image_url"]["url"].split(",", 1)[1]
    assert r.error is None and payload[:40] not in repr(r)  # elided in the Result


def test_ask_json_and_prefix(ip, emulator) -> None:
    emulator.queue(Reply(text='{"n": 3}', reasoning=""))
    assert qwen_magic.ask("Count as JSON.", json=True, display="none").data == {"n": 3}
    r = qwen_magic.ask("Go on.", prefix="Once", display="none")
    assert r.text == "Once (continued)"


# -- an interrupt stops a loop of ask() calls at once; the magic absorbs it ---------------------
SLOW = "one two three four five six seven eight nine ten " * 4  # 40 frames, 2 s at least


def interrupt_when_asked(emulator, count: int = 1) -> threading.Thread:
    """Ctrl-C in the main thread once the emulator has received ``count`` requests (and a few
    frames have gone out): what the kernel's interrupt does, with no timing in the test."""

    def fire() -> None:
        emulator.wait_for_frames(frames=3, requests=count)
        _thread.interrupt_main()

    thread = threading.Thread(target=fire, daemon=True)
    thread.start()
    return thread


def test_ask_reraises_an_interrupt_with_the_partial_result(ip, emulator) -> None:
    for _ in range(5):
        emulator.queue(Reply(text=SLOW, chunks=40, delay=0.05))
    ip.user_ns["_qwen"] = "stale"
    thread = interrupt_when_asked(emulator)
    with pytest.raises(KeyboardInterrupt) as info:
        for n in range(5):
            qwen_magic.ask(f"Question {n}", display="none")
    thread.join()
    assert len(emulator.requests) == 1  # one interrupt stopped the whole loop
    assert isinstance(info.value, qwen_magic.api.Interrupted)
    partial = info.value.result
    assert partial.interrupted and SLOW.startswith(partial.text) and partial.text != SLOW
    assert ip.user_ns["_qwen"] is partial  # recorded where the magic records it


def test_the_magic_absorbs_the_same_interrupt(ip, emulator) -> None:
    emulator.queue(Reply(text=SLOW, chunks=40, delay=0.05))
    thread = interrupt_when_asked(emulator)
    with capture_output():
        ip.run_line_magic("qwen", "-o r Tell me slowly.")  # returns: the cell ends normally
    thread.join()
    assert ip.user_ns["r"].interrupted and SLOW.startswith(ip.user_ns["r"].text)


def test_ask_refuses_an_empty_model_before_any_request(ip, emulator) -> None:
    with pytest.raises(UsageError, match="-m/--model is empty"):
        qwen_magic.ask("Hi", model="", display="none")
    assert emulator.requests == []


def test_ask_stores_its_result_in_underscore_qwen(ip, emulator) -> None:
    r = qwen_magic.ask("Hi", display="none")
    assert ip.user_ns["_qwen"] is r and r.text == "Echo: Hi"
