"""Explain and fix the last error: ``%qwencmd fix`` and ``%%qwen --fix [words]``.

A ``post_run_cell`` hook keeps the last uncaught exception of a code cell (``lasterror.py``):
it works with history off, in any shell, and sees the cell exactly as it failed.
:func:`fix_prompt` turns it into the question; the magic's normal path sends it, so the live
view, Stop, ``-o``, ``-m`` and ``-f code`` work as for any question.
"""

from __future__ import annotations

import contextlib
import re
import shlex
import sys
from typing import Any

from qwen_magic.errors import QwenUsageError
from qwen_magic.ipython.lasterror import (
    CELL_CHARS,
    LastError,
    capture,
    describe_variables,
    pinned,
    recordable,
)

INSTRUCTION = (
    "This notebook cell raised an exception. Explain briefly, in plain words, what went wrong "
    "and why. Then give the whole corrected cell, ready to run, as the last thing in your "
    "answer, in one ```python code block (the complete cell, not only the changed line). If "
    "the cause is outside this cell (data, an earlier cell, a missing package), say what to "
    "check or run first."
)

_FIX_LINE = re.compile(r"[ \t]*%qwencmd[ \t]+fix(?:[ \t]+(.*?))?\s*")


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
    parts.append("The exception:\n" + fenced(last.exception, "text"))
    if last.traceback != last.exception:
        parts.append("The traceback (trimmed):\n" + fenced(last.traceback, "text"))
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
