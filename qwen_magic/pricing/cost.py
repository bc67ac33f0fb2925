"""What a call cost: its usage priced by the table, or "unknown" (never a wrong number)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from qwen_magic.events import Usage
from qwen_magic.pricing.table import BATCH_SHARE, PriceTable, builtin

SYMBOLS = {"USD": "$", "CNY": "¥"}


@dataclass(frozen=True)
class Pricing:
    """How a request is priced: the table (the user's entries first) and the region whose
    prices apply (the configured region when the emulator answers)."""

    table: PriceTable
    region: str

    def currency(self, model: str) -> str | None:
        entry = self.table.find(model, self.region)
        return entry.currency_in(self.region) if entry is not None else None


@dataclass(frozen=True)
class Cost:
    """``amount`` in ``currency`` (None: unknown, and ``note`` says why); ``breakdown`` per
    kind of token (input, cached input, output, thinking output)."""

    amount: float | None
    currency: str | None = None
    breakdown: dict[str, float] = field(default_factory=dict)
    note: str = ""
    source: str = ""
    as_of: str = ""

    @property
    def known(self) -> bool:
        return self.amount is not None

    def __str__(self) -> str:
        if self.amount is None:
            return "cost unknown"
        return money(self.amount, self.currency)


def unknown(note: str) -> Cost:
    return Cost(None, note=note)


def money(amount: float, currency: str | None) -> str:
    """``$0.000032``, ``¥0.0012``, ``12.50 EUR``: enough digits to see a small call."""
    if amount == 0:
        digits = 0
    elif abs(amount) >= 1:
        digits = 2
    else:  # two significant digits, at most 8 decimals
        digits = min(8, max(2, 1 - math.floor(math.log10(abs(amount)))))
    text = f"{amount:,.{digits}f}"
    symbol = SYMBOLS.get(currency or "")
    if symbol:
        return f"{symbol}{text}"
    return f"{text} {currency}" if currency else text


def cost_of(
    usage: Usage,
    model: str,
    pricing: Pricing | None,
    *,
    thinking: bool = False,
    batch: bool = False,
) -> Cost | None:
    """The cost of ``usage`` (None: nothing to price yet, or no pricing for this endpoint).

    ``thinking``: the answer was made in thinking mode (its output is priced so).
    ``batch``: a Batch API answer — half price, and no cache discount."""
    if pricing is None or (usage.input_tokens is None and usage.output_tokens is None):
        return None
    region = pricing.region
    entry = pricing.table.find(model, region)
    if entry is None:
        return unknown(f"no price for {model} in region {region}: add it with "
                       "%config QwenMagics.prices")  # fmt: skip
    tokens_in = usage.input_tokens or 0
    tier = entry.tier_for(tokens_in)
    if tier is None:
        return unknown(f"{tokens_in:,} input tokens is past the priced tiers of {model}")
    thinking = thinking or bool(usage.reasoning_tokens)
    out_price = tier.output_thinking if thinking else tier.output
    if out_price is None:
        return unknown(f"no thinking-mode price for {model} in region {region}")
    cached = 0 if batch else min(usage.cached_tokens or 0, tokens_in)
    share = BATCH_SHARE if batch else 1.0
    out_kind = "thinking output" if thinking else "output"
    parts = {
        "input": (tokens_in - cached) * tier.input / 1e6 * share,
        "cached input": cached * tier.cached / 1e6 * share,
        out_kind: (usage.output_tokens or 0) * out_price / 1e6 * share,
    }
    breakdown = {k: v for k, v in parts.items() if v or k == "input"}
    return Cost(
        amount=sum(parts.values()),
        currency=entry.currency_in(region),
        breakdown=breakdown,
        note="Batch API: half price" if batch else "",
        source=entry.source,
        as_of=entry.as_of,
    )


def total(costs: Iterable[Cost | None]) -> Cost | None:
    """The sum of several costs: unknown if any is, None if none was priced; one currency
    (mixed currencies are "unknown": they can't be added)."""
    priced = [c for c in costs if c is not None]
    if not priced:
        return None
    missing = [c for c in priced if c.amount is None]
    if missing:
        return unknown(f"{len(missing)} of {len(priced)} answers have no price ({missing[0].note})")
    currencies = {c.currency for c in priced}
    if len(currencies) > 1:
        return unknown(f"answers priced in {', '.join(sorted(map(str, currencies)))}")
    breakdown: dict[str, float] = {}
    for c in priced:
        for kind, value in c.breakdown.items():
            breakdown[kind] = breakdown.get(kind, 0.0) + value
    notes = {c.note for c in priced if c.note}
    return Cost(
        amount=sum(c.amount or 0.0 for c in priced),
        currency=priced[0].currency,
        breakdown=breakdown,
        note="; ".join(sorted(notes)),
        source=priced[0].source,
        as_of=priced[0].as_of,
    )


def default_pricing(region: str) -> Pricing:
    return Pricing(builtin(), region)
