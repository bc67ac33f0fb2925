"""Options and validated config -> one Request: endpoint, key, presets, thinking."""

from __future__ import annotations

from qwen_magic.options.build import build_request

__all__ = ["build_request"]
