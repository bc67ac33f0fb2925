"""Many answers as plain data: ``Results`` (one per input item, in input order) and
``Comparison`` (one per variant of a compare). No view: formatters are registered elsewhere.

``Results`` is what ``--each``, ``ask_many`` and a Batch job's ``.results()`` give; it keeps
the inputs beside the answers so ``to_pandas()`` can lay them side by side.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

from qwen_magic.errors import ServiceError
from qwen_magic.events import Usage
from qwen_magic.result import Result


def total_usage(results: Sequence[Result | None]) -> Usage:
    """Token totals over many answers (a count no answer reported stays None)."""
    names = ("input_tokens", "output_tokens", "reasoning_tokens", "cached_tokens")
    totals: dict[str, int | None] = dict.fromkeys(names)
    for result in results:
        if result is None:
            continue
        for name in names:
            value = getattr(result.usage, name, None)
            if value is not None:
                totals[name] = (totals[name] or 0) + value
    return Usage(**totals)


@dataclass
class Results(Sequence[Result]):
    """One ``Result`` per input item, in input order (whatever order they finished in).

    ``items`` are the inputs (a DataFrame row is kept as a dict of its columns); an item that
    failed has a Result whose ``error`` says why, and the others are unaffected.
    """

    results: list[Result] = field(default_factory=list)
    items: list[Any] = field(default_factory=list)
    prompts: list[str] = field(default_factory=list)
    stopped: bool = False  # Stop/interrupt ended the run: unfinished items are marked so

    @overload
    def __getitem__(self, index: int) -> Result: ...
    @overload
    def __getitem__(self, index: slice) -> Results: ...
    def __getitem__(self, index: int | slice) -> Result | Results:
        if isinstance(index, slice):
            return Results(
                self.results[index], self.items[index], self.prompts[index], self.stopped
            )
        return self.results[index]

    def __len__(self) -> int:
        return len(self.results)

    def __iter__(self) -> Iterator[Result]:
        return iter(self.results)

    @property
    def texts(self) -> list[str]:
        return [r.text for r in self.results]

    @property
    def errors(self) -> dict[int, ServiceError]:
        """Position → error, for the items that failed."""
        return {i: r.error for i, r in enumerate(self.results) if r.error is not None}

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results) and not self.stopped

    @property
    def usage(self) -> Usage:
        return total_usage(self.results)

    @property
    def cost(self) -> Any:
        """What all the answers cost (pricing.Cost; "unknown" if any is)."""
        from qwen_magic.pricing import total

        return total(r.cost for r in self.results)

    def to_pandas(self) -> Any:
        """A DataFrame: the input columns (or ``item``), then answer, reasoning, tokens, error."""
        try:
            pd: Any = importlib.import_module("pandas")
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("to_pandas() needs pandas: pip install pandas") from exc
        rows = []
        for index, result in enumerate(self.results):
            item = self.items[index] if index < len(self.items) else None
            row: dict[str, Any] = dict(item) if isinstance(item, dict) else {"item": item}
            row.update(
                answer=result.text,
                reasoning=result.reasoning,
                input_tokens=result.usage.input_tokens,
                output_tokens=result.usage.output_tokens,
                error=None if result.error is None else str(result.error),
            )
            rows.append(row)
        return pd.DataFrame(rows)

    def __repr__(self) -> str:
        failed = len(self.errors)
        bits = [f"{len(self)} results"]
        if failed:
            bits.append(f"{failed} failed")
        if self.stopped:
            bits.append("stopped")
        return f"<Results: {', '.join(bits)}>"


@dataclass
class Comparison:
    """One answer per variant of a compare (``-m a,b``, ``-t 0.1,0.9``, ``-n K``).

    Keyed by variant: ``cmp["qwen-max"]``, ``cmp[0.9]`` when one setting varies; a tuple of
    values (in the order the settings were given) when several do. An int that is not a
    variant is a position (``cmp[0]``). Iteration gives ``(variant, Result)`` pairs in the
    order they were asked.
    """

    variants: list[Any] = field(default_factory=list)
    results: list[Result] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)

    def __getitem__(self, key: Any) -> Result:
        for variant, result in zip(self.variants, self.results, strict=True):
            if variant == key:
                return result
        if isinstance(key, int) and not isinstance(key, bool) and -len(self) <= key < len(self):
            return self.results[key]
        raise KeyError(f"no variant {key!r}; the variants are {self.variants!r}")

    def __len__(self) -> int:
        return len(self.results)

    def __iter__(self) -> Iterator[tuple[Any, Result]]:
        return iter(zip(self.variants, self.results, strict=True))

    def keys(self) -> list[Any]:
        return list(self.variants)

    def values(self) -> list[Result]:
        return list(self.results)

    def items(self) -> list[tuple[Any, Result]]:
        return list(self)

    @property
    def texts(self) -> list[str]:
        return [r.text for r in self.results]

    @property
    def usage(self) -> Usage:
        return total_usage(self.results)

    @property
    def cost(self) -> Any:
        """What all the variants cost (pricing.Cost; "unknown" if any is)."""
        from qwen_magic.pricing import total

        return total(r.cost for r in self.results)

    def __repr__(self) -> str:
        return f"<Comparison: {', '.join(self.titles or map(str, self.variants))}>"
