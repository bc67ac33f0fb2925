"""Prices: the dated table in ``prices.py``, the user's own entries over it, and what a
call cost (``Result.cost``). One place knows prices; the rest asks here.

``Pricing`` travels on each Request (``pricing_for``), so a Result is priced where it is
finished, with the table and region in force when it was asked.
"""

from __future__ import annotations

import json
from typing import Any

from qwen_magic.pricing.cost import Cost, Pricing, cost_of, money, total, unknown
from qwen_magic.pricing.table import (
    BATCH_SHARE,
    CACHED_SHARE,
    ModelPrice,
    PriceError,
    PriceTable,
    Tier,
    builtin,
    currency_of,
    load_file,
    parse,
)

__all__ = [
    "BATCH_SHARE", "CACHED_SHARE", "Cost", "ModelPrice", "PriceError", "PriceTable", "Pricing",
    "Tier", "builtin", "cost_of", "currency_of", "load_file", "money", "parse", "pricing_for",
    "table_of", "total", "unknown",
]  # fmt: skip

_cache: dict[str, PriceTable] = {}


def table_of(defaults: Any) -> PriceTable:
    """The table in force for ``defaults`` (the magics' ``prices`` and ``prices_file`` over
    the package's); raises PriceError for a bad entry or file."""
    prices = getattr(defaults, "prices", None) or None
    path = getattr(defaults, "prices_file", None) or None
    if prices is None and path is None:
        return builtin()
    key = _key(prices, path)
    table = _cache.get(key)
    if table is None:
        table = builtin()
        if path is not None:
            table = load_file(path).over(table)
        if prices is not None:
            table = parse(prices, "QwenMagics.prices").over(table)
        if len(_cache) > 32:
            _cache.clear()
        _cache[key] = table
    return table


def _key(prices: Any, path: str | None) -> str:
    mtime = None
    if path is not None:
        import os

        try:
            mtime = os.stat(os.path.expanduser(path)).st_mtime_ns
        except OSError:
            mtime = None
    return json.dumps([prices, path, mtime], sort_keys=True, default=repr)


def pricing_for(defaults: Any, region: str | None, endpoint_region: str | None) -> Pricing | None:
    """How a request is priced: at its region's prices; on the emulator at the configured
    region's (it stands in for the service); None for a server of your own (--base-url)."""
    if endpoint_region is None:
        return None
    where = region if endpoint_region == "emulator" else endpoint_region
    try:
        table = table_of(defaults)
    except PriceError:
        table = builtin()  # refused at %config already; never fail a call over it
    return Pricing(table, str(where or "sg"))
