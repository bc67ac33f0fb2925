"""Many answers from one cell: ``--each NAME`` (one prompt per item) and compare (``-m a,b``,
``-t 0.1,0.9``, ``--top-p``, ``--seed``, ``--vary think``, ``-n K``).

Everything is checked and every Request built before the first is sent: a bad name, an
empty list or a missing column is one UsageError, and nothing was asked. The runs go through
the runner on one clock (``--concurrency N`` at a time, fewer while the service says 429);
``-o`` and ``_qwen`` get a ``Results`` (input order) or a ``Comparison`` (keyed by variant).
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from qwen_magic.context import DEFAULT_BUDGET
from qwen_magic.errors import QwenUsageError, ServiceError
from qwen_magic.request import Request
from qwen_magic.result import Result
from qwen_magic.results import Comparison, Results

MAX_CONCURRENCY = 64
PLACEHOLDERS = ("item", "i", "row")


class Row(Mapping[str, Any]):
    """A DataFrame row (or a dict item) in a prompt: ``{row.col}`` and ``{row["col"]}``; a
    missing column says which columns there are."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = dict(values)

    def __getitem__(self, key: str) -> Any:
        try:
            return self._values[key]
        except KeyError:
            raise KeyError(self._missing(key)) from None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(self._missing(name)) from None

    def _missing(self, name: str) -> str:
        columns = ", ".join(map(str, self._values)) or "none"
        return f"no column {name!r} (the columns are: {columns})"

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __str__(self) -> str:
        return ", ".join(f"{k}: {v}" for k, v in self._values.items())

    __repr__ = __str__


def resolve_items(name: str, namespace: dict[str, Any]) -> list[Any]:
    """The items of ``--each NAME``: a list, tuple, range, pandas Series (its values), a
    DataFrame (one dict per row), or any other finite iterable that is not text or a dict."""
    from qwen_magic.expressions import evaluate, is_data, root_name

    try:
        tree = ast.parse(name.strip(), mode="eval")
    except SyntaxError:
        tree = None
    root = root_name(tree) if tree is not None else None
    if tree is None or root is None or not is_data(tree):
        raise QwenUsageError(
            f"--each {name!r} is not a variable: give the name of a list, Series or DataFrame "
            "defined in this notebook, e.g. --each questions or --each df."
        )
    if root not in namespace:
        raise QwenUsageError(
            f"--each {name}: {root!r} is not defined in this notebook. Define it in a cell "
            "above (e.g. questions = ['...', '...']), then run this cell again."
        )
    return items_of(evaluate(tree, namespace, f"--each {name}"), f"--each {name}")


def items_of(value: Any, name: str) -> list[Any]:
    """``value``'s items, as ``resolve_items`` says (``name`` names it in an error)."""
    if hasattr(value, "iterrows") and hasattr(value, "columns"):  # a pandas DataFrame
        rows = value.itertuples(index=False, name=None)
        items: list[Any] = [dict(zip(value.columns, row, strict=True)) for row in rows]
    elif isinstance(value, str | bytes | bytearray | Mapping):
        kind = type(value).__name__
        raise QwenUsageError(
            f"{name} is a {kind}, not a list of items: put the items in a list, or pass a "
            "list, tuple, range, Series or DataFrame."
            + (" For a dict: list(d.values()) or list(d.items())." if kind == "dict" else "")
        )
    else:
        try:
            series = hasattr(value, "tolist") and hasattr(value, "index")  # its values, not index
            items = list(value.tolist() if series else value)
        except TypeError:
            raise QwenUsageError(
                f"{name} is a {type(value).__name__}, which has no items: pass a list, "
                "tuple, range, pandas Series or DataFrame."
            ) from None
    if not items:
        raise QwenUsageError(f"{name} is empty: there is nothing to ask.")
    return items


def item_label(item: Any) -> str:
    return str(Row(item)) if isinstance(item, Mapping) else str(item)


@dataclass
class ManyCall:
    """A parsed many-answer cell, ready to run."""

    kind: str  # "each" or "compare"
    requests: list[Request]
    titles: list[str]
    display: str
    out: str | None
    concurrency: int
    items: list[Any] = field(default_factory=list)
    prompts: list[str] = field(default_factory=list)
    keys: list[Any] = field(default_factory=list)
    batch: bool = False  # --batch: a provider Batch job (qwen_magic.batch), not streamed
    window: str | None = None  # --window
    # --dry-run: with --batch, the job goes to the service's free test model; without, the
    # requests and their estimate are shown and nothing is sent (ipython/budget.py)
    dry_run: bool = False


def wants_many(args: Any) -> bool:
    """Whether this cell asks more than one question."""
    model = getattr(args, "model", None)
    return bool(
        getattr(args, "each", None)
        or getattr(args, "batch", None)
        or getattr(args, "window", None)
        or (isinstance(model, str) and "," in model)
        or any(isinstance(getattr(args, n, None), list) for n in ("temperature", "top_p", "seed"))
        or getattr(args, "vary", None)
        or getattr(args, "n", None) not in (None, 1)
    )


def prepare(magics: Any, args: Any, prompt: str) -> ManyCall:
    """Check everything and build every Request, before any is sent."""
    from qwen_magic.ipython.checks import check_options, check_out_name
    from qwen_magic.variants import dimensions, expand, share_samples

    if args.out is not None:
        check_out_name(args.out, magics.shell)
    options = vars(args).copy()
    dims = dimensions(options)
    if args.chat:
        what = f"--each {args.each}" if args.each else "a compare"
        raise QwenUsageError(
            f"-c/--chat can't be combined with {what}: a chat has one history, and each answer "
            "would need its own. Drop -c, or ask in the chat one question per cell."
        )
    if (args.batch or args.window) and not args.each:
        raise QwenUsageError(
            "--batch (and --window) submit one prompt per item: add --each NAME (a list or "
            "DataFrame), or drop --batch to ask this prompt now."
        )
    if args.each and dims:
        raise QwenUsageError(
            "--each and a compare (-m a,b, -t 0.1,0.9, --vary, -n) can't be combined yet: run "
            "the --each cell once per model or setting (e.g. -o plus and -o max)."
        )
    concurrency = _concurrency(args, magics)
    display = "none" if args.quiet else magics.display
    namespace = magics.shell.user_ns if magics.shell else {}
    calls = bool(args.interpolate_calls or magics.interpolate_calls)
    shared: list[Any] = []
    if args.image or args.video:
        from qwen_magic.media.sources import load_media

        shared = load_media(args.image or [], args.video or [], [], namespace, calls)
    for name in ("model", "temperature", "top_p", "seed"):  # each variant sets its own
        value = options.get(name)
        if isinstance(value, list) or (name == "model" and isinstance(value, str) and "," in value):
            options[name] = None
    check_options(options)
    context = Context.of(
        magics, getattr(args, "file", None), getattr(args, "url", None),
        getattr(args, "context_budget", None), "--context-budget",
    )  # fmt: skip
    if args.each:
        items = resolve_items(args.each, namespace)
        base = dict(magics.shell.user_ns) if magics.shell else {}
        prompts, requests = each_requests(
            magics, prompt, items, options, base, where=f"--each {args.each}",
            shared=shared, calls=calls, raw=args.raw, context=context,
        )  # fmt: skip
        return ManyCall(
            "each", requests, [item_label(x) for x in items], display, args.out, concurrency,
            items=items, prompts=prompts, batch=bool(args.batch), window=args.window,
            dry_run=bool(getattr(args, "dry_run", False)),
        )  # fmt: skip
    filled, media, summaries = _fill(prompt, namespace, args.raw, calls, budget=context.left)
    options["media"] = shared + media
    variants = expand(dims)
    requests = [
        context.build(magics, filled, {**options, **v.options}, summaries) for v in variants
    ]
    if any(v.sample for v in variants):  # -n K: one request for up to 4 where the service can
        share_samples(requests, variants)
    return ManyCall(
        "compare", requests, [v.title for v in variants], display, args.out,
        max(concurrency, min(len(requests), MAX_CONCURRENCY)),
        prompts=[filled] * len(requests), keys=[v.key for v in variants],
        dry_run=bool(getattr(args, "dry_run", False)),
    )  # fmt: skip


def _concurrency(args: Any, magics: Any) -> int:
    given = getattr(args, "concurrency", None)
    if given is None:
        return int(magics.concurrency)
    if not 1 <= given <= MAX_CONCURRENCY:
        raise QwenUsageError(
            f"--concurrency {given}: give 1 to {MAX_CONCURRENCY} requests at a time (the "
            "service's rate limit also caps it: on 429s fewer run at once, automatically)."
        )
    return int(given)


def _fill(
    prompt: str,
    namespace: dict[str, Any],
    raw: bool,
    calls: bool,
    where: str = "",
    note: bool = True,
    budget: int = DEFAULT_BUDGET,
) -> tuple[str, list[Any], list[Any]]:
    """The prompt with its ``{...}`` filled (``where`` prefixes an error), its images, and
    its ``{df}`` summaries (within ``budget`` tokens together)."""
    if raw:
        return prompt, [], []
    from qwen_magic.ipython.interpolate import interpolate_with_media, kept_note

    try:
        filled = interpolate_with_media(prompt, namespace, calls=calls, budget=budget)
    except QwenUsageError as exc:
        raise QwenUsageError(f"{where}{exc}") from None
    if filled.kept and note:
        print(kept_note(filled.kept, calls), file=sys.stderr)
    media: list[Any] = []
    if filled.media:
        from qwen_magic.media.sources import load_media

        media = load_media([], [], filled.media, namespace, calls)
    return filled.text, media, filled.summaries


def each_requests(
    magics: Any,
    template: Any,
    items: list[Any],
    options: dict[str, Any],
    namespace: dict[str, Any],
    *,
    where: str,
    shared: list[Any] = (),  # type: ignore[assignment]
    calls: bool = False,
    raw: bool = False,
    context: Context,
) -> tuple[list[str], list[Request]]:
    """One prompt and one checked Request per item: ``template`` filled with ``{item}``,
    ``{i}``, ``{row.col}`` over ``namespace`` (or called with the item, when a function);
    ``context``: the files and pages that follow every prompt."""
    uses = isinstance(template, str) and any(f"{{{p}" in template for p in PLACEHOLDERS)
    if isinstance(template, str) and not raw and not uses:
        print(
            "qwen: the prompt uses none of {item}, {i}, {row.col}: every item gets the same "
            "prompt (-n K asks one prompt K times).",
            file=sys.stderr,
        )
    prompts, requests = [], []
    for index, item in enumerate(items):
        row = Row(item) if isinstance(item, Mapping) else item
        at = f"{where}, item {index}: "
        media: list[Any] = []
        summaries: list[Any] = []
        if callable(template):
            text = str(template(row))
        else:
            namespace.update(item=row, i=index, row=row)
            text, media, summaries = _fill(
                template, namespace, raw, calls, at, note=index == 0, budget=context.left
            )
        prompts.append(text)
        try:
            given = {**options, "media": [*shared, *media]}
            requests.append(context.build(magics, text, given, summaries))
        except QwenUsageError as exc:
            raise QwenUsageError(f"{at}{exc}") from None
    return prompts, requests


@dataclass
class Context:
    """The context of a many-answer call: ``--file`` / ``--url`` (``files=`` / ``urls=``) read
    and checked once, then sent after every prompt; each prompt's ``{df}`` summaries share what
    they leave of the budget. Every request gets its chips, and is checked against the budget
    before anything is sent."""

    budget: int = DEFAULT_BUDGET
    blocks: list[Any] = field(default_factory=list)
    attachments: list[Any] = field(default_factory=list)

    @classmethod
    def of(cls, magics: Any, files: Any, urls: Any, budget: object, where: str) -> Context:
        from qwen_magic.context.attach import checked_budget, shared_blocks

        limit = checked_budget(budget if budget is not None else magics.context_budget, where)
        if not files and not urls:
            return cls(limit)
        files, urls = list(files or []), list(urls or [])
        blocks, attachments = shared_blocks(files, urls, limit, limit, where)
        return cls(limit, blocks, attachments)

    @property
    def left(self) -> int:
        """Tokens the ``{df}`` summaries of one prompt may take."""
        return max(1, self.budget - sum(a.tokens for a in self.attachments))

    def build(
        self, magics: Any, prompt: str, options: dict[str, Any], summaries: Sequence[Any] = ()
    ) -> Request:
        """The checked Request for ``prompt`` (its ``{df}`` ``summaries``) with the context
        after it."""
        from qwen_magic.context.attach import check_budget, summary_chips, with_context
        from qwen_magic.options.build import build_request

        chips = summary_chips(summaries) + self.attachments
        if summaries:
            check_budget(chips, self.budget)
        request = build_request(with_context(prompt, self.blocks), options, magics)
        if chips:
            request.attachments = chips
        return request


# ---------------------------------------------------------------------------------- running
def _view(magics: Any, call: ManyCall, stoppable: bool, pacer: Any) -> Any:
    from qwen_magic.render import FinalRenderer, NullRenderer

    display = call.display
    if display == "none":
        return NullRenderer()
    terminal = magics.shell is None or _is_terminal(magics.shell)
    if call.kind == "each" and not terminal:
        from qwen_magic.render.progress import ProgressView

        return ProgressView(
            call.titles,
            stoppable=stoppable,
            level=lambda: (pacer.limit, pacer.ceiling),
            final=display == "final",
        )
    if display == "final":
        return FinalRenderer(call.titles)
    if terminal:
        from qwen_magic.render.terminal import TerminalRenderer

        return TerminalRenderer(titles=call.titles)
    from qwen_magic.render.live import LiveRenderer

    return LiveRenderer(stoppable=stoppable, titles=call.titles)


def run(magics: Any, call: ManyCall) -> Results | Comparison:
    """Run synchronously (Ctrl-C stops every run and keeps what finished)."""
    from qwen_magic.runner import execute_many

    if _before(magics, call):
        return None  # type: ignore[return-value]
    if call.batch:
        return submit_batch(magics, call)
    try:
        results = execute_many(**_running(magics, call, stoppable=False))
    except Exception as exc:  # a bug: every item still gets a Result, with the error
        results = _failed(call, exc)
    return conclude(magics, call, results)


async def run_async(magics: Any, call: ManyCall) -> Results | Comparison:
    """Run as a coroutine on the kernel's loop: Stop and the interrupt end every run."""
    import asyncio

    from qwen_magic.runner import execute_many_async

    if _before(magics, call):
        return None  # type: ignore[return-value]
    if call.batch:
        return submit_batch(magics, call)
    try:
        results = await execute_many_async(**_running(magics, call, stoppable=True))
    except (KeyboardInterrupt, asyncio.CancelledError):  # one the runner missed
        task = asyncio.current_task()
        if task is not None and hasattr(task, "uncancel"):
            task.uncancel()
        results = _failed(call, None)
    except Exception as exc:
        results = _failed(call, exc)
    return conclude(magics, call, results)


def _running(magics: Any, call: ManyCall, *, stoppable: bool) -> dict[str, Any]:
    """What the runner takes for this call: its requests and providers, the view, the clock
    and a pacer for the concurrency."""
    from qwen_magic.pacing import Pacer

    pacer = Pacer(call.concurrency)
    return {
        "requests": call.requests,
        "view": _view(magics, call, stoppable, pacer),
        "interval": magics.update_interval,
        "concurrency": call.concurrency,
        "pacer": pacer,
        "providers": _providers(call),
    }


def _providers(call: ManyCall) -> list[Any] | None:
    """-n K: the providers of samples that share one request (None: one request each)."""
    if not any(r.samples > 1 for r in call.requests):
        return None
    from qwen_magic.providers.samples import sample_providers

    return sample_providers(call.requests)


def _before(magics: Any, call: ManyCall) -> bool:
    """--dry-run without --batch: shown, nothing sent (True). The budget checks the total
    (a Batch job at half price; the free test model is not checked)."""
    if call.batch and call.dry_run:
        return False
    from qwen_magic.ipython.budget import before_sending

    return before_sending(magics, call.requests, dry_run=call.dry_run, batch=call.batch,
                          titles=call.titles, out=call.out)  # fmt: skip


def submit_batch(magics: Any, call: ManyCall) -> Any:
    """``--each NAME --batch``: hand the checked requests to the provider Batch API (the
    ``qwen_magic.batch`` module's ``submit_each(magics, call) -> BatchJob``); nothing streams."""
    import importlib

    try:
        submit_each: Any = importlib.import_module("qwen_magic.batch").submit_each
    except (ImportError, AttributeError):
        raise QwenUsageError(
            "--batch is not available in this version: drop --batch to ask the items now."
        ) from None
    job = submit_each(magics, call)
    magics._store(job, call.out)
    return job


def conclude(magics: Any, call: ManyCall, results: list[Result]) -> Results | Comparison:
    """Record usage, store in ``-o`` and ``_qwen``, and say so when failures were hidden."""
    calls = [(r, q, call.kind) for r, q in zip(results, call.requests, strict=False)]
    for result, request, kind in calls:
        magics._after(result, request, kind, log=False)  # usage, recorder, budget
    if magics.history:  # one history row per answer, in one write
        from qwen_magic.ipython.logbook import log_calls

        log_calls(magics, calls)
    stopped = any(r.interrupted for r in results)
    value: Results | Comparison
    if call.kind == "each":
        value = Results(results, list(call.items), list(call.prompts), stopped)
    else:
        value = Comparison(list(call.keys), results, list(call.titles))
    magics._store(value, call.out)
    failed = [r for r in results if r.error is not None]
    if call.display == "none" and failed:
        from qwen_magic.render.safe import plain_text

        first = plain_text(failed[0].error.summary())  # type: ignore[union-attr]
        print(
            f"qwen: {len(failed)} of {len(results)} answers failed (first: {first}); see .errors.",
            file=sys.stderr,
        )
    return value


def _failed(call: ManyCall, exc: Exception | None) -> list[Result]:
    from qwen_magic.masking import redact

    error = None
    if exc is not None:
        error = ServiceError("internal", redact(f"{type(exc).__name__}: {exc}"))
        error.hint = "this is a bug in qwen_magic: please report it."
        print(f"qwen: {error.summary()}", file=sys.stderr)
    return [
        Result(model=r.model, api=r.api, region=r.region, interrupted=exc is None, error=error,
               format=r.format)
        for r in call.requests
    ]  # fmt: skip


def _is_terminal(shell: Any) -> bool:
    return any(cls.__name__ == "TerminalInteractiveShell" for cls in type(shell).__mro__)
