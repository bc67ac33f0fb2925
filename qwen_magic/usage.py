"""Session totals per model, for ``%qwencmd usage``."""

from __future__ import annotations

from dataclasses import dataclass, fields

from qwen_magic.result import Result


@dataclass
class ModelTotals:
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    cached_tokens: int = 0
    seconds: float = 0.0


class UsageBook:
    def __init__(self) -> None:
        self.by_model: dict[str, ModelTotals] = {}

    def add(self, result: Result) -> None:
        totals = self.by_model.setdefault(result.model, ModelTotals())
        totals.calls += 1
        u = result.usage
        totals.input_tokens += u.input_tokens or 0
        totals.output_tokens += u.output_tokens or 0
        totals.reasoning_tokens += u.reasoning_tokens or 0
        totals.cached_tokens += u.cached_tokens or 0
        totals.seconds += result.elapsed or 0.0

    def rows(self) -> list[list[str]]:
        names = [f.name for f in fields(ModelTotals)]
        rows = [["model", *names]]
        for model, totals in sorted(self.by_model.items()):
            values = [getattr(totals, n) for n in names]
            rows.append([model, *(f"{v:.1f}" if isinstance(v, float) else str(v) for v in values)])
        return rows
