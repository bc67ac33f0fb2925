"""Session totals per model, for ``%qwencmd usage`` and the budget."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from qwen_magic.result import Result


@dataclass
class ModelTotals:
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    cached_tokens: int = 0
    seconds: float = 0.0
    # Money per currency (a model priced in one region, then another, may hold two); calls
    # with tokens but no price are counted in `unpriced`.
    cost: dict[str, float] = field(default_factory=dict)
    unpriced: int = 0


COLUMNS = ("calls", "input_tokens", "output_tokens", "reasoning_tokens", "cached_tokens",
           "seconds")  # fmt: skip


class UsageBook:
    def __init__(self) -> None:
        self.by_model: dict[str, ModelTotals] = {}
        self.budget_warned = False  # the 80 % line was shown (once per budget)

    def add(self, result: Result) -> None:
        totals = self.by_model.setdefault(result.model, ModelTotals())
        totals.calls += 1
        u = result.usage
        totals.input_tokens += u.input_tokens or 0
        totals.output_tokens += u.output_tokens or 0
        totals.reasoning_tokens += u.reasoning_tokens or 0
        totals.cached_tokens += u.cached_tokens or 0
        totals.seconds += result.elapsed or 0.0
        cost = getattr(result, "cost", None)
        if cost is not None and cost.amount is not None:
            key = cost.currency or ""
            totals.cost[key] = totals.cost.get(key, 0.0) + cost.amount
        elif cost is not None:
            totals.unpriced += 1

    def spent(self, currency: str | None) -> float:
        """The session's spending in ``currency``, all models together."""
        return sum(t.cost.get(currency or "", 0.0) for t in self.by_model.values())

    def rows(self) -> list[list[str]]:
        names = [f.name for f in fields(ModelTotals) if f.name in COLUMNS]
        rows = [["model", *names, "cost"]]
        for model, totals in sorted(self.by_model.items()):
            values = [getattr(totals, n) for n in names]
            cells = [f"{v:.1f}" if isinstance(v, float) else str(v) for v in values]
            rows.append([model, *cells, cost_cell(totals.cost, totals.unpriced)])
        if len(self.by_model) > 1:
            currencies = sorted({c for t in self.by_model.values() for c in t.cost})
            spent = {c: self.spent(c) for c in currencies}
            unpriced = sum(t.unpriced for t in self.by_model.values())
            calls = sum(t.calls for t in self.by_model.values())
            rows.append(["total", str(calls), *[""] * (len(names) - 1),
                         cost_cell(spent, unpriced)])  # fmt: skip
        return rows


def cost_cell(cost: dict[str, float], unpriced: int) -> str:
    from qwen_magic.pricing import money

    parts = [money(amount, currency or None) for currency, amount in sorted(cost.items())]
    if unpriced:
        parts.append(f"{unpriced} call{'s' if unpriced > 1 else ''} unknown")
    return " + ".join(parts) if parts else "—"
