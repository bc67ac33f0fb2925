"""Make ``%%qwen`` cells run as coroutines in ipykernel, so the Stop button works mid-answer.

A widget click reaches the kernel only when the running cell yields to the kernel's event loop
(see docs/live-view-traps.md). An input transformer rewrites a cell that starts with ``%%qwen`` into
``await <run the magic as a coroutine>``; ipykernel ≥ 7 then dispatches comm messages (the
click) while the answer streams, and turns an interrupt into a task cancellation we catch.
Everywhere else (terminal, plain shells, ``%%time`` around it, ``%autoawait off``) the cell is
left alone and the ordinary synchronous magic runs it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_CELL = re.compile(r"%%qwen(?![\w?])[ \t]*(.*)")
_LINE = re.compile(r"([ \t]*)%qwen[ \t]+(.*?)\s*")
_RUN = "await __import__('qwen_magic.ipython.kernel', fromlist=['_']).run_cell"
_CALL = _RUN + "({line!r}, {body!r});\n"
_LINE_AWAIT = _RUN + "({line!r}, None);\n"
_LINE_CALL = "{indent}get_ipython().run_line_magic('qwen', {rest!r})\n"


def async_cells_supported(shell: Any) -> bool:
    kernel = getattr(shell, "kernel", None)
    if kernel is None or not getattr(shell, "autoawait", False):
        return False
    try:
        import ipykernel
        from IPython.core.async_helpers import _asyncio_runner
    except ImportError:
        return False
    major = int(ipykernel.__version__.split(".")[0])
    return major >= 7 and shell.loop_runner is _asyncio_runner


def transform(lines: list[str]) -> list[str]:
    if not lines:
        return lines
    match = _CELL.fullmatch(lines[0].rstrip("\r\n"))
    if match is None:
        return _line_magics(lines)
    if not _can_await():
        return lines
    return [_CALL.format(line=match.group(1), body="".join(lines[1:]))]


def _can_await() -> bool:
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None or getattr(shell.displayhook, "exec_result", None) is not None:
        return False  # nested (run_cell from code, %%capture, %%time): the sync magic runs it
    return async_cells_supported(shell)


def _line_magics(lines: list[str]) -> list[str]:
    """``%qwen … prompt?``: a prompt ending in ``?`` must not become IPython's help request.

    A cell that is one ``%qwen`` line runs as a coroutine too (Stop works); other ``%qwen``
    lines are rewritten to an explicit ``run_line_magic`` call, before IPython looks for ``?``.
    """
    matches = [_LINE.fullmatch(line.rstrip("\r\n")) for line in lines]
    if not any(m and m.group(2) not in ("?", "??") for m in matches):
        return lines
    code = [line for line in lines if line.strip()]
    if len(code) == 1 and not code[0][0].isspace() and _can_await():
        rest = _LINE.fullmatch(code[0].rstrip("\r\n")).group(2)  # type: ignore[union-attr]
        return [_LINE_AWAIT.format(line=rest)]
    return [
        _LINE_CALL.format(indent=m.group(1), rest=m.group(2))
        if m and m.group(2) not in ("?", "??")
        else line
        for line, m in zip(lines, matches, strict=True)
    ]


# Without this, is_complete() would call a one-line "%%qwen" cell complete (see IPython).
transform.has_side_effects = True  # type: ignore[attr-defined]


async def run_cell(line: str, body: str | None) -> None:
    from IPython import get_ipython

    from qwen_magic.errors import QwenUsageError

    shell = get_ipython()
    magic = shell.find_cell_magic("qwen")
    if magic is None:  # unloaded between the transform and the run
        raise QwenUsageError("qwen_magic is not loaded: run `%load_ext qwen_magic` first.")
    with busy_while_running(getattr(shell, "kernel", None)):
        await magic.__self__.qwen_async(line, body)


@contextmanager
def busy_while_running(kernel: Any) -> Iterator[None]:
    """Keep the frontend's status "busy" while this cell awaits.

    While a cell runs as a coroutine, ipykernel 7 still answers control-channel requests
    (JupyterLab's debugger sends ``debug_request``s, some frontends ``kernel_info_request``),
    each with a "busy" then an "idle" status on IOPub; JupyterLab shows the last status it got
    from any request, so it read "Idle" while the answer streamed. After such an "idle", the
    running cell's "busy" is sent again (with the cell's request as parent)."""
    publish = getattr(kernel, "_publish_status", None)
    if publish is None or "_publish_status" in vars(kernel):  # not ipykernel, or nested
        yield
        return
    cell = kernel.get_parent("shell")

    def publish_status(status: str, channel: str, parent: Any = None) -> None:
        publish(status, channel, parent)
        if status == "idle" and channel == "control":
            publish("busy", "shell", cell)  # the cell still runs

    kernel._publish_status = publish_status
    try:
        yield
    finally:
        del kernel._publish_status


def install(shell: Any) -> None:
    if transform not in shell.input_transformers_cleanup:
        shell.input_transformers_cleanup.append(transform)


def uninstall(shell: Any) -> None:
    while transform in shell.input_transformers_cleanup:
        shell.input_transformers_cleanup.remove(transform)


def frontend_takes_input(shell: Any) -> bool | None:
    """Whether the client that sent the running cell can answer ``input()``: the
    execute_request's ``allow_stdin``. JupyterLab, Notebook 7 and VS Code send True (a person
    is watching, widgets render); nbclient, and so papermill, ``nbconvert --execute`` and
    Voilà, send False (nobody clicks, and every widget would be saved into the notebook).
    None: not in a kernel (terminal IPython, a plain shell)."""
    kernel = getattr(shell, "kernel", None)
    if kernel is None:
        return None
    try:
        parent = kernel.get_parent("shell")
    except Exception:  # an older kernel: what it kept of the last execute_request
        parent = None
    header = parent.get("header", {}) if isinstance(parent, dict) else {}
    if isinstance(parent, dict) and header.get("msg_type") == "execute_request":
        return bool(parent.get("content", {}).get("allow_stdin", False))
    return bool(getattr(kernel, "_allow_stdin", False))


def current_cell_id(shell: Any) -> str | None:
    """The notebook cell running now (JupyterLab sends it with each execute request)."""
    kernel = getattr(shell, "kernel", None)
    if kernel is not None:
        try:
            cell_id = kernel.get_parent().get("metadata", {}).get("cellId")
        except Exception:
            cell_id = None
        if cell_id:
            return str(cell_id)
    info = getattr(getattr(getattr(shell, "displayhook", None), "exec_result", None), "info", None)
    cell_id = getattr(info, "cell_id", None)
    return str(cell_id) if cell_id else None


def current_execution(shell: Any) -> str | None:
    """A token for the cell run in progress: two questions in one run share it, a re-run
    of the same cell gets a new one."""
    result = getattr(getattr(shell, "displayhook", None), "exec_result", None)
    if result is None:
        return None
    token = getattr(result, "_qwen_execution", None)
    if token is None:
        import uuid

        token = uuid.uuid4().hex
        result._qwen_execution = token
    return token
