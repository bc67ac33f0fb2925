"""The emulator's own tests talk to it through the real openai SDK."""

from __future__ import annotations

import openai
import pytest

from qwen_magic.testing import Emulator


@pytest.fixture
def client(emulator: Emulator) -> openai.OpenAI:
    """An openai client on the emulator's compatible-mode endpoint, without SDK retries."""
    return openai.OpenAI(base_url=emulator.compat_base, api_key="sk-test", max_retries=0)
