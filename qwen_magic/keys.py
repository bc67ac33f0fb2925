"""Where the API key comes from. It is kept in memory only and never shown whole."""

from __future__ import annotations

import os

_session_key: str | None = None


def set_session_key(key: str | None) -> None:
    """``%qwencmd key``: a key for this kernel only, never written anywhere."""
    global _session_key
    _session_key = key.strip() if key else None


def resolve_key(env_name: str) -> tuple[str | None, str]:
    """(key, where it came from)."""
    if _session_key:
        return _session_key, "%qwencmd key"
    value = os.environ.get(env_name, "").strip()
    return (value or None), f"${env_name}"


def mask(key: str | None) -> str:
    """``sk-…f3a9``: enough to tell keys apart, not enough to use one."""
    if not key:
        return "(not set)"
    if len(key) <= 8:
        return "…"
    return f"{key[:3]}…{key[-4:]}"


def scrub(text: str, key: str | None) -> str:
    """Remove a key from text that is about to be shown (belt and braces)."""
    if key and len(key) >= 8 and key in text:
        return text.replace(key, mask(key))
    return text
