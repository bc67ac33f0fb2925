"""``qwen_magic.ask``: the magic's behaviour as a function, in or out of IPython."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from qwen_magic.errors import QwenUsageError
from qwen_magic.result import Result

if TYPE_CHECKING:
    from qwen_magic.results import Results

OPTIONS = {
    "model", "api", "region", "base_url", "system", "thinking", "thinking_budget",
    "temperature", "top_p", "max_tokens", "seed", "stop", "preset", "stream", "format",
    "display", "quiet", "image", "video", "json", "prefix", "files", "urls", "context_budget",
    "tools", "tool_choice", "max_rounds", "yes", "search", "search_options", "logprobs",
    "voice", "speak", "audio",
}  # fmt: skip


def _sources(value: Any, kind: str, namespace: dict[str, Any]) -> list[str]:
    """``image=``/``video=``/``audio=`` values → the magic's SRC strings (objects go by
    reference). A list is several sources (for images a tuple too; for audio a tuple is one
    ``(samples, rate)``)."""
    if value is None:
        return []
    many = (list, tuple) if kind == "image" else (list,) if kind == "audio" else ()
    items = value if many and isinstance(value, many) else [value]
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


def _listed(value: Any) -> list[str]:
    """``files=``/``urls=``: one string or a list of them."""
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


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
    heard = _sources(options.pop("audio", None), "audio", namespace)
    if heard:  # -a: audio parts, after the images and video
        from qwen_magic.media.sounds import load_audio

        options["media"] = [*(options.get("media") or []), *load_audio(heard, namespace)]
    files, urls = _listed(options.pop("files", None)), _listed(options.pop("urls", None))
    budget, attachments = options.pop("context_budget", None), list[Any]()
    if files or urls:  # --file / --url: labelled blocks after the prompt, within the budget
        from qwen_magic.context.attach import attach

        prompt, attachments = attach(prompt, files, urls, budget, magics.context_budget)
    from qwen_magic.ipython.tools import note_search, prepare_tools

    user_ns = getattr(magics.shell, "user_ns", None) or {}
    tools = prepare_tools(options, user_ns)  # tools=[f, g]: their schemas
    request = magics_request(magics, prompt, options)
    request.attachments = attachments
    from qwen_magic.ipython.budget import before_sending

    before_sending(magics, [request])  # the session budget counts ask() too
    note_search(magics.session, request.api, request.search)
    display = "none" if options.get("quiet") else options.get("display") or magics.display
    # Synchronous and without a Stop button: only an interrupt can stop this run early.
    if tools is not None:  # the tool loop, on this thread
        from qwen_magic.ipython.magics import Call
        from qwen_magic.ipython.tools import run as run_tools

        result = run_tools(magics, Call(request, display, None, tools=tools))
    else:
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


MANY_OPTIONS = OPTIONS | {"concurrency", "batch", "window", "dry_run"}


def ask_many(template: Any, items: Any, **options: Any) -> Results:
    """``%%qwen --each``: ``template`` once per item, concurrently; Results in input order.

    ``template`` is a string with ``{item}``, ``{i}``, ``{row.col}`` / ``{row["col"]}`` (the
    magic's rule; ``{{``/``}}`` literal), or a function of the item returning the prompt.
    """
    unknown = set(options) - MANY_OPTIONS
    if unknown:
        raise QwenUsageError(
            f"ask_many() got unknown option(s) {', '.join(sorted(unknown))}; "
            f"known: {', '.join(sorted(MANY_OPTIONS))}."
        )
    if not (isinstance(template, str) or callable(template)):
        raise QwenUsageError(
            "ask_many(template, items): template is the prompt, a string with {item} (or a "
            "function of the item returning the prompt)."
        )
    from qwen_magic.ipython.checks import check_options
    from qwen_magic.ipython.many import (
        Context,
        ManyCall,
        each_requests,
        item_label,
        items_of,
        run,
    )

    magics = _magics()
    listed = items_of(items, "ask_many's items")
    concurrency = options.pop("concurrency", None)
    if concurrency is None:
        concurrency = magics.concurrency
    elif not (isinstance(concurrency, int) and 1 <= concurrency <= 64):
        raise QwenUsageError(f"concurrency={concurrency!r}: give 1 to 64 requests at a time.")
    batch, window = bool(options.pop("batch", False)), options.pop("window", None)
    dry_run = bool(options.pop("dry_run", False))
    if isinstance(options.get("stop"), str):
        options["stop"] = [options["stop"]]
    check_options(options)
    namespace: dict[str, Any] = {}
    images = _sources(options.pop("image", None), "image", namespace)
    videos = _sources(options.pop("video", None), "video", namespace)
    shared: list[Any] = []
    if images or videos:
        from qwen_magic.media.sources import load_media

        shared = load_media(images, videos, [], namespace)
    files, urls = _listed(options.pop("files", None)), _listed(options.pop("urls", None))
    budget = options.pop("context_budget", None)
    context = Context.of(magics, files, urls, budget, "context_budget=")  # read once, for all
    prompts, requests = each_requests(
        magics, template, listed, options, {}, where="ask_many", shared=shared, context=context
    )
    display = "none" if options.get("quiet") else options.get("display") or magics.display
    call = ManyCall(
        "each", requests, [item_label(x) for x in listed], display, None, concurrency,
        items=listed, prompts=prompts, batch=batch, window=window, dry_run=dry_run,
    )  # fmt: skip
    results = run(magics, call)
    if getattr(results, "stopped", False):
        raise Interrupted(results)  # type: ignore[arg-type]
    return results  # type: ignore[return-value]
