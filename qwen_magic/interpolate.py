"""``{name}`` / ``{expr}`` from the user namespace; ``{{``/``}}`` literal; code left alone.

Rules, in order, for each ``{...}`` outside doubled braces:
1. not a Python expression (JSON, code, prose with braces) → left exactly as written;
2. an expression whose names are all defined → replaced by ``str(value)``;
3. a bare name / attribute / index chain of an undefined name → UsageError (outside code
   fences), suggesting ``{{word}}`` or ``--raw``; inside a ``` block it is left as written.

``interpolate_with_media`` also takes out the values that are images (``media.is_inline_image``)
and says where they stood, so that "Compare {a} with {b}" sends text and images in that order.
"""

from __future__ import annotations

import ast
import builtins
import re
from collections.abc import Callable
from typing import Any

from .errors import QwenUsageError
from .render.markdown import open_fence

_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}\n]+)\}")


def _names(tree: ast.AST) -> set[str]:
    bound = {
        n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.comprehension):
            bound |= {n.id for n in ast.walk(node.target) if isinstance(n, ast.Name)}
        if isinstance(node, ast.Lambda):
            bound |= {a.arg for a in node.args.args}
    loaded = {
        n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
    }
    return loaded - bound


def _is_reference(tree: ast.AST) -> bool:
    """``a``, ``a.b``, ``a[0]``, ``a.b[1].c``: what a user writes to name a value."""
    node = tree.body if isinstance(tree, ast.Expression) else tree
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return isinstance(node, ast.Name)


def interpolate(text: str, namespace: dict[str, Any]) -> str:
    return _fill(text, namespace, None)[0]


def interpolate_with_media(
    text: str, namespace: dict[str, Any]
) -> tuple[str, list[tuple[int, str, Any]]]:
    """The filled text without its image values, and ``(offset, "{name}", value)`` for each."""
    from .media import is_inline_image

    return _fill(text, namespace, is_inline_image)


_AS_WRITTEN = object()


def _fill(
    text: str, namespace: dict[str, Any], take: Callable[[Any], bool] | None
) -> tuple[str, list[tuple[int, str, Any]]]:
    out: list[str] = []
    taken: list[tuple[int, str, Any]] = []
    length = pos = 0
    for match in _TOKEN.finditer(text):
        out.append(text[pos : match.start()])
        length += match.start() - pos
        pos = match.end()
        token = match.group(0)
        if token in ("{{", "}}"):
            piece = token[0]
        else:
            value = _substitute(match, text, namespace)
            if value is _AS_WRITTEN:
                piece = token
            elif take is not None and take(value):
                taken.append((length, token, value))
                continue
            else:
                piece = str(value)
        out.append(piece)
        length += len(piece)
    out.append(text[pos:])
    return "".join(out), taken


def _substitute(match: re.Match[str], text: str, namespace: dict[str, Any]) -> Any:
    """The value of ``{expr}``, or ``_AS_WRITTEN`` when the braces are not ours."""
    source = match.group(1).strip()
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError:
        return _AS_WRITTEN
    # {type}, {input}, {max} in prose are words, not Python's builtins: a bare reference must
    # name one of the user's variables; builtins count only inside an expression ({len(df)}).
    reference = _is_reference(tree)
    missing = {
        n for n in _names(tree) if n not in namespace and (reference or not hasattr(builtins, n))
    }
    if missing:
        if _is_reference(tree) and open_fence(text[: match.start()]) is None:
            word = sorted(missing)[0]
            raise QwenUsageError(
                f"{{{source}}} in the prompt names {word!r}, which is not defined in this "
                f"notebook. Define it in a cell above, write {{{{{source}}}}} for literal "
                "braces, or pass --raw to send the prompt exactly as written."
            )
        return _AS_WRITTEN
    try:
        value = eval(compile(tree, "<prompt>", "eval"), namespace)  # noqa: S307 - user's own code
    except Exception as exc:
        raise QwenUsageError(
            f"{{{source}}} in the prompt could not be evaluated: {type(exc).__name__}: {exc}. "
            "Fix the expression, write {{...}} for literal braces, or pass --raw."
        ) from None
    return value
