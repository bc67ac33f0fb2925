"""Make ``%%qwen`` cells run as coroutines in ipykernel, so the Stop button works mid-answer.

A widget click reaches the kernel only when the running cell yields to the kernel's event loop
(see the traps doc). An input transformer rewrites a cell that starts with ``%%qwen`` into
``await <run the magic as a coroutine>``; ipykernel ≥ 7 then dispatches comm messages (the
click) while the answer streams, and turns an interrupt into a task cancellation we catch.
Everywhere else (terminal, plain shells, ``%%time`` around it, ``%autoawait off``) the cell is
left alone and the ordinary synchronous magic runs it.
"""

from __future__ import annotations

import re
from typing import Any

_CELL = re.compile(r"%%qwen(?![\w?])[ \t]*(.*)")
_CALL = "await __import__('qwen_magic.kernel', fromlist=['_']).run_cell({line!r}, {body!r});\n"


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
        return lines
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None or getattr(shell.displayhook, "exec_result", None) is not None:
        return lines  # nested (run_cell from code, %%capture, %%time): the sync magic runs it
    if not async_cells_supported(shell):
        return lines
    return [_CALL.format(line=match.group(1), body="".join(lines[1:]))]


# Without this, is_complete() would call a one-line "%%qwen" cell complete (see IPython).
transform.has_side_effects = True  # type: ignore[attr-defined]


async def run_cell(line: str, body: str) -> None:
    from IPython import get_ipython

    from . import _loaded

    shell = get_ipython()
    await _loaded[id(shell)].qwen_async(line, body)


def install(shell: Any) -> None:
    if transform not in shell.input_transformers_cleanup:
        shell.input_transformers_cleanup.append(transform)


def uninstall(shell: Any) -> None:
    while transform in shell.input_transformers_cleanup:
        shell.input_transformers_cleanup.remove(transform)


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
