"""The history hook: ``QwenMagics._after`` hands every finished call here (``%%qwen``,
``%qwen``, ``ask()``, each item of ``--each``, each variant of a compare, ``--fix``, the tool
loop); one insert into the local log, with the notebook and cell it came from (the answers
of one ``--each`` or compare cell: one write for them all).

Writing the history must never cost the user their answer: a failure is said once on stderr
and the call goes on.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qwen_magic.request import Request
    from qwen_magic.result import Result

_warned: set[str] = set()  # history files whose failure was already said


def log_call(
    magics: Any, result: Result, request: Request | None = None, kind: str | None = None
) -> None:
    """Append ``result`` to the history unless ``QwenMagics.history`` is off."""
    log_calls(magics, [(result, request, kind)])


def log_calls(magics: Any, calls: Sequence[tuple[Result, Request | None, str | None]]) -> None:
    """Append several calls in one write (each answer of a ``--each`` or a compare)."""
    if not getattr(magics, "history", True) or not calls:
        return
    from qwen_magic.logbook.store import HistoryStore

    store = HistoryStore(getattr(magics, "history_path", None))
    try:
        _know_the_key(magics)
        from qwen_magic.logbook.record import values_of

        place = place_of(getattr(magics, "shell", None))
        store.add_many([values_of(result, request, kind, place) for result, request, kind in calls])
    except Exception as exc:
        where = str(store.path)
        if where not in _warned:
            _warned.add(where)
            from qwen_magic.errors import QwenUsageError
            from qwen_magic.masking import redact

            advice = (  # (the store's own errors say already what to do)
                ""
                if isinstance(exc, QwenUsageError)
                else " Set QwenMagics.history_path to a writable file, or "
                "%config QwenMagics.history = False."
            )
            reason = redact(str(exc)).rstrip(".")
            print(
                f"qwen: this call was not added to the history ({where}): {reason}.{advice}",
                file=sys.stderr,
            )


def _know_the_key(magics: Any) -> None:
    """Make sure the mask knows this user's key, even when the call went elsewhere (the
    emulator, a server of your own): a prompt or an answer holding it is masked too."""
    from qwen_magic.options import keys

    try:  # (a key typed with %qwencmd key is a Secret already: the mask knows it)
        keys.resolve_key(getattr(magics, "api_key_env", "DASHSCOPE_API_KEY"))
    except Exception:  # no usable key: nothing to mask
        return


def place_of(shell: Any) -> dict[str, Any]:
    """The notebook and cell a call came from, where the frontend says.

    The notebook: VS Code's ``__vsc_ipynb_file__``, else Jupyter's session path (the server
    starts the kernel with ``JPY_SESSION_NAME``; ipykernel copies it to ``__session__``). The
    cell: the id JupyterLab and Notebook 7 send with each execute request."""
    if shell is None:
        return {}
    from qwen_magic.ipython.kernel import current_cell_id

    user_ns = getattr(shell, "user_ns", {}) or {}
    notebook = (
        user_ns.get("__vsc_ipynb_file__")
        or user_ns.get("__session__")
        or os.environ.get("JPY_SESSION_NAME")
    )
    count = getattr(shell, "execution_count", None)
    return {
        "notebook": str(notebook) if notebook else None,
        "cell_id": current_cell_id(shell),
        "execution_count": count if isinstance(count, int) else None,
    }
