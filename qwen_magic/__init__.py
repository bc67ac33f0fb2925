"""qwen_magic: ``%%qwen`` and ``%qwen`` for Qwen models on Alibaba Cloud Model Studio.

``%load_ext qwen_magic`` registers the magics; the SDKs are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from qwen_magic.result import Result

_loaded: dict[int, Any] = {}


def load_ipython_extension(ipython: Any) -> None:
    from qwen_magic.ipython import kernel
    from qwen_magic.ipython.magics import QwenMagics

    if id(ipython) in _loaded:
        return
    from qwen_magic.render import formatters

    magics = QwenMagics(shell=ipython)
    ipython.register_magics(magics)
    kernel.install(ipython)
    formatters.register(ipython)
    _loaded[id(ipython)] = magics


def unload_ipython_extension(ipython: Any) -> None:
    from qwen_magic.ipython import kernel

    magics = _loaded.pop(id(ipython), None)
    if magics is None:
        return
    kernel.uninstall(ipython)
    from qwen_magic.render import formatters

    formatters.unregister(ipython)
    for kind, names in magics.magics.items():
        for name in names:
            ipython.magics_manager.magics[kind].pop(name, None)
    ipython.magics_manager.registry.pop(type(magics).__name__, None)
    magics.use_emulator(None)
    from qwen_magic.providers.openai_common import close_clients

    close_clients()  # cached clients hold keys and connections
    ipython.user_ns.pop("_qwen", None)


def ask(prompt: str, **options: Any) -> Result:
    """Ask from Python: ``qwen_magic.ask("Hello", model="qwen-plus") -> Result``.

    Options are the magic's long names (model, api, region, base_url, system, thinking,
    thinking_budget, temperature, top_p, max_tokens, seed, stop, preset, stream, format,
    display, quiet, json, prefix); ``image=`` / ``video=`` take what ``-i`` / ``--video``
    take: a path, a glob, a URL, or the object itself (a PIL image, an array, bytes, or a
    list of them).
    Inside IPython the loaded extension's configuration is the default.
    An interrupt (Ctrl-C, the kernel's ■) is re-raised as ``qwen_magic.api.Interrupted`` (a
    ``KeyboardInterrupt`` whose ``.result`` is the partial Result, also stored in ``_qwen``),
    so a loop of calls stops at once.
    """
    from qwen_magic.api import ask as _ask

    return _ask(prompt, **options)
