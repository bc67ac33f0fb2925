"""``qwen_magic.ask``: the magic's behaviour as a function, in or out of IPython."""

from __future__ import annotations

from typing import Any

from qwen_magic.errors import QwenUsageError
from qwen_magic.result import Result

OPTIONS = {
    "model", "api", "region", "base_url", "system", "thinking", "thinking_budget",
    "temperature", "top_p", "max_tokens", "seed", "stop", "preset", "stream", "format",
    "display", "quiet", "image", "video", "json", "prefix",
}  # fmt: skip


def _sources(value: Any, kind: str, namespace: dict[str, Any]) -> list[str]:
    """``image=``/``video=`` values → the magic's SRC strings (objects go by reference)."""
    if value is None:
        return []
    items = value if isinstance(value, (list, tuple)) and kind == "image" else [value]
    sources = []
    for item in items:
        if isinstance(item, str):
            sources.append(item)
        else:
            name = f"{kind}{len(namespace)}"
            namespace[name] = item
            sources.append("{" + name + "}")
    return sources


def _magics() -> Any:
    """The loaded extension's magics (its config and session), or a fresh one."""
    from qwen_magic.ipython import magics_of
    from qwen_magic.ipython.magics import QwenMagics

    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:  # pragma: no cover - IPython is a dependency
        shell = None
    loaded = magics_of(shell) if shell is not None else None
    if loaded is not None:
        return loaded
    if shell is not None:  # IPython without %load_ext: a Result still shows as Markdown
        from qwen_magic.render import formatters

        formatters.register(shell)
    return QwenMagics(shell=None)


class Interrupted(KeyboardInterrupt):
    """Ctrl-C (or the kernel's interrupt) stopped ``ask()``. A library call is not a cell: the
    interrupt goes on to the caller (a loop of calls stops at once), and the partial Result
    goes with it, as ``.result`` (and in ``_qwen`` inside IPython)."""

    def __init__(self, result: Result) -> None:
        super().__init__("ask() was interrupted; the partial Result is this exception's .result")
        self.result = result


def ask(prompt: str, **options: Any) -> Result:
    unknown = set(options) - OPTIONS
    if unknown:
        raise QwenUsageError(
            f"ask() got unknown option(s) {', '.join(sorted(unknown))}; "
            f"known: {', '.join(sorted(OPTIONS))}."
        )
    from qwen_magic.ipython.checks import check_options

    magics = _magics()
    if isinstance(options.get("stop"), str):
        options["stop"] = [options["stop"]]
    check_options(options)
    namespace: dict[str, Any] = {}
    images = _sources(options.pop("image", None), "image", namespace)
    videos = _sources(options.pop("video", None), "video", namespace)
    if images or videos:
        from qwen_magic.media.sources import load_media

        options["media"] = load_media(images, videos, [], namespace)
    request = magics_request(magics, prompt, options)
    display = "none" if options.get("quiet") else options.get("display") or magics.display
    # Synchronous and without a Stop button: only an interrupt can stop this run early.
    result = magics._execute(request, display)
    magics._store(result, None)  # _qwen: the last Result, whichever way it was asked
    if result.interrupted:
        raise Interrupted(result)
    return result


def magics_request(magics: Any, prompt: str, options: dict[str, Any]) -> Any:
    from qwen_magic.options.build import build_request

    request = build_request(prompt, options, magics)
    if request.media:
        from qwen_magic.media import check_media

        check_media(request.media, model=request.model, api=request.api, history=[])
    return request
