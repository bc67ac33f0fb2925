"""Fixtures for the fix tests: no error left over from an earlier test."""

from __future__ import annotations

import sys

import pytest


@pytest.fixture(autouse=True)
def _no_earlier_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """IPython keeps the last traceback in ``sys.last_value``, and loading the extension takes
    it as the error to explain: each test starts with none (before ``ip`` loads it)."""
    for name in ("last_type", "last_value", "last_traceback", "last_exc"):
        monkeypatch.delattr(sys, name, raising=False)
