"""What an uncaught exception of a code cell was, in plain text: its source as typed, the
exception, a trimmed traceback (the notebook's frames and the last few library frames), and the
names, types and shapes of the variables it uses, each bounded. Read by ``fix.py`` (the question
``--fix`` sends) and ``explain.py`` (the button, for its own cell's error).
"""

from __future__ import annotations

import ast
import re
import traceback
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Bounds of what is sent (characters): a long cell or a deep traceback stays a short prompt.
CELL_CHARS = 6000
EXCEPTION_CHARS = 1500
TRACEBACK_CHARS = 4000
LINE_CHARS = 240
LIBRARY_FRAMES = 3  # the last frames outside the notebook's cells (where the error was raised)
VARIABLES = 25
VARIABLES_CHARS = 2500

_PACKAGE = str(Path(__file__).resolve().parents[1])  # errors raised in qwen_magic are ours
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")
_SECRET_NAME = re.compile(r"key|secret|token|passw|credential|auth", re.I)

# The error a click on "Explain with Qwen" is about (that cell's, not whatever failed last).
pinned: ContextVar[LastError | None] = ContextVar("qwen_fix_pinned", default=None)


@dataclass
class LastError:
    """An uncaught exception of a code cell, as the user saw it (plain text, bounded)."""

    cell: str
    label: str  # "In[5]"
    exception: str  # "ZeroDivisionError: division by zero"
    traceback: str
    names: list[str]  # the names the cell reads or sets, in order of appearance
    cell_id: str | None = None


def recordable(error: BaseException, shell: Any = None) -> bool:
    """An error of the user's code: not Ctrl-C or exit, not a UsageError (a magic's own
    message, %%qwen's included), and not raised inside qwen_magic once a cell called it (no
    loops; what called the cell does not count)."""
    from IPython.core.error import UsageError

    if not isinstance(error, Exception) or isinstance(error, UsageError):
        return False
    in_cell = False
    tb = error.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if in_cell and filename.startswith(_PACKAGE):
            return False
        in_cell = in_cell or cell_label(shell, filename) is not None
        tb = tb.tb_next
    return True


def capture(shell: Any, error: BaseException, raw: str | None, count: int | None) -> LastError:
    frames = traceback.extract_tb(error.__traceback__)
    labels = [cell_label(shell, frame.filename) for frame in frames]
    if raw is None:  # from sys.last_value: the innermost cell's source, as IPython cached it
        cells = [f.filename for f, label in zip(frames, labels, strict=True) if label]
        raw = "".join(_cached_lines(cells[-1])) if cells else ""
        label = next((lb for lb in reversed(labels) if lb), None) or "the last cell"
    else:
        label = f"In[{count}]" if count is not None else "the last cell"
    exception = plain("".join(traceback.format_exception_only(type(error), error)).strip())
    return LastError(
        cell=raw,
        label=label,
        exception=cut(exception, EXCEPTION_CHARS),
        traceback=trimmed_traceback(error, frames, labels, exception),
        names=used_names(raw, shell),
    )


def cell_label(shell: Any, filename: str) -> str | None:
    """``In[5]`` for a frame in a notebook cell, None for a library frame."""
    try:
        named = shell.compile.format_code_name(filename)
    except Exception:
        named = None
    if named:
        return str(named[1])
    if filename.startswith("<ipython-input-"):
        return "In[" + filename.split("-")[2] + "]"
    return None


def trimmed_traceback(
    error: BaseException, frames: list[Any], labels: list[str | None], exception: str
) -> str:
    """Every frame in the notebook's cells and the last few library frames, in plain text;
    IPython's own frames before the first cell are dropped, the rest counted."""
    if isinstance(error, SyntaxError) or not frames:
        return cut(exception, TRACEBACK_CHARS)
    first = next((i for i, label in enumerate(labels) if label), 0)
    library = [i for i in range(first, len(frames)) if not labels[i]]
    keep = {i for i in range(first, len(frames)) if labels[i]} | set(library[-LIBRARY_FRAMES:])
    lines, skipped = ["Traceback (most recent call last):"], 0
    for index in range(first, len(frames)):
        if index not in keep:
            skipped += 1
            continue
        if skipped:
            lines.append(f"  ... {skipped} more frame{'s' if skipped > 1 else ''} ...")
            skipped = 0
        frame, label = frames[index], labels[index]
        where = f"{label}, line {frame.lineno}" if label else _short(frame.filename)
        where += "" if label else f", line {frame.lineno}"
        lines.append(cut(plain(f"  {where}, in {frame.name}"), LINE_CHARS))
        if frame.line:
            lines.append(cut(plain("    " + frame.line.strip()), LINE_CHARS))
    chained = error.__cause__ or (None if error.__suppress_context__ else error.__context__)
    lines.append(exception)
    if chained is not None:
        how = "caused by" if error.__cause__ is not None else "raised while handling"
        first_line = plain("".join(traceback.format_exception_only(type(chained), chained)))
        lines.append(f"({how} {cut(first_line.strip(), LINE_CHARS)})")
    text = "\n".join(lines)
    if len(text) > TRACEBACK_CHARS:  # keep the head (where in the cell) and the tail (the raise)
        half = TRACEBACK_CHARS // 2
        text = text[:half] + "\n  ... (cut) ...\n" + text[-half:]
    return text


def _short(filename: str) -> str:
    """A library path from its package on (``pandas/core/frame.py``), not the user's home."""
    parts = Path(filename).parts
    for marker in ("site-packages", "dist-packages"):
        if marker in parts:
            return "/".join(parts[parts.index(marker) + 1 :])
    return "/".join(parts[-3:]) if len(parts) > 3 else filename


def _cached_lines(filename: str) -> list[str]:
    import linecache

    return linecache.getlines(filename)


def used_names(source: str, shell: Any) -> list[str]:
    """The names the cell reads or sets, in order (magics turned into Python first)."""
    try:
        code = shell.transform_cell(source) if shell is not None else source
    except Exception:
        code = source
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return []
    names = sorted(
        (node for node in ast.walk(tree) if isinstance(node, ast.Name)),
        key=lambda node: (node.lineno, node.col_offset),
    )
    return list(dict.fromkeys(node.id for node in names))


def describe_variables(names: list[str], shell: Any) -> list[str]:
    """``name: type`` lines (shape for arrays and tables, a short repr for small scalars),
    within :data:`VARIABLES` names and :data:`VARIABLES_CHARS` characters."""
    namespace = getattr(shell, "user_ns", {})
    hidden = getattr(shell, "user_ns_hidden", {})
    lines: list[str] = []
    size, left = 0, 0
    for name in names:
        if name.startswith("_") or name in hidden or name not in namespace:
            continue
        value = namespace[name]
        if type(value).__name__ == "module":
            continue
        line = cut(plain(f"- {name}: {describe(name, value)}"), LINE_CHARS)
        if len(lines) >= VARIABLES or size + len(line) > VARIABLES_CHARS:
            left += 1
            continue
        lines.append(line)
        size += len(line) + 1
    if left:
        lines.append(f"- ... and {left} more")
    return lines


def describe(name: str, value: Any) -> str:
    try:
        return _describe(name, value)
    except Exception:
        return _type_name(value)


def _describe(name: str, value: Any) -> str:
    import inspect

    kind = _type_name(value)
    if isinstance(value, (str, bytes)):
        if _SECRET_NAME.search(name):
            return f"{kind} of {len(value)} characters (not shown: the name looks like a secret)"
        if len(value) <= 60:
            return f"{kind} = {value!r}"
        return f"{kind} of {len(value):,} characters, starting {value[:40]!r}"
    if value is None or isinstance(value, (bool, int, float, complex)):
        return f"{kind} = {cut(repr(value), 60)}"
    if inspect.isclass(value):
        return f"class {value.__qualname__}"
    if inspect.isroutine(value):
        try:
            signature = str(inspect.signature(value))
        except (TypeError, ValueError):
            signature = "(...)"
        return f"function {name}{cut(signature, 120)}"
    shape = getattr(value, "shape", None)
    if isinstance(shape, tuple):
        text = f"{kind}, shape {shape}"
        columns, dtypes = getattr(value, "columns", None), getattr(value, "dtypes", None)
        if columns is not None and dtypes is not None:  # a DataFrame: its columns and types
            pairs = [f"{c!r} ({t})" for c, t in list(dtypes.items())[:20]]
            more = f", ... {len(columns) - 20} more" if len(columns) > 20 else ""
            return f"{text}, columns {', '.join(pairs)}{more}"
        dtype = getattr(value, "dtype", None)
        return f"{text}, dtype {dtype}" if dtype is not None else text
    if isinstance(value, dict):
        keys = ", ".join(cut(repr(k), 30) for k in list(value)[:10])
        more = ", ..." if len(value) > 10 else ""
        return f"{kind} of {len(value)} keys: {keys}{more}"
    if isinstance(value, (list, tuple, set, frozenset)):
        return f"{kind} of {len(value)} items"
    return kind


def _type_name(value: Any) -> str:
    kind = type(value)
    module = kind.__module__
    return kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"


def plain(text: str) -> str:
    """No ANSI colour codes (a library's coloured message, IPython's own colours)."""
    return _ANSI.sub("", text)


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
