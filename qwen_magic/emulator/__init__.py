"""An offline emulator of DashScope / Model Studio for tests, demos and notebooks.

It is a real HTTP server on 127.0.0.1 that speaks the three protocols the real service speaks
(OpenAI-compatible Chat Completions and Responses, and the DashScope native API), so the
official `openai` and `dashscope` SDKs can be pointed at it unchanged::

    from qwen_magic.emulator import Emulator, Reply

    with Emulator() as emu:
        emu.queue(Reply(text="Hello!", reasoning="Say hello.", chunks=3))
        client = openai.OpenAI(base_url=emu.compat_base, api_key="sk-test")
        ...
        assert emu.last.body["model"] == "qwen3.5-plus"

Stdlib only; importing it never imports openai or dashscope.
Also a product feature: ``%qwencmd emulator start`` points a kernel at it, and ``./run demo``
runs the lessons against it when no key is set.
"""

from __future__ import annotations

from qwen_magic.emulator.catalog import MODELS, ModelInfo
from qwen_magic.emulator.emulator import Emulator, RecordedRequest
from qwen_magic.emulator.replies import FAULTS, Reply

__all__ = ["FAULTS", "MODELS", "Emulator", "ModelInfo", "RecordedRequest", "Reply"]
