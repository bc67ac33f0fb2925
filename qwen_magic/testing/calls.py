"""Build a Request aimed at an emulator and run it: the shortest path for provider tests;
and press Ctrl-C mid-answer."""

from __future__ import annotations

import _thread
import socket
import threading
from typing import Any

from qwen_magic.emulator.emulator import Emulator
from qwen_magic.emulator.replies import Reply


def request_for(emulator: Emulator, api: str = "chat", **overrides: Any) -> Any:
    """A resolved ``Request`` for ``api`` whose base URL is the emulator's."""
    from qwen_magic.request import Request

    options: dict[str, Any] = {
        "prompt": "Hello there",
        "model": "qwen3.5-plus",
        "api": api,
        "base_url": emulator.native_base if api == "dashscope" else emulator.compat_base,
        "api_key": f"sk-test-{api}",
        "region": "sg",
        "max_retries": 0,
        "timeout": 10.0,
    }
    options.update(overrides)
    return Request(**options)


def run_reply(emulator: Emulator, reply: Reply, api: str = "chat", **overrides: Any) -> Any:
    """Queue ``reply``, run the request through the runner (no display), return the Result."""
    from qwen_magic.render import NullRenderer
    from qwen_magic.runner import execute

    emulator.queue(reply)
    return execute(request_for(emulator, api, **overrides), NullRenderer(), interval=0.02)


def free_port() -> int:
    """A local port nothing listens on (for "connection refused")."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def interrupt_when_streaming(
    emulator: Emulator, frames: int, requests: int = 1
) -> threading.Thread:
    """Like the kernel's interrupt: KeyboardInterrupt in the main thread once the
    ``requests``-th generation request has sent ``frames`` frames. ``join()`` it after the
    cell."""

    def fire() -> None:
        emulator.wait_for_frames(frames=frames, requests=requests)
        _thread.interrupt_main()

    thread = threading.Thread(target=fire, daemon=True)
    thread.start()
    return thread
