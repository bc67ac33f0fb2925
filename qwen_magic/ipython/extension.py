"""``%load_ext`` / ``%unload_ext``: what loading gives a shell, and taking all of it back.

The loaded ``QwenMagics`` lives in the shell's own magics registry, nowhere else: unloading
the extension leaves no reference to it in qwen_magic.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qwen_magic.ipython.magics import QwenMagics
    from qwen_magic.session import Session

_NAME = "QwenMagics"


def magics_of(shell: Any) -> QwenMagics | None:
    """The ``QwenMagics`` loaded in ``shell`` (None: the extension is not loaded there)."""
    registry = getattr(getattr(shell, "magics_manager", None), "registry", None)
    magics = registry.get(_NAME) if registry is not None else None
    if magics is None or type(magics).__name__ != _NAME or not hasattr(magics, "session"):
        return None
    return magics


def session_of(shell: Any) -> Session | None:
    """The per-kernel state (chats, usage, key, emulator) of the extension in ``shell``."""
    magics = magics_of(shell)
    return None if magics is None else magics.session


def load(shell: Any) -> None:
    """``%load_ext qwen_magic``: the magics, the cell transformer and the display formatters."""
    from qwen_magic.ipython import kernel
    from qwen_magic.ipython.magics import QwenMagics
    from qwen_magic.render import formatters

    if magics_of(shell) is not None:
        return
    shell.register_magics(QwenMagics(shell=shell))
    kernel.install(shell)
    formatters.register(shell)


def unload(shell: Any) -> None:
    """``%unload_ext qwen_magic``: take back everything ``load`` gave, and forget the session
    (the typed key, the chats, an emulator we started) and the pooled connections."""
    from qwen_magic.ipython import kernel
    from qwen_magic.render import formatters

    magics = magics_of(shell)
    if magics is None:
        return
    kernel.uninstall(shell)
    formatters.unregister(shell)
    manager = shell.magics_manager
    for kind, names in magics.magics.items():
        for name in names:
            manager.magics[kind].pop(name, None)
    manager.registry.pop(_NAME, None)
    configurables = getattr(shell, "configurables", [])
    configurables[:] = [c for c in configurables if c is not magics]
    magics.session.close()
    shell.user_ns.pop("_qwen", None)
    close_connections()


def close_connections() -> None:
    """Close the SDK clients and sessions a call opened (they hold keys and sockets). Only
    modules already imported are touched: unloading imports no SDK."""
    openai_common = sys.modules.get("qwen_magic.providers.openai_common")
    if openai_common is not None:
        openai_common.close_clients()
    dashscope_http = sys.modules.get("qwen_magic.providers.dashscope_http")
    if dashscope_http is not None and hasattr(dashscope_http, "close_session"):
        dashscope_http.close_session()
