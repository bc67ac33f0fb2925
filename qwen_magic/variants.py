"""Compare: the settings given as lists (``-m a,b``, ``-t 0.1,0.9``, ``--top-p``, ``--seed``,
``--vary think``, ``-n K``) become every combination, each a variant with a key and a title.

The key is what ``Comparison`` is indexed by: the value itself when one setting varies
(``cmp["qwen-max"]``, ``cmp[0.9]``), a tuple of values in the order below when several do.
"""

from __future__ import annotations

import argparse
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from qwen_magic.errors import QwenUsageError
from qwen_magic.models import MAX_SAMPLES, samples_in_one_request
from qwen_magic.request import Request

MAX_VARIANTS = 32  # more would not fit side by side, nor be read


def _listed(convert: Callable[[str], Any], what: str) -> Callable[[str], Any]:
    """An argparse ``type``: one value, or a comma list of values (a compare)."""

    def parse(text: str) -> Any:
        parts = [p.strip() for p in text.split(",")]
        if "," in text and (len(parts) < 2 or not all(parts)):
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a comma list of {what}s (write e.g. 0.1,0.9)"
            )
        try:
            values = [convert(p) for p in parts]
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a {what} (or a comma list of them, e.g. 0.1,0.9)"
            ) from None
        return values[0] if len(values) == 1 else values

    parse.__name__ = what
    return parse


floats = _listed(float, "number")
ints = _listed(int, "whole number")


@dataclass
class Dimension:
    """One setting that varies: the option's name and its values, as given."""

    name: str  # model, temperature, top_p, seed, thinking, sample
    values: list[Any]

    def label(self, value: Any) -> str:
        if self.name == "model":
            return str(value)
        if self.name == "temperature":
            return f"t={value:g}"
        if self.name == "top_p":
            return f"top_p={value:g}"
        if self.name == "seed":
            return f"seed={value}"
        if self.name == "thinking":
            return "think" if value else "no think"
        return f"#{value + 1}"  # sample


@dataclass
class Variant:
    key: Any
    title: str
    options: dict[str, Any] = field(default_factory=dict)  # what this variant sets
    sample: int = 0  # -n K: which of the K samples (0 without -n)


FLAGS = {
    "model": "-m",
    "temperature": "-t",
    "top_p": "--top-p",
    "seed": "--seed",
    "thinking": "--vary think",
    "sample": "-n",
}


def dimensions(options: dict[str, Any]) -> list[Dimension]:
    """The settings that vary, in a fixed order: model, temperature, top_p, seed, thinking,
    then the samples of ``-n``. A UsageError for a value given twice or a clash."""
    dims: list[Dimension] = []
    model = options.get("model")
    if isinstance(model, str) and "," in model:
        names = [m.strip() for m in model.split(",")]
        if not all(names):
            raise QwenUsageError(
                f"-m {model!r} has an empty model name: write the models separated by commas, "
                "e.g. -m qwen-plus,qwen-max."
            )
        dims.append(Dimension("model", names))
    for name in ("temperature", "top_p", "seed"):
        value = options.get(name)
        if isinstance(value, list):
            dims.append(Dimension(name, list(value)))
    vary = options.get("vary") or []
    if "think" in vary:
        if options.get("thinking") is not None or options.get("thinking_budget") is not None:
            raise QwenUsageError(
                "--vary think compares thinking on and off: drop --think / --no-think / "
                "--thinking-budget, or drop --vary think."
            )
        dims.append(Dimension("thinking", [True, False]))
    n = options.get("n")
    if n is not None:
        if not 1 <= n <= MAX_VARIANTS:
            raise QwenUsageError(f"-n asks for 1 to {MAX_VARIANTS} samples; you gave {n}.")
        if n > 1:
            dims.append(Dimension("sample", list(range(n))))
    for dim in dims:
        if len({repr(v) for v in dim.values}) != len(dim.values):
            raise QwenUsageError(
                f"{FLAGS[dim.name]} names the same value twice: each variant once, please."
            )
    return dims


def expand(dims: list[Dimension]) -> list[Variant]:
    """Every combination, the first setting slowest (``-m a,b -t 0.1,0.9``: a·0.1, a·0.9,
    b·0.1, b·0.9)."""
    count = 1
    for dim in dims:
        count *= len(dim.values)
    if count > MAX_VARIANTS:
        sizes = " × ".join(f"{len(d.values)} ({FLAGS[d.name]})" for d in dims)
        raise QwenUsageError(
            f"That compare makes {count} variants ({sizes}); at most {MAX_VARIANTS} run side by "
            "side. Give fewer values, or use --each over a list for many prompts."
        )
    variants = []
    for combo in itertools.product(*(d.values for d in dims)):
        key = combo[0] if len(combo) == 1 else tuple(combo)
        title = " · ".join(d.label(v) for d, v in zip(dims, combo, strict=True))
        options = {d.name: v for d, v in zip(dims, combo, strict=True) if d.name != "sample"}
        sample = next((v for d, v in zip(dims, combo, strict=True) if d.name == "sample"), 0)
        variants.append(Variant(key, title, options, sample))
    return variants


def share_samples(requests: list[Request], variants: list[Variant]) -> None:
    """``-n K``: where the service's ``n`` gives several samples in one request (the chat API
    on Model Studio, Qwen Plus or an open Qwen3 model, not thinking, no tools or voice), mark
    each run of K samples as up to 4 per request (``Request.samples``, ``Request.sample``);
    the others stay one request per sample."""
    start = 0
    while start < len(variants):
        end = start + 1
        while end < len(variants) and variants[end].sample > variants[end - 1].sample:
            end += 1  # the samples of one setting come together, the last dimension
        if _shares(requests[start]):
            for first in range(start, end, MAX_SAMPLES):
                group = requests[first : min(end, first + MAX_SAMPLES)]
                for number, request in enumerate(group):
                    request.samples, request.sample = (len(group), number)
        start = end


def _shares(request: Request) -> bool:
    from urllib.parse import urlsplit

    from qwen_magic.options.regions import is_model_studio_host

    on_model_studio = request.region is not None or is_model_studio_host(
        urlsplit(request.base_url).hostname or ""
    )
    return (
        request.api == "chat"
        and on_model_studio
        and samples_in_one_request(request.model, request.thinking)
        and not request.tools
        and request.voice is None
        and not request.media
    )
