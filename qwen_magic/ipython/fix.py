"""Explain and fix the last error: ``%qwencmd fix`` and ``%%qwen --fix [words]``.

A ``post_run_cell`` hook keeps the last uncaught exception of a code cell (its source as typed,
the exception, a trimmed plain-text traceback): it works with history off, in any shell, and
sees the cell exactly as it failed. :func:`fix_prompt` turns it into the question, with the
names and types of the variables the cell uses; the magic's normal path sends it, so the
live view, Stop, ``-o``, ``-m`` and ``-f code`` work as for any question.
"""

from __future__ import annotations

import ast
import contextlib
import re
import shlex
import sys
import traceback
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qwen_magic.errors import QwenUsageError

# Bounds of what is sent (characters): a long cell or a deep traceback stays a short prompt.
CELL_CHARS = 6000
EXCEPTION_CHARS = 1500
TRACEBACK_CHARS = 4000
LINE_CHARS = 240
LIBRARY_FRAMES = 3  # the last frames outside the notebook's cells (where the error was raised)
VARIABLES = 25
VARIABLES_CHARS = 2500

INSTRUCTION = (
    "This notebook cell raised an exception. Explain briefly, in plain words, what went wrong "
    "and why. Then give the whole corrected cell, ready to run, as the last thing in your "
    "answer, in one ```python code block (the complete cell, not only the changed line). If "
    "the cause is outside this cell (data, an earlier cell, a missing package), say what to "
    "check or run first."
)

_PACKAGE = str(Path(__file__).resolve().parents[1])  # errors raised in qwen_magic are ours
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")
_SECRET_NAME = re.compile(r"key|secret|token|passw|credential|auth", re.I)
_FIX_LINE = re.compile(r"[ \t]*%qwencmd[ \t]+fix(?:[ \t]+(.*?))?\s*")

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


class ErrorRecorder:
    """The ``post_run_cell`` hook: records the last error; offers the explain button."""

    def __init__(self, magics: Any, shell: Any) -> None:
        self.magics = magics
        self.shell = shell
        self.last: LastError | None = None
        value = getattr(sys, "last_value", None)  # an error from before %load_ext
        if isinstance(value, BaseException) and recordable(value, shell):
            self.last = capture(shell, value, None, None)

    def __call__(self, result: Any) -> None:
        try:
            self._record(result)
        except Exception:  # a hook that fails would be disabled by IPython, and say so loudly
            return

    def _record(self, result: Any) -> None:
        info = getattr(result, "info", None)
        raw = getattr(info, "raw_cell", None)
        if not isinstance(raw, str):
            return
        error = getattr(result, "error_in_exec", None)
        before = getattr(result, "error_before_exec", None)
        if error is None and isinstance(before, SyntaxError):
            error = before
        cell_id = getattr(info, "cell_id", None)
        if error is None:
            if (
                before is None
                and self.last is not None
                and cell_id
                and cell_id == self.last.cell_id
            ):
                self.last = None  # that cell runs now: its old error is fixed
            return
        if not recordable(error, self.shell):
            return
        self.last = capture(self.shell, error, raw, getattr(result, "execution_count", None))
        self.last.cell_id = cell_id
        if getattr(self.magics, "explain_errors", False):
            from qwen_magic.ipython.explain import offer

            offer(self.magics, self.shell, self.last)

    def current(self) -> LastError | None:
        """The error to explain: a pinned one (a button's), else the last recorded."""
        return pinned.get() or self.last


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


def fix_prompt(magics: Any, extra: str = "") -> str:
    """The question ``--fix`` sends; a UsageError when no error was recorded."""
    recorder = recorder_of(magics)
    last = recorder.current() if recorder is not None else pinned.get()
    if last is None:
        raise QwenUsageError(
            "There is no error to explain yet: run the cell that fails, then `%qwencmd fix` "
            "(or `%qwen --fix`). Errors are recorded from the moment qwen_magic is loaded; "
            "a UsageError of a magic and errors inside qwen_magic itself are not."
        )
    shell = magics.shell
    parts = [INSTRUCTION]
    if extra.strip():
        parts.append("Also: " + extra.strip())
    source = last.cell.strip("\n")
    if len(source) > CELL_CHARS:
        source = source[:CELL_CHARS] + f"\n# ... ({len(last.cell) - CELL_CHARS:,} more characters)"
    parts.append(f"The cell ({last.label}):\n" + fenced(source, "python"))
    parts.append("The exception:\n" + fenced(last.exception))
    if last.traceback != last.exception:
        parts.append("The traceback (trimmed):\n" + fenced(last.traceback))
    variables = describe_variables(last.names, shell)
    if variables:
        parts.append("Variables the cell uses, as they are now:\n" + "\n".join(variables))
    return _masked("\n\n".join(parts), magics)


def _masked(text: str, magics: Any) -> str:
    """The key never leaves in a prompt: make sure this session's key is known, then mask."""
    from qwen_magic import masking
    from qwen_magic.options import keys

    with contextlib.suppress(Exception):  # an unusable key: the call itself will say so
        keys.resolve_key(magics.api_key_env, magics.session.key)
    return str(masking.redact(text))


def fenced(text: str, language: str = "") -> str:
    """A fenced block that the text itself cannot close."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{text}\n{fence}"


def plain(text: str) -> str:
    """No ANSI colour codes (a library's coloured message, IPython's own colours)."""
    return _ANSI.sub("", text)


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def fixed_cell(answer: str) -> str | None:
    """``-f code`` with ``--fix``: the corrected cell, the answer's last Python block (the
    prompt asks for it last; an explanation may quote the failing line in a block first)."""
    from qwen_magic.ipython.codecells import PYTHON, code_blocks

    blocks = [code for language, code in code_blocks(answer) if language in PYTHON]
    return blocks[-1] if blocks else None


# ------------------------------------------------------------------ %qwencmd fix


def command_line(words: list[str]) -> str:
    """``%qwencmd fix -f code why?`` is ``%qwen --fix -f code why?``."""
    return shlex.join(["--fix", *words])


def run_command(magics: Any, words: list[str]) -> None:
    magics.qwen(command_line(words), None)


def transform(lines: list[str]) -> list[str]:
    """A cell that is one ``%qwencmd fix …`` line runs as a coroutine, as ``%qwen`` does
    (Stop works); elsewhere the cell is left to the line magic."""
    code = [line for line in lines if line.strip()]
    if len(code) != 1:
        return lines
    match = _FIX_LINE.fullmatch(code[0].rstrip("\r\n"))
    if match is None:
        return lines
    from qwen_magic.ipython import kernel

    try:
        words = shlex.split(match.group(1) or "")
    except ValueError:  # unbalanced quotes: the line magic says so
        return lines
    if not kernel._can_await():
        return lines
    return [f"{kernel._RUN}({command_line(words)!r}, None);\n"]


# ------------------------------------------------------------------ load / unload


def recorder_of(magics: Any) -> ErrorRecorder | None:
    recorder = getattr(magics, "_fix_recorder", None)
    return recorder if isinstance(recorder, ErrorRecorder) else None


def install(magics: Any, shell: Any) -> None:
    """Record errors from now on, and run ``%qwencmd fix`` cells as coroutines."""
    if recorder_of(magics) is not None:
        return
    recorder = ErrorRecorder(magics, shell)
    magics._fix_recorder = recorder
    shell.events.register("post_run_cell", recorder)
    if transform not in shell.input_transformers_cleanup:
        shell.input_transformers_cleanup.append(transform)


def uninstall(magics: Any, shell: Any) -> None:
    recorder = recorder_of(magics)
    if recorder is not None:
        with contextlib.suppress(ValueError):
            shell.events.unregister("post_run_cell", recorder)
        magics._fix_recorder = None
    while transform in shell.input_transformers_cleanup:
        shell.input_transformers_cleanup.remove(transform)
