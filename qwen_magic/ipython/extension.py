"""``%load_ext`` / ``%unload_ext``: what loading gives a shell, and taking all of it back.

The loaded ``QwenMagics`` lives in the shell's own magics registry, nowhere else: unloading
the extension leaves no reference to it in qwen_magic.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qwen_magic.ipython.magics import QwenMagics
    from qwen_magic.session import Session

_NAME = "QwenMagics"
WARM_UP_THREAD = "qwen-warm-up"

# Our modules the first %%qwen imports on the spot (lazily, to keep %load_ext fast).
_OURS = (
    "qwen_magic.runner",
    "qwen_magic.ipython.interpolate",
    "qwen_magic.ipython.many",
    "qwen_magic.ipython.context",
    "qwen_magic.context.files",
    "qwen_magic.ipython.tools",
)
# What the first call of each API imports on the spot: a second or more of the user's wait.
_FIRST_CALL = {
    "chat": ("openai", "qwen_magic.providers.chat"),
    "responses": ("openai", "qwen_magic.providers.responses"),
    "dashscope": ("dashscope", "qwen_magic.providers.dashscope"),
}


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
    from qwen_magic.ipython import fix, kernel
    from qwen_magic.ipython.magics import QwenMagics
    from qwen_magic.render import formatters

    if magics_of(shell) is not None:
        return
    try:
        magics = QwenMagics(shell=shell)
    except Exception:  # a bad configured value: IPython already listed the half-built instance
        configurables = getattr(shell, "configurables", [])
        configurables[:] = [c for c in configurables if type(c).__name__ != _NAME]
        raise
    shell.register_magics(magics)
    kernel.install(shell)
    formatters.register(shell)
    fix.install(magics, shell)  # records the last error (%qwencmd fix, explain_errors)
    if magics.warm_up and getattr(shell, "kernel", None) is not None:
        warm_up(magics, shell)


def warm_up(magics: QwenMagics, shell: Any) -> threading.Thread:
    """Import, in a daemon thread, what the first call would import on the spot (the SDK of
    the configured API, its resources, the live view where a person runs the cells) and build
    the HTTP client the call will reuse, so all is ready by the time the user has typed a
    question. Only in a kernel: a terminal shell that never asks imports nothing, and
    ``%load_ext`` itself imports no SDK.

    After each cell, a change of endpoint (``%config``, ``%qwencmd emulator start``, a typed
    key) warms the new one the same way."""
    from qwen_magic.ipython.kernel import frontend_takes_input

    modules = [*_OURS, *_FIRST_CALL.get(magics.api, ())]
    if frontend_takes_input(shell):
        modules += ["ipywidgets", "qwen_magic.render.live"]
    thread = _start(modules, magics)
    seen = [_endpoint(magics)]

    def after_cell() -> None:
        if _endpoint(magics) != seen[0]:
            seen[0] = _endpoint(magics)
            _start(list(_FIRST_CALL.get(magics.api, ())), magics)

    shell.events.register("post_execute", after_cell)
    magics._warm_hook = after_cell  # type: ignore[attr-defined]  # unregistered at unload
    return thread


def _endpoint(magics: QwenMagics) -> tuple[Any, ...]:
    return (magics.api, magics.region, magics.workspace, magics.base_url,
            id(magics.emulator), magics.session_key is not None)  # fmt: skip


def _start(modules: list[str], magics: QwenMagics) -> threading.Thread:
    thread = threading.Thread(target=_warm, args=(modules, magics), name=WARM_UP_THREAD)
    thread.daemon = True
    thread.start()
    return thread


def _warm(modules: list[str], magics: QwenMagics) -> None:
    """The imports, then the client of the endpoint configured now (as the provider's
    ``prepare`` builds it: the same cached client), then one dry run of the provider over a
    canned answer (``rehearsal.py``: the SDK's first-use work). Nothing here may fail the
    user."""
    for name in modules:
        with contextlib.suppress(Exception):  # a missing SDK: the call will say so
            importlib.import_module(name)
    try:
        from qwen_magic.options.build import build_request

        request = build_request("warm-up", {}, magics)
    except Exception:  # no key yet, a bad setting: the call will say so
        return
    with contextlib.suppress(Exception):
        if request.api == "dashscope":
            from qwen_magic.providers.dashscope_http import shared_session

            shared_session()  # the one session every sync call uses
            return
        from qwen_magic.ipython.rehearsal import rehearse

        rehearse(request)


def unload(shell: Any) -> None:
    """``%unload_ext qwen_magic``: take back everything ``load`` gave, and forget the session
    (the typed key, the chats, an emulator we started) and the pooled connections."""
    from qwen_magic.ipython import fix, kernel
    from qwen_magic.render import formatters

    magics = magics_of(shell)
    if magics is None:
        return
    kernel.uninstall(shell)
    fix.uninstall(magics, shell)
    formatters.unregister(shell)
    hook = getattr(magics, "_warm_hook", None)
    if hook is not None:
        shell.events.unregister("post_execute", hook)
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
