"""What the voice tests share."""

from __future__ import annotations

import pytest


@pytest.fixture
def in_tmp(tmp_path, monkeypatch, shell):
    """Files the speech may be saved to land in a temporary folder; default configuration."""
    monkeypatch.chdir(tmp_path)
    saved = shell.config.pop("QwenMagics", None)
    yield
    if saved is not None:
        shell.config.QwenMagics = saved
