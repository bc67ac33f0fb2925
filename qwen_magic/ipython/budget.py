"""Before sending: ``--dry-run`` (show, send nothing) and the session budget
(``%config QwenMagics.budget = 2.00``), checked before any request.

The budget is in the price table's currency for the call (USD on the international site, CNY
on the mainland one). A call whose estimate (the high end: ``--max-tokens``, or a typical
answer) would take the session past it is refused with the numbers; at 80 % a line says so,
once. The spent total is the session's (``Session.usage``): what the service reported, priced.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from typing import Any

from traitlets import TraitError

from qwen_magic.errors import QwenUsageError
from qwen_magic.pricing import PriceError, load_file, money, parse
from qwen_magic.request import Request

WARN_AT = 0.8


def check_trait(magics: Any, name: str, value: Any) -> Any:
    """``%config QwenMagics.prices / prices_file / budget``: checked on assignment."""
    if value is None:
        return None
    try:
        if name == "prices":
            parse(value, "QwenMagics.prices")
        elif name == "prices_file":
            value = str(value).strip() or None
            if value is not None:
                load_file(value)
        elif name == "budget":
            if not (math.isfinite(value) and value >= 0):
                raise PriceError(
                    f"QwenMagics.budget must be an amount ≥ 0 in the price table's currency "
                    f"(e.g. 2.00), or None for no budget; you gave {value!r}."
                )
            _forget_warning(magics)
    except PriceError as exc:
        raise TraitError(str(exc)) from None
    return value


def _forget_warning(magics: Any) -> None:
    session = getattr(magics, "session", None)
    if session is not None:
        session.usage.budget_warned = False


def before_sending(
    magics: Any,
    requests: Sequence[Request],
    *,
    dry_run: bool = False,
    batch: bool = False,
    titles: Sequence[str] | None = None,
    out: str | None = None,
) -> bool:
    """The last step before anything is sent: True when it was a dry run (shown, nothing to
    send); a QwenUsageError when the budget refuses; False to go on."""
    titles = list(titles) if titles is not None else [r.model for r in requests]
    if dry_run:
        from qwen_magic.ipython.dryrun import show

        run = show(requests, titles, batch=batch, out=out, shell=getattr(magics, "shell", None))
        check(magics, requests, batch=batch, estimates=run.estimates, warn=False, dry=True)
        return True
    check(magics, requests, batch=batch)
    return False


def check(
    magics: Any,
    requests: Sequence[Request],
    *,
    batch: bool = False,
    estimates: Sequence[Any] | None = None,
    warn: bool = True,
    dry: bool = False,
) -> None:
    """Refuse (QwenUsageError) a call whose estimate would pass the budget; warn at 80 %.
    ``dry``: only say what the budget would do (a dry run is never refused)."""
    budget = getattr(magics, "budget", None)
    if budget is None or not requests:
        return
    if estimates is None:
        from qwen_magic.ipython.dryrun import estimate

        estimates = [estimate(r, batch=batch) for r in requests]
    unpriced = [e for e in estimates if e.high is not None and not e.known]
    if unpriced:
        note = unpriced[0].high.note
        message = (
            f"QwenMagics.budget is set ({budget:g}), but this call can't be checked against "
            f"it: {note}. Add the model's price with `%config QwenMagics.prices = "
            f'{{"{unpriced[0].model}": {{"input": ..., "output": ..., "currency": ...}}}}` '
            "(per million tokens), or turn the budget off with `%config QwenMagics.budget = "
            "None`."
        )
        if dry:
            print(f"qwen: budget: without --dry-run, this is refused: {message}", file=sys.stderr)
            return
        raise QwenUsageError(message)
    priced = [e for e in estimates if e.high is not None]
    if not priced:
        return  # a server of your own: nothing billed
    currency = priced[0].high.currency
    cost = sum(e.high.amount or 0.0 for e in priced)
    spent = magics.session.usage.spent(currency)
    label = f"{len(priced)} requests" if len(priced) > 1 else "this call"
    if spent + cost > budget:
        message = (
            f"Over budget: this session has spent {money(spent, currency)} of its "
            f"{money(budget, currency)} budget, and {label} could cost up to "
            f"{money(cost, currency)} ({_basis(priced)}), which would pass it. Nothing was "
            f"sent. Raise it with `%config QwenMagics.budget = {_raised(spent + cost)}`, "
            "lower --max-tokens, or turn it off with `%config QwenMagics.budget = None`."
        )
        if dry:
            print(f"qwen: budget: without --dry-run, this is refused: {message}", file=sys.stderr)
            return
        raise QwenUsageError(message)
    if warn and spent + cost >= WARN_AT * budget:
        warn_once(magics, spent + cost, budget, currency, ahead=True)


def _basis(estimates: Sequence[Any]) -> str:
    tokens = sum(e.input_tokens for e in estimates)
    basis = {e.output_basis for e in estimates}
    out = max(e.output_high for e in estimates)
    return f"{tokens:,} input tokens and up to {out:,} output tokens each, {' / '.join(basis)}"


def _raised(amount: float) -> str:
    """A round budget above ``amount``: 2.00 → 3, 0.013 → 0.02."""
    if amount <= 0:
        return "1"
    step = 10 ** math.floor(math.log10(amount))
    value = (math.floor(amount / step) + 1) * step
    return f"{value:.{max(0, -math.floor(math.log10(step)))}f}"


def warn_once(
    magics: Any, spent: float, budget: float, currency: str | None, ahead: bool = False
) -> None:
    book = magics.session.usage
    if getattr(book, "budget_warned", False):
        return
    book.budget_warned = True
    share = spent / budget * 100 if budget else 100.0
    reaches = "could reach, with this call," if ahead else "has spent"
    print(
        f"qwen: budget: this session {reaches} {money(spent, currency)} of its "
        f"{money(budget, currency)} budget ({share:.0f} %). Calls that would pass it are "
        "refused; raise it with `%config QwenMagics.budget = ...`.",
        file=sys.stderr,
    )


def after_call(magics: Any, currency: str | None) -> None:
    """After a call is counted: warn once when the session's spending reaches 80 %."""
    budget = getattr(magics, "budget", None)
    if budget is None or currency is None:
        return
    spent = magics.session.usage.spent(currency)
    if spent >= WARN_AT * budget:
        warn_once(magics, spent, budget, currency)
