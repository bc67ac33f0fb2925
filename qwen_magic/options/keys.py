"""The API key: where it comes from (the environment or ``%qwencmd key``), checked.

It is held as a :class:`~qwen_magic.masking.Secret`; the mask itself is ``qwen_magic.masking``.
"""

from __future__ import annotations

import os
import unicodedata

from qwen_magic.errors import QwenUsageError
from qwen_magic.masking import Secret

# -- where the key comes from ---------------------------------------------------------------


def resolve_key(env_name: str, session_key: Secret | None = None) -> tuple[Secret | None, str]:
    """(key, where it came from): the session's ``%qwencmd key`` first, then ``$env_name``.
    A key with invalid characters is a UsageError."""
    if session_key:
        return session_key, "%qwencmd key"
    source = f"${env_name}"
    value = os.environ.get(env_name, "").strip()
    return (checked_key(value, source) if value else None), source


def checked_key(value: str, source: str) -> Secret:
    """The key as a Secret, or a UsageError naming the first character no key contains.

    Keys are one line of printable ASCII; a line break, a space inside, a control character,
    a zero-width space or a byte-order mark comes from copying, and would either fail later
    with an unreadable error or slip past masking in an escaped form.
    """
    for index, char in enumerate(value):
        if not "!" <= char <= "~":
            raise QwenUsageError(
                f"The API key from {source} contains {_describe(char)} (character {index + 1} "
                f"of {len(value)}), which no key has: it was probably copied with it. Set it "
                "again as one line of letters, digits and punctuation (copy it from the Model "
                "Studio console), or run `%qwencmd key` and paste it there."
            )
    return Secret(value)


def _describe(char: str) -> str:
    if char in "\r\n":
        return "a line break"
    if char == " ":
        return "a space"
    if char == "\t":
        return "a tab"
    name = unicodedata.name(char, "")
    code = f"U+{ord(char):04X}"
    if not name or unicodedata.category(char).startswith("C"):
        kind = "an invisible" if unicodedata.category(char) == "Cf" else "a control"
        return f"{kind} character ({code}{', ' + name.lower() if name else ''})"
    return f"a non-ASCII character ({code}, {name.lower()})"


# -- masking --------------------------------------------------------------------------------
