"""Test helpers: the emulator's public names, requests aimed at it, a pytest plugin.

``from qwen_magic.testing import Emulator, Reply`` keeps working; the emulator itself lives in
``qwen_magic.emulator`` (a product feature: ``%qwencmd emulator start``).
"""

from __future__ import annotations

from qwen_magic.emulator import FAULTS, MODELS, Emulator, ModelInfo, RecordedRequest, Reply
from qwen_magic.testing.calls import free_port, request_for, run_reply

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
