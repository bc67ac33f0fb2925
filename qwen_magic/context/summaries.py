"""Compact summaries of data values for a prompt: ``{df}`` sends what a reader needs to know
about a table (shape, dtypes, a few rows, describe() of its numbers), not ``str(df)``.

A pandas DataFrame or Series is always summarized; a numpy array, list, tuple, set or dict
only when its whole text would take more than a quarter of the budget (a short list reads
better whole). Each summary is made as full as its token budget allows: fewer rows, columns
and items until it fits. ``{df!full}`` sends the whole value instead (every row). pandas and
numpy are never imported here: a value is recognized by its type's module and name.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from qwen_magic.context.tokens import Count, count

# (head rows, columns shown) from the fullest summary to the smallest, for DataFrames
_FRAME_LEVELS = ((5, 20), (5, 12), (3, 8), (2, 6), (0, 6), (0, 3))
_SEQUENCE_LEVELS = (5, 3, 1, 0)  # items shown (Series rows, list and dict items)
_ARRAY_LEVELS = (3, 2, 1, 0)  # an array's first and last items along each axis
_ITEM_CHARS = 120  # one list item's / dict value's text at most
_WHOLE_ITEMS = 1000  # longer lists and arrays are never printed whole (numpy's own threshold)


@dataclass(frozen=True)
class Summary:
    name: str  # as written in the prompt: "{df}", "{df!full}"
    text: str
    kind: str  # "DataFrame summary", "list summary", "DataFrame (whole)", ...
    count: Count


def kind_of(value: Any) -> str | None:
    """``"DataFrame"``, ``"Series"``, ``"array"``, ``"list"``…: the values this module knows."""
    cls = type(value)
    module = cls.__module__.split(".")[0]
    if module == "pandas" and cls.__name__ in ("DataFrame", "Series"):
        return cls.__name__
    if module == "numpy" and cls.__name__ == "ndarray" and getattr(value, "ndim", 0) > 0:
        return "array"
    if isinstance(value, list | tuple | set | frozenset | dict):
        return cls.__name__
    return None


def summarize(value: Any, name: str, budget: int, *, full: bool = False) -> Summary | None:
    """The text ``{name}`` is filled with, if it is not ``str(value)``: a summary within
    ``budget`` tokens, or the whole value with ``full``. None: ``str(value)`` as before."""
    kind = kind_of(value)
    if kind is None:
        return None
    if full:
        text = whole_text(value, kind)
        return Summary(name, text, f"{kind} (whole)", count(text))
    if kind not in ("DataFrame", "Series"):
        size = value.size if kind == "array" else len(value)
        if size <= _WHOLE_ITEMS and count(str(value)).tokens <= budget // 4:
            return None
    make: Callable[[Any, str, Any], str] = _MAKERS[kind]
    levels: tuple[Any, ...] = {"DataFrame": _FRAME_LEVELS, "array": _ARRAY_LEVELS}.get(
        kind, _SEQUENCE_LEVELS
    )
    for level in levels:
        text = make(value, name, level)
        counted = count(text)
        if counted.tokens <= budget:
            break
    return Summary(name, text, f"{kind} summary", counted)


def whole_text(value: Any, kind: str) -> str:
    """Every row and item (pandas and numpy otherwise print a truncated view)."""
    if kind in ("DataFrame", "Series"):
        return str(value.to_string())
    if kind == "array":
        import numpy

        return numpy.array2string(value, threshold=sys.maxsize)
    return str(value)


# ------------------------------------------------------------------------------ the makers
def _number(x: Any) -> str:
    try:
        if float(x).is_integer() and abs(x) < 1e15:
            return str(int(x))
    except (TypeError, ValueError, OverflowError):
        return str(x)
    return f"{x:.4g}"


def _frame(df: Any, name: str, level: tuple[int, int]) -> str:
    rows, cols = level
    n, m = df.shape
    part = df.iloc[:, :cols]
    more = f", … and {m - cols:,} more columns" if m > cols else ""
    lines = [f"[{name}: a pandas DataFrame, {n:,} rows × {m:,} columns (a summary)]"]
    lines.append("dtypes: " + ", ".join(f"{c} {t}" for c, t in part.dtypes.items()) + more)
    index = df.index
    if type(index).__name__ != "RangeIndex" and n:
        lines.append(f"index: {type(index).__name__} {index.dtype}, {index[0]} … {index[-1]}")
    if rows and n:
        lines.append(f"head({rows}):" if n > rows else f"all {n} rows:")
        lines.append(part.head(rows).to_string(max_colwidth=40, float_format=_number))
    numbers = part.select_dtypes("number")
    if numbers.shape[1] and n:
        lines.append("describe() of the numeric columns:")
        lines.append(numbers.describe().to_string(float_format=_number))
    missing = part.isna().sum()
    missing = missing[missing > 0]
    if len(missing):
        lines.append("missing values: " + ", ".join(f"{c} {v:,}" for c, v in missing.items()))
    return "\n".join(lines)


def _series(series: Any, name: str, rows: int) -> str:
    n = len(series)
    label = f", named {series.name!r}" if series.name is not None else ""
    lines = [f"[{name}: a pandas Series of {n:,} values, dtype {series.dtype}{label} (a summary)]"]
    if rows and n:
        lines.append(f"head({rows}):" if n > rows else f"all {n} values:")
        lines.append(series.head(rows).to_string(max_rows=rows, float_format=_number))
    if n and series.dtype.kind in "iuf":
        stats = series.describe()
        lines.append("describe(): " + ", ".join(f"{k} {_number(v)}" for k, v in stats.items()))
    elif n:
        top = series.value_counts().head(max(rows, 3))
        unique = series.nunique()
        values = ", ".join(f"{_short(repr(k), 40)} {v:,}" for k, v in top.items())
        lines.append(f"{unique:,} distinct values; most frequent: {values}")
    missing = int(series.isna().sum())
    if missing:
        lines.append(f"missing values: {missing:,}")
    return "\n".join(lines)


def _array(array: Any, name: str, edges: int) -> str:
    import numpy

    shape = " × ".join(f"{d:,}" for d in array.shape)
    lines = [f"[{name}: a numpy array, shape {shape}, dtype {array.dtype} (a summary)]"]
    if array.size and array.dtype.kind in "iufb":
        data = array.astype(float)
        stats = {
            "min": numpy.nanmin(data),
            "max": numpy.nanmax(data),
            "mean": numpy.nanmean(data),
            "std": numpy.nanstd(data),
        }
        lines.append(", ".join(f"{k} {_number(v)}" for k, v in stats.items()))
        nans = int(numpy.isnan(data).sum())
        if nans:
            lines.append(f"NaN values: {nans:,}")
    if edges and array.size:
        lines.append(f"values (first and last {edges} along each axis):")
        lines.append(
            numpy.array2string(array, threshold=0, edgeitems=edges, precision=4, max_line_width=100)
        )
    return "\n".join(lines)


def _collection(value: Any, name: str, items: int) -> str:
    kind = type(value).__name__
    n = len(value)
    if isinstance(value, Mapping):
        entries = list(value.items())[:items]
        shown = [f"{_short(repr(k), 40)}: {_short(repr(v), _ITEM_CHARS)}" for k, v in entries]
        header = f"[{name}: a {kind} of {n:,} keys (a summary)]"
        types = _types(value.values())
    else:
        ordered = value if isinstance(value, list | tuple) else list(value)
        shown = [_short(repr(x), _ITEM_CHARS) for x in ordered[:items]]
        if n > items > 0:
            shown.append(f"… ({n - items:,} more) … last: {_short(repr(ordered[-1]), _ITEM_CHARS)}")
        header = f"[{name}: a {kind} of {n:,} items (a summary)]"
        types = _types(value)
    lines = [header, f"value types: {types}"]
    if shown:
        lines.append(f"first {min(items, n)}:" if n > items else "items:")
        lines.extend(f"  {line}" for line in shown)
    return "\n".join(lines)


def _types(values: Any) -> str:
    tally: dict[str, int] = {}
    for value in values:
        key = type(value).__name__
        tally[key] = tally.get(key, 0) + 1
    ranked = sorted(tally.items(), key=lambda kv: -kv[1])
    return ", ".join(f"{k} {v:,}" for k, v in ranked[:6]) + (", …" if len(ranked) > 6 else "")


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


_MAKERS: dict[str, Callable[[Any, str, Any], str]] = {
    "DataFrame": _frame,
    "Series": _series,
    "array": _array,
    "list": _collection,
    "tuple": _collection,
    "set": _collection,
    "frozenset": _collection,
    "dict": _collection,
}
