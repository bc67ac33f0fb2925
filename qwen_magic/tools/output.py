"""What a tool's return value becomes for the model: JSON where it can be, else its text, and
never more than a budget of characters (a DataFrame returned by mistake must not fill the
context)."""

from __future__ import annotations

import dataclasses
import enum
import json
from typing import Any

RESULT_BUDGET = 16_000  # characters of one call's result sent back to the model


def tool_output(value: Any, budget: int = RESULT_BUDGET) -> str:
    """A str as it is; JSON for what JSON can hold (dataclasses and pydantic models too,
    numpy scalars and arrays); else ``str(value)`` (or ``repr`` when str says nothing more).
    Cut to ``budget`` characters with a note saying how long it was."""
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, ensure_ascii=False, default=_jsonable)
        except (TypeError, ValueError):
            text = _text(value)
    return truncated(text, budget)


def truncated(text: str, budget: int = RESULT_BUDGET) -> str:
    if len(text) <= budget:
        return text
    note = f"… [cut: {len(text):,} characters in all, the first {budget:,} shown]"
    return text[:budget] + note


def _jsonable(value: Any) -> Any:
    """``json.dumps``'s fallback for the usual Python values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, enum.Enum):
        return value.value
    dump = getattr(value, "model_dump", None)  # pydantic
    if callable(dump):
        return dump(mode="json")
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    tolist = getattr(value, "tolist", None)  # numpy scalars and arrays
    if callable(tolist) and type(value).__module__.startswith("numpy"):
        return tolist()
    isoformat = getattr(value, "isoformat", None)  # dates and times
    if callable(isoformat):
        return isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


def _text(value: Any) -> str:
    try:
        return str(value)
    except Exception:
        return repr(value)
