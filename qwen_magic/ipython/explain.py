"""``%config QwenMagics.explain_errors = True``: an "Explain with Qwen" button under each
uncaught exception of a code cell.

The error hook (``fix.ErrorRecorder``, a ``post_run_cell`` hook) calls :func:`offer` while the
failing cell is still the kernel's parent, so the button lands in that cell's output, under the
traceback. Nothing is sent until the click; the click runs what ``%qwencmd fix`` runs, for
that cell's error, and the answer shows in an Output widget under the button. Only where the
live view can show (a person at JupyterLab, Notebook, VS Code): headless runs and terminals get
nothing at all.
"""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qwen_magic.ipython.lasterror import LastError

LABEL = "Explain with Qwen"
LINE = "--fix -f markdown"  # never -f code: a click has no execute reply to carry a new cell
_tasks: set[asyncio.Task[None]] = set()  # the clicks answering now (a task needs a reference)


def live_possible(magics: Any, shell: Any) -> bool:
    """Where the magic itself would show its live view."""
    from qwen_magic.ipython.kernel import frontend_takes_input

    display = getattr(magics, "display", "auto")
    if display in ("none", "final") or shell is None:
        return False
    if any(cls.__name__ == "TerminalInteractiveShell" for cls in type(shell).__mro__):
        return False
    if display == "auto" and frontend_takes_input(shell) is False:
        return False
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True


def offer(magics: Any, shell: Any, error: LastError) -> Any:
    """Show the button (and the empty area the answer will fill); returns the box."""
    if not live_possible(magics, shell):
        return None
    import ipywidgets as w
    from IPython.display import display

    button = w.Button(
        description=LABEL,
        icon="question-circle",
        tooltip=f"Send {error.label}, its error and the names it uses to Qwen, and explain here",
        layout=w.Layout(width="auto"),
    )
    out = w.Output()
    box = w.VBox([button, out])
    # The click finds the extension then: a button must not keep an unloaded one alive.
    button.on_click(lambda _button: clicked(shell, error, button, out))
    display(box)
    return box


def clicked(shell: Any, error: LastError, button: Any, out: Any) -> None:
    from qwen_magic.ipython.kernel import async_cells_supported

    registry = getattr(getattr(shell, "magics_manager", None), "registry", {})
    magics = registry.get("QwenMagics")
    if magics is None or not hasattr(magics, "qwen_async"):
        _said(out, RuntimeError("qwen_magic is not loaded: run %load_ext qwen_magic first."))
        return
    button.disabled = True
    button.description = "Explaining…"
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    if loop is not None and async_cells_supported(shell):
        # In ipykernel 7 the click arrives on the kernel's loop: answer as a task, so this
        # handler returns and the Stop click can arrive while the answer streams.
        task = loop.create_task(_answer_async(magics, shell, error, button, out))
        _tasks.add(task)
        task.add_done_callback(_tasks.discard)
        return
    _answer(magics, shell, error, button, out)


def _answer(magics: Any, shell: Any, error: LastError, button: Any, out: Any) -> None:
    from qwen_magic.ipython.lasterror import pinned

    before = shell.user_ns.get("_qwen")
    token = pinned.set(error)
    try:
        with out:
            magics.qwen(LINE, None)
    except Exception as exc:  # a UsageError (no key...): said under the button, not lost
        _said(out, exc)
    finally:
        pinned.reset(token)
    _settle(shell, button, out, before)


async def _answer_async(magics: Any, shell: Any, error: LastError, button: Any, out: Any) -> None:
    from qwen_magic.ipython.lasterror import pinned

    before = shell.user_ns.get("_qwen")
    pinned.set(error)  # this task's own context
    try:
        with out:
            await magics.qwen_async(LINE, None)
    except Exception as exc:
        _said(out, exc)
    _settle(shell, button, out, before)


def _said(out: Any, exc: Exception) -> None:
    with out:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)


def _settle(shell: Any, button: Any, out: Any, before: Any) -> None:
    """In a kernel, the static answer replaces the live view inside the Output widget: the
    widget shows display_data but not the display update the live view ends with."""
    result = shell.user_ns.get("_qwen")
    answered = result is not None and result is not before
    if answered and getattr(shell, "kernel", None) is not None:
        from qwen_magic.render.static import bundle_of

        out.outputs = (
            {"output_type": "display_data", "data": bundle_of([result]), "metadata": {}},
        )
    if answered and result.error is None:
        button.layout.display = "none"  # the explanation is below
    else:
        button.disabled = False
        button.description = LABEL
