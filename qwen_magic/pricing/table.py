"""The price table: the package's dated ``prices.py`` under the user's own entries.

One place knows prices. An entry prices one model in some regions, per million tokens, in
tiers by the request's input length. The user's entries (``QwenMagics.prices``, a dict, or
``QwenMagics.prices_file``, TOML or JSON) come first: they add models the table lacks and
correct the ones it has. Anything not found is "unknown", never a guess.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CACHED_SHARE = 0.2  # implicit cache hits: 20 % of the input price (Model Studio's cache page)
BATCH_SHARE = 0.5  # the Batch API: half the real-time price, no cache discount
CURRENCY_OF_REGION = {"cn": "CNY"}  # mainland prices are in CNY; international in USD
REGIONS = ("sg", "us", "cn", "hk", "de", "*")
TIER_KEYS = {"up_to", "input", "output", "output_thinking", "cached_input"}
ENTRY_KEYS = TIER_KEYS | {"model", "regions", "region", "currency", "tiers", "source", "as_of"}
EXAMPLE = (
    '%config QwenMagics.prices = {"qwen3.5-plus": {"input": 0.4, "output": 2.4, '
    '"currency": "USD", "regions": ["sg"]}}'
)


class PriceError(ValueError):
    """A price entry that can't be used; the message says what to write instead."""


@dataclass(frozen=True)
class Tier:
    """Prices per million tokens for requests whose input is at most ``up_to`` tokens."""

    up_to: int | None
    input: float
    output: float
    output_thinking: float | None = None
    cached_input: float | None = None

    @property
    def cached(self) -> float:
        return self.input * CACHED_SHARE if self.cached_input is None else self.cached_input


@dataclass(frozen=True)
class ModelPrice:
    model: str
    regions: tuple[str, ...]
    currency: str | None  # None: the region's (free entries for any region)
    tiers: tuple[Tier, ...]
    source: str = ""
    as_of: str = ""

    def tier_for(self, input_tokens: int) -> Tier | None:
        """The tier pricing a request of ``input_tokens`` (None: past the last one)."""
        for tier in self.tiers:
            if tier.up_to is None or input_tokens <= tier.up_to:
                return tier
        return None

    def currency_in(self, region: str) -> str:
        return self.currency or currency_of(region)


def currency_of(region: str | None) -> str:
    return CURRENCY_OF_REGION.get(region or "", "USD")


@dataclass(frozen=True)
class PriceTable:
    entries: tuple[ModelPrice, ...] = field(default_factory=tuple)
    as_of: str = ""

    def find(self, model: str, region: str | None) -> ModelPrice | None:
        """The first entry for ``model`` in ``region`` (the user's entries come first)."""
        for entry in self.entries:
            if entry.model == model and (region in entry.regions or "*" in entry.regions):
                return entry
        return None

    def over(self, other: PriceTable) -> PriceTable:
        """These entries first, then ``other``'s."""
        return PriceTable(self.entries + other.entries, other.as_of or self.as_of)

    def models(self) -> list[str]:
        return sorted({e.model for e in self.entries})


@functools.cache
def builtin() -> PriceTable:
    """The package's table (read once)."""
    from qwen_magic.pricing.prices import PRICES

    return PriceTable(parse(PRICES, "prices.py").entries, str(PRICES.get("as_of", "")))


def parse(data: Any, where: str) -> PriceTable:
    """Entries from ``{"models": [{"model": ...}, ...]}`` (the file's shape) or from
    ``{"model name": {...}, ...}`` (the short shape for ``%config``)."""
    if isinstance(data, Mapping) and isinstance(data.get("models"), list):
        items = [(None, item) for item in data["models"]]
    elif isinstance(data, Mapping):
        items = [(name, item) for name, item in data.items() if name != "as_of"]
    else:
        raise PriceError(f"{where} must be a dict of model name → prices, e.g. {EXAMPLE}.")
    return PriceTable(tuple(_entry(name, item, where) for name, item in items))


def load_file(path: str | Path) -> PriceTable:
    """A TOML or JSON file of prices (the shape of ``pricing.prices.PRICES``)."""
    path = Path(path).expanduser()
    where = f"QwenMagics.prices_file {str(path)!r}"
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise PriceError(f"{where} can't be read ({exc.strerror or exc}): give the path of a "
                         "TOML or JSON file of prices.") from None  # fmt: skip
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else _toml(text, where)
    except PriceError:
        raise
    except ValueError as exc:
        kind = "JSON" if path.suffix.lower() == ".json" else "TOML"
        raise PriceError(f"{where} is not valid {kind} ({exc}).") from None
    return parse(data, where)


def _toml(text: str, where: str) -> Any:
    try:
        import tomllib  # type: ignore[import-not-found,unused-ignore]  # 3.11+
    except ImportError:  # Python 3.10
        try:
            import tomli as tomllib  # type: ignore[no-redef,import-not-found,unused-ignore]
        except ImportError:
            raise PriceError(
                f"{where}: reading TOML needs Python 3.11 (or the tomli package); write the "
                "prices as JSON (a .json file) instead."
            ) from None
    return tomllib.loads(text)


def _entry(name: str | None, item: Any, where: str) -> ModelPrice:
    if not isinstance(item, Mapping):
        raise PriceError(
            f"{where}: the prices of {name or 'an entry'} must be a dict such as "
            '{"input": 0.4, "output": 1.2} (per million tokens).'
        )
    model = item.get("model", name)
    label = f"{where}, {model!r}" if model else where
    if not isinstance(model, str) or not model.strip():
        raise PriceError(f'{where}: an entry has no model name: add "model": "qwen-plus".')
    unknown = set(item) - ENTRY_KEYS
    if unknown:
        raise PriceError(
            f"{label}: unknown key(s) {', '.join(sorted(map(str, unknown)))}; known: "
            f"{', '.join(sorted(ENTRY_KEYS))}."
        )
    regions = item.get("regions", item.get("region", "*"))
    regions = [regions] if isinstance(regions, str) else regions
    if (
        not isinstance(regions, list | tuple)
        or not regions
        or any(r not in REGIONS for r in regions)
    ):
        raise PriceError(
            f'{label}: regions must be a list of {", ".join(REGIONS[:-1])} (or "*" for all); '
            f"got {item.get('regions', item.get('region'))!r}."
        )
    currency = item.get("currency")
    if currency is not None and not (isinstance(currency, str) and currency.strip()):
        raise PriceError(f'{label}: currency must be a code such as "USD" or "CNY".')
    if "tiers" in item:
        if set(item) & TIER_KEYS:
            raise PriceError(f"{label}: give either tiers or input/output, not both.")
        tiers_given = item["tiers"]
        if not isinstance(tiers_given, list) or not tiers_given:
            raise PriceError(f"{label}: tiers must be a non-empty list of dicts.")
        tiers = tuple(_tier(t, label, whole=False) for t in tiers_given)
    else:
        tiers = (_tier(item, label, whole=True),)
    limits = [t.up_to for t in tiers]
    if any(x is None for x in limits[:-1]) or limits[:-1] != sorted(limits[:-1]):  # type: ignore[type-var]
        raise PriceError(
            f"{label}: tiers go from the shortest input up: each but the last needs an up_to "
            "larger than the one before."
        )
    return ModelPrice(
        model=model.strip(),
        regions=tuple(regions),
        currency=currency.strip().upper() if isinstance(currency, str) else None,
        tiers=tiers,
        source=str(item.get("source", "")),
        as_of=str(item.get("as_of", "")),
    )


def _tier(item: Any, label: str, *, whole: bool) -> Tier:
    """``whole``: the entry itself holds the one tier's prices (next to model, regions...)."""
    if not isinstance(item, Mapping):
        raise PriceError(f'{label}: a tier must be a dict such as {{"input": 0.4, ...}}.')
    extra = set() if whole else set(item) - TIER_KEYS
    if extra:
        raise PriceError(
            f"{label}: unknown tier key(s) {', '.join(sorted(map(str, extra)))}; known: "
            f"{', '.join(sorted(TIER_KEYS))}."
        )
    missing = [k for k in ("input", "output") if k not in item]
    if missing:
        raise PriceError(
            f"{label}: {' and '.join(missing)} missing: give the price per million tokens, "
            'e.g. {"input": 0.4, "output": 1.2}.'
        )
    values = {k: item.get(k) for k in ("input", "output", "output_thinking", "cached_input")}
    for key, value in values.items():
        if value is None and key in ("output_thinking", "cached_input"):
            continue
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not (math.isfinite(value) and value >= 0)
        ):
            raise PriceError(
                f"{label}: {key} must be a price per million tokens (a number ≥ 0); got {value!r}."
            )
    up_to = item.get("up_to")
    if up_to is not None and (isinstance(up_to, bool) or not isinstance(up_to, int) or up_to < 1):
        raise PriceError(f"{label}: up_to must be a number of input tokens (≥ 1); got {up_to!r}.")
    return Tier(
        up_to=up_to,
        input=float(values["input"]),  # type: ignore[arg-type]
        output=float(values["output"]),  # type: ignore[arg-type]
        output_thinking=_float(values["output_thinking"]),
        cached_input=_float(values["cached_input"]),
    )


def _float(value: Any) -> float | None:
    return None if value is None else float(value)
