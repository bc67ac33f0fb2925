"""Views: Results in, what the user sees out. They know nothing of SDKs.

A view shows N runs (a single ``%%qwen`` is N=1): one answer, a grid of answers side by side,
or a progress view over many. Each answer is drawn by a panel (``live.AnswerPanel``,
``static.to_bundle``) that does not display itself; the view owns the display and the Stop.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from qwen_magic.request import Request
from qwen_magic.result import Result


class Renderer(Protocol):
    """The runner calls ``start`` once, ``update`` at most once per interval, ``finish`` once.

    ``results[i]`` is None while run ``i`` waits for a worker; ``ended[i]`` says run ``i`` has
    ended (its Result will not change). ``finish`` gets every Result in input order.

    A view that refreshes less often than the runner's clock may also have ``due() -> bool``:
    the runner then takes the runs' snapshots only on the ticks the view will show.
    """

    def start(self, requests: Sequence[Request], on_stop: Callable[[], None]) -> None: ...

    def update(self, results: Sequence[Result | None], ended: Sequence[bool] = ()) -> None: ...

    def finish(self, results: Sequence[Result]) -> None: ...


def listed(items: Any) -> list[Any]:
    """A view's argument as a list: one Request or Result (a caller written for one answer,
    e.g. the magics' fallback) is the N=1 case."""
    if isinstance(items, list | tuple):
        return list(items)
    return [items]


# What may differ between the variants of a comparison, and how a title names it.
_VARIES: tuple[tuple[str, Callable[[Any], str]], ...] = (
    ("model", str),
    ("api", str),
    ("region", str),
    ("temperature", lambda v: f"t={v}"),
    ("top_p", lambda v: f"top_p={v}"),
    ("seed", lambda v: f"seed={v}"),
    ("thinking", lambda v: {True: "think", False: "no think"}.get(v, "think: default")),
    ("max_tokens", lambda v: f"max_tokens={v}"),
)


def variant_titles(requests: Sequence[Request]) -> list[str]:
    """One title per request naming what sets it apart (``qwen-max · t=0.9``); with nothing
    apart (or one request), where it runs (``qwen-plus · chat · sg``)."""
    if len(requests) == 1:
        r = requests[0]
        return [" · ".join(x for x in (r.model, r.api, r.region) if x)]
    differing = [
        (name, show)
        for name, show in _VARIES
        if len({repr(getattr(r, name, None)) for r in requests}) > 1
    ]
    if not differing:
        return [f"#{i}" for i in range(1, len(requests) + 1)]
    return [" · ".join(show(getattr(r, name, None)) for name, show in differing) for r in requests]


class NullRenderer:
    """``display="none"`` / ``-q``: show nothing; the Results are still stored."""

    def start(self, requests: Sequence[Request] | Request, on_stop: Callable[[], None]) -> None:
        pass

    def update(self, results: Sequence[Result | None] | Result, ended: Sequence[bool] = ()) -> None:
        pass

    def finish(self, results: Sequence[Result] | Result) -> None:
        pass


class FinalRenderer(NullRenderer):
    """``display="final"``: one static output at the end; deterministic for docs and nbval."""

    def __init__(self, titles: Sequence[str] | None = None) -> None:
        self.titles = list(titles) if titles is not None else None

    def start(self, requests: Sequence[Request] | Request, on_stop: Callable[[], None]) -> None:
        if self.titles is None:
            self.titles = variant_titles(listed(requests))

    def finish(self, results: Sequence[Result] | Result) -> None:
        from IPython.display import display

        from qwen_magic.render.static import bundle_of

        # with a display id: a chat marks this output when a re-run drops its turn
        self.handle = display(bundle_of(listed(results), self.titles), raw=True, display_id=True)
