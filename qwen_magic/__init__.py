"""qwen_magic: ``%%qwen`` and ``%qwen`` for Qwen models on Alibaba Cloud Model Studio.

``%load_ext qwen_magic`` registers the magics; the SDKs are imported on first use.
From Python: ``qwen_magic.ask("Hello") -> Result``. The offline emulator is
``qwen_magic.emulator.Emulator``; the loaded extension of a shell is
``qwen_magic.ipython.magics_of(shell)`` (its per-kernel state: ``session_of(shell)``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "Interrupted",
    "Result",
    "__version__",
    "ask",
    "history",
    "job",
    "load_ipython_extension",
    "tool",
    "unload_ipython_extension",
]

if TYPE_CHECKING:
    from qwen_magic.api import Interrupted
    from qwen_magic.batch.job import BatchJob
    from qwen_magic.logbook.view import History
    from qwen_magic.result import Result
    from qwen_magic.results import Results
    from qwen_magic.tools.schema import tool


def __getattr__(name: str) -> Any:
    """``Result``, ``Interrupted`` and ``tool`` on first use: importing qwen_magic stays cheap."""
    if name == "Result":
        from qwen_magic.result import Result

        return Result
    if name == "Interrupted":
        from qwen_magic.api import Interrupted

        return Interrupted
    if name == "tool":  # @qwen_magic.tool: a function's tool options (--tools)
        from qwen_magic.tools.schema import tool

        return tool
    raise AttributeError(f"module 'qwen_magic' has no attribute {name!r}")


def load_ipython_extension(ipython: Any) -> None:
    from qwen_magic.ipython.extension import load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from qwen_magic.ipython.extension import unload

    unload(ipython)


def ask(prompt: str, **options: Any) -> Result:
    """Ask from Python: ``qwen_magic.ask("Hello", model="qwen-plus") -> Result``.

    Options are the magic's long names (model, api, region, base_url, system, thinking,
    thinking_budget, temperature, top_p, max_tokens, seed, stop, preset, stream, format,
    display, quiet, json, prefix, search, search_options); ``tools=[f, g]`` lets the model
    call your functions (with ``tool_choice``, ``max_rounds``, ``yes``); ``image=`` /
    ``video=`` take what ``-i`` / ``--video``
    take: a path, a glob, a URL, or the object itself (a PIL image, an array, bytes, or a
    list of them); ``audio=`` what ``-a`` takes (a path, a URL, bytes, ``(samples, rate)``,
    an ``IPython.display.Audio``, or a list of them); ``voice="Cherry"`` or ``speak=True``
    asks a Qwen-Omni model to speak its answer (``Result.audio``).
    Inside IPython the loaded extension's configuration is the default.
    An interrupt (Ctrl-C, the kernel's ■) is re-raised as ``qwen_magic.Interrupted`` (a
    ``KeyboardInterrupt`` whose ``.result`` is the partial Result, also stored in ``_qwen``),
    so a loop of calls stops at once.
    """
    from qwen_magic.api import ask as _ask

    return _ask(prompt, **options)


def ask_many(template: Any, items: Any, **options: Any) -> Results:
    """One prompt per item, concurrently: ``ask_many("Translate: {item}", phrases)``.

    ``items``: a list, tuple, range, pandas Series or DataFrame (one item per row; ``{row.col}``
    or ``{row["col"]}`` in the template). ``template`` may also be a function of the item.
    Options are ``ask()``'s, plus ``concurrency=`` (1 to 64; halved while the service answers
    429) and ``batch=True`` (a provider Batch job). Returns ``Results`` in input order
    (``.texts``, ``.errors``, ``.usage``, ``.to_pandas()``); a failed item carries its error
    and the rest go on. An interrupt stops every request and raises
    ``qwen_magic.Interrupted`` whose ``.result`` is the Results so far.
    """
    from qwen_magic.api import ask_many as _ask_many

    return _ask_many(template, items, **options)


def job(ident: str) -> BatchJob:
    """A provider Batch job submitted from this machine (``%%qwen --each … --batch``), by its
    id (or one of its provider batch ids), from the local job store: works in any later
    kernel. ``.status()``, ``.wait()``, ``.cancel()``, ``.results()``."""
    from qwen_magic.api import _magics
    from qwen_magic.batch.job import BatchJob

    return BatchJob.find(ident, defaults=_magics())


def history(
    search: str | list[str] | None = None,
    model: str | None = None,
    since: Any = None,
    limit: int | None = None,
) -> History:
    """Past calls from the local history (``%qwencmd log``), newest first, in any kernel.

    ``search``: words that must all appear in the prompt, answer or reasoning; ``model``: a
    name (``*`` as a wildcard); ``since``: an age (``"7d"``, ``"12h"``), a date, a datetime or
    a timedelta; ``limit``: at most this many. A list of ``Entry`` records (prompt, answer,
    reasoning, options, usage, cost, model, time, notebook, cell id…) shown as a table, with
    ``.to_pandas()``."""
    from qwen_magic.api import _magics
    from qwen_magic.logbook.commands import history as _history

    return _history(search, model, since, limit, magics=_magics())
