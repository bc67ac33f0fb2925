"""``{name}`` / ``{expr}`` from the user namespace; ``{{``/``}}`` literal; code left alone.

Filling a prompt reads data; it never acts. Without the opt-in (``--eval``, or
``QwenMagics.interpolate_calls = True``) a ``{...}`` is filled only when it is made of names,
attributes (not ``__dunder__`` ones), subscripts and literals: ``{df.shape[0]}``, ``{In[3]}``,
``{d["k"]}``, ``{seq[-1]}``, ``{a.b[1].c}``. A call or an operator (``{exit()}``,
``{__import__('os').system(...)}``, ``{x * 2}``) is sent as written, and the magic says so.
With the opt-in any expression runs, except ``exit`` / ``quit`` (never: they end the kernel).

Rules, in order, for each ``{...}`` outside doubled braces:
1. not a Python expression (JSON, code, prose with braces) → left exactly as written;
2. a bare name / attribute / index chain of an undefined name → UsageError (outside code
   fences), suggesting ``{{word}}`` or ``--raw``; inside a ``` block it is left as written;
3. an expression that would act (see above) → left as written, and reported in ``kept``;
4. a pandas DataFrame or Series (or a numpy array, list, dict too long to print whole) →
   a compact summary within the context budget (``context/summaries.py``), listed in
   ``summaries``; ``{df!full}`` → the whole value, every row (also listed: it is counted);
5. otherwise → replaced by ``str(value)``.

``interpolate_with_media`` also takes out the values that are images (``media.is_inline_image``)
and says where they stood, so that "Compare {a} with {b}" sends text and images in that order.
"""

from __future__ import annotations

import ast
import builtins
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from qwen_magic.context import DEFAULT_BUDGET
from qwen_magic.context.summaries import Summary, kind_of, summarize
from qwen_magic.errors import QwenUsageError
from qwen_magic.expressions import OPT_IN, evaluate, free_names, may_run, root_name
from qwen_magic.render.markdown import open_fence

_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}\n]+)\}")
_FULL = re.compile(r"(.*?)\s*!full\s*", re.S)  # {df!full}: the whole value, not a summary


@dataclass
class Filled:
    """A prompt with its ``{...}`` filled."""

    text: str
    media: list[tuple[int, str, Any]] = field(default_factory=list)  # (offset, "{a}", image)
    kept: list[str] = field(default_factory=list)  # "{exit()}": would act, sent as written
    summaries: list[Summary] = field(default_factory=list)  # {df}: summarized, with its tokens


def interpolate(
    text: str, namespace: dict[str, Any], *, calls: bool = False, budget: int = DEFAULT_BUDGET
) -> str:
    return _fill(text, namespace, None, calls, budget).text


def interpolate_with_media(
    text: str, namespace: dict[str, Any], *, calls: bool = False, budget: int = DEFAULT_BUDGET
) -> Filled:
    """The filled text without its image values, and ``(offset, "{name}", value)`` for each.
    ``budget``: the tokens all ``{df}`` summaries share."""
    from qwen_magic.media import is_inline_image

    return _fill(text, namespace, is_inline_image, calls, budget)


_AS_WRITTEN = object()


def _fill(
    text: str,
    namespace: dict[str, Any],
    take: Callable[[Any], bool] | None,
    calls: bool,
    budget: int = DEFAULT_BUDGET,
) -> Filled:
    out: list[str] = []
    filled = Filled("")
    media: list[tuple[int, str, Any]] = []  # (index in out, "{a}", image)
    data: list[tuple[int, Any, str, bool]] = []  # (index in out, value, "{df}", !full)
    pos = 0
    for match in _TOKEN.finditer(text):
        out.append(text[pos : match.start()])
        pos = match.end()
        token = match.group(0)
        if token in ("{{", "}}"):
            piece = token[0]
        else:
            value, full = _substitute(match, text, namespace, calls, filled.kept)
            if value is _AS_WRITTEN:
                piece = token
            elif take is not None and take(value):
                media.append((len(out), token, value))
                continue
            elif kind_of(value) is not None:
                data.append((len(out), value, token, full))
                piece = ""  # filled below, when the number of values sharing the budget is known
            else:
                piece = str(value)
        out.append(piece)
    out.append(text[pos:])
    share = budget // max(1, sum(1 for *_, full in data if not full))
    for index, value, token, full in data:
        summary = summarize(value, token, share, full=full)
        if summary is None:
            out[index] = str(value)
            continue
        filled.summaries.append(summary)
        before = "".join(out[:index])
        lead = "" if not before or before.endswith("\n") else "\n"
        trail = "" if "".join(out[index + 1 :]).startswith("\n") else "\n"
        out[index] = lead + summary.text + trail
    for index, token, value in media:
        filled.media.append((sum(len(piece) for piece in out[:index]), token, value))
    filled.text = "".join(out)
    return filled


def _substitute(
    match: re.Match[str], text: str, namespace: dict[str, Any], calls: bool, kept: list[str]
) -> tuple[Any, bool]:
    """The value of ``{expr}`` (or ``_AS_WRITTEN`` when the braces are not ours to fill), and
    whether it was written ``{expr!full}``."""
    source = match.group(1).strip()
    full = _FULL.fullmatch(source)
    if full is not None:
        source = full.group(1)
    return _value(source, match, text, namespace, calls, kept), full is not None


def _value(
    source: str,
    match: re.Match[str],
    text: str,
    namespace: dict[str, Any],
    calls: bool,
    kept: list[str],
) -> Any:
    parsed = _parsed(source)
    if parsed is None:
        return _AS_WRITTEN
    tree, root, names = parsed
    in_code = open_fence(text[: match.start()]) is not None
    # {type}, {input}, {max} in prose are words, not Python's builtins: a bare reference must
    # name one of the user's variables; builtins count only inside an expression ({len(df)}).
    reference = root is not None
    missing = {n for n in names if n not in namespace and (n == root or not hasattr(builtins, n))}
    if missing:
        if reference and not in_code:
            word = sorted(missing)[0]
            raise QwenUsageError(
                f"{{{source}}} in the prompt names {word!r}, which is not defined in this "
                f"notebook. Define it in a cell above, write {{{{{source}}}}} for literal "
                "braces, or pass --raw to send the prompt exactly as written."
            )
        return _AS_WRITTEN
    if not may_run(tree, calls):
        if not in_code:
            kept.append("{" + source + "}")
        return _AS_WRITTEN
    return evaluate(tree, namespace, f"{{{source}}} in the prompt")


@functools.lru_cache(maxsize=256)
def _parsed(source: str) -> tuple[ast.Expression, str | None, frozenset[str]] | None:
    """``{source}`` parsed, its root name and its free names (None: not Python); once per
    expression, not once per item of ``--each`` (the tree is only read, never changed)."""
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError:
        return None
    return tree, root_name(tree), frozenset(free_names(tree))


def kept_note(kept: list[str], calls: bool) -> str:
    """What the magic prints when it left expressions as written because they would act."""
    shown = ", ".join(kept[:3]) + (", …" if len(kept) > 3 else "")
    ends = any(re.search(r"\b(exit|quit)\b", k) for k in kept)
    never = " exit() and quit() never run from a prompt." if ends else ""
    if calls:
        return f"qwen: sent {shown} as written:{never}"
    return (
        f"qwen: sent {shown} as written: {{…}} fills in names, attributes, indexes and literals, "
        f"and runs no calls or operators unless you {OPT_IN}.{never}"
    )
