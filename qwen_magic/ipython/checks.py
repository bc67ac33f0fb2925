"""Checks on what the user sets: config traits (on assignment), per-call options, ``-o`` names.

Each check returns the value to keep or raises, with a message saying what to do: a
``TraitError`` for traits (``%config`` shows it at once), a ``UsageError`` for a call.
"""

from __future__ import annotations

import builtins
import keyword
import math
import re
from collections.abc import Callable
from typing import Any

from traitlets import TraitError

from qwen_magic.errors import QwenUsageError

# IPython's own names in the user namespace: -o must never replace them (``-o get_ipython``
# would break every later magic). ``_qwen`` itself is fine: it holds the same Result.
IPYTHON_NAMES = frozenset(
    {"get_ipython", "exit", "quit", "In", "Out", "_", "__", "___", "_i", "_ii", "_iii"}
    | {"_ih", "_oh", "_dh", "_sh", "_exit_code"}
)
_HISTORY_NAME = re.compile(r"_i?\d+|__\w*__")


def check_out_name(out: str, shell: Any) -> None:
    """``-o NAME``: a variable name that hides nothing IPython or Python relies on."""
    if not (out.isidentifier() and not keyword.iskeyword(out)):
        raise QwenUsageError(f"-o/--out needs a Python variable name; {out!r} is not one.")
    hidden = getattr(shell, "user_ns_hidden", {}) if shell is not None else {}
    if out != "_qwen" and (out in IPYTHON_NAMES or out in hidden or _HISTORY_NAME.fullmatch(out)):
        raise QwenUsageError(
            f"-o {out} would replace IPython's own {out!r}, which IPython and later cells rely "
            "on: pick another name, e.g. -o answer (the Result is also in _qwen)."
        )
    if hasattr(builtins, out):
        raise QwenUsageError(
            f"-o {out} would hide Python's built-in {out!r} in this notebook: pick another "
            "name, e.g. -o answer (the Result is also in _qwen)."
        )


def check_options(options: dict[str, Any]) -> None:
    """Per-call values that the service would get wrong (shared with ``qwen_magic.ask``)."""
    model = options.get("model")
    if model is not None and not str(model).strip():
        raise QwenUsageError(
            "-m/--model is empty: give a model name (e.g. -m qwen-plus), or leave -m out to use "
            "QwenMagics.model."
        )
    base_url = options.get("base_url")
    if base_url is not None and not str(base_url).strip():
        raise QwenUsageError(
            "--base-url is empty: give a URL (e.g. http://localhost:11434/v1), or leave it out."
        )
    for stop in options.get("stop") or []:
        if not stop:
            raise QwenUsageError("--stop needs a non-empty stop sequence.")


def _number(
    name: str, value: Any, low: float, high: float | None, what: str, *, low_open: bool = False
) -> Any:
    """A numeric trait's value if it is in range, else a TraitError saying the range."""
    too_low = value <= low if low_open else value < low
    if math.isnan(value) or math.isinf(value) or too_low or (high is not None and value > high):
        if high is None:
            bound = f"more than {low:g}" if low_open else f"at least {low:g}"
        else:
            bound = f"between {low:g} and {high:g}"
        raise TraitError(f"QwenMagics.{name} must be {bound} ({what}); you gave {value!r}.")
    return value


def _model(magics: Any, value: str) -> str:
    if not value.strip():
        raise TraitError('QwenMagics.model needs a model name, e.g. "qwen3.5-plus" or "qwen-plus".')
    return value.strip()


def _region(magics: Any, value: str) -> str:
    from qwen_magic.options.regions import REGIONS

    if value not in REGIONS:
        raise TraitError(
            f"QwenMagics.region = {value!r} is not a region: use one of {', '.join(REGIONS)} "
            "(sg Singapore, us Virginia, cn Beijing, hk Hong Kong, de Frankfurt)."
        )
    return value


def _base_url(magics: Any, value: str | None) -> str | None:
    from qwen_magic.options.build import checked_host

    if value is None or not value.strip():
        return None  # "" clears it, as None does
    url = value.strip().rstrip("/")
    try:
        checked_host(url, magics.api, "QwenMagics.base_url")
    except QwenUsageError as exc:
        raise TraitError(str(exc)) from None
    return url


def _workspace(magics: Any, value: str | None) -> str | None:
    from qwen_magic.options.regions import RegionError, check_workspace

    try:
        return check_workspace(value)
    except RegionError as exc:
        raise TraitError(str(exc)) from None


def _api_key_env(magics: Any, value: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
        raise TraitError(
            f"QwenMagics.api_key_env = {value!r} is not an environment variable name: use e.g. "
            '"DASHSCOPE_API_KEY" (the name of the variable, never the key itself).'
        )
    return value


def _thinking_budget(magics: Any, value: int | None) -> int | None:
    if value is None:
        return None
    return _number("thinking_budget", value, 1, None, "tokens of thinking, or None")


THINKING_PARAMS = ("auto", "enable_thinking", "chat_template_kwargs", "both")


def _thinking_param(magics: Any, value: str) -> str:
    if value not in THINKING_PARAMS:
        raise TraitError(
            f"QwenMagics.thinking_param = {value!r} is not a way to send --think/--no-think: "
            "use auto (DashScope's enable_thinking for Alibaba Cloud hosts, "
            "chat_template_kwargs for any other --base-url), enable_thinking, "
            "chat_template_kwargs (vLLM, SGLang, llama.cpp) or both."
        )
    return value


def _deadline(magics: Any, value: float | None) -> float | None:
    if value is None:
        return None
    what = "seconds a call may wait for its answer to begin, or None for no limit"
    return _number("deadline", value, 0.0, None, what, low_open=True)


TRAIT_CHECKS: dict[str, Callable[[Any, Any], Any]] = {
    "update_interval": lambda m, v: _number(
        "update_interval", v, 0.02, 60.0, "seconds between refreshes while streaming"
    ),
    "timeout": lambda m, v: _number(
        "timeout", v, 0.0, None, "seconds to wait for the service", low_open=True
    ),
    "max_retries": lambda m, v: _number("max_retries", v, 0, 10, "retries before the first token"),
    "concurrency": lambda m, v: _number("concurrency", v, 1, 64, "requests at a time"),
    "thinking_budget": _thinking_budget,
    "deadline": _deadline,
    "model": _model,
    "region": _region,
    "base_url": _base_url,
    "workspace": _workspace,
    "api_key_env": _api_key_env,
    "thinking_param": _thinking_param,
    "context_budget": lambda m, v: _number(
        "context_budget", v, 1, 1_000_000, "tokens of context per prompt: {df}, --file, --url"
    ),
}
