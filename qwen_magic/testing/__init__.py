"""An offline emulator of DashScope / Model Studio for tests, demos and notebooks.

It is a real HTTP server on 127.0.0.1 that speaks the three protocols the real service speaks
(OpenAI-compatible Chat Completions and Responses, and the DashScope native API), so the
official `openai` and `dashscope` SDKs can be pointed at it unchanged::

    from qwen_magic.testing import Emulator, Reply

    with Emulator() as emu:
        emu.queue(Reply(text="Hello!", reasoning="Say hello.", chunks=3))
        client = openai.OpenAI(base_url=emu.compat_base, api_key="sk-test")
        ...
        assert emu.last.body["model"] == "qwen3.5-plus"

Stdlib only; importing it never imports openai or dashscope.
"""

from __future__ import annotations

from .calls import free_port, request_for, run_reply
from .catalog import MODELS, ModelInfo
from .emulator import Emulator, RecordedRequest
from .replies import FAULTS, Reply

__all__ = [
    "FAULTS",
    "MODELS",
    "Emulator",
    "ModelInfo",
    "RecordedRequest",
    "Reply",
    "free_port",
    "request_for",
    "run_reply",
]
