"""pytest fixtures: one emulator per test session, wiped clean for every test.

Register with ``pytest_plugins = ["qwen_magic.testing.pytest_plugin"]`` in ``conftest.py``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from qwen_magic.emulator.emulator import Emulator


@pytest.fixture(scope="session")
def _qwen_emulator_server() -> Iterator[Emulator]:
    emulator = Emulator().start()
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def emulator(_qwen_emulator_server: Emulator) -> Emulator:
    """The running emulator, with an empty queue and no recorded requests."""
    _qwen_emulator_server.api_key = None
    _qwen_emulator_server.clear()
    return _qwen_emulator_server
