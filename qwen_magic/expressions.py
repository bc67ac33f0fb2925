"""Which ``{expr}`` are data: names, attributes (no dunders), subscripts and literals are
read; calls and operators run only with the user's opt-in, and ``exit``/``quit`` never.
Shared by the prompt's ``{name}`` filling and by ``-i {expr}`` / ``--video {expr}``."""

from __future__ import annotations

import ast
from typing import Any

from qwen_magic.errors import QwenUsageError

NEVER = frozenset({"exit", "quit"})  # IPython's exit() ends the kernel, whatever the opt-in


_DATA = (
    *(ast.Expression, ast.Name, ast.Load, ast.Subscript, ast.Slice),
    *(ast.Constant, ast.Tuple, ast.List, ast.Set, ast.Dict, ast.USub, ast.UAdd),
)


OPT_IN = "pass --eval (or set `%config QwenMagics.interpolate_calls = True`)"


def free_names(tree: ast.AST) -> set[str]:
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


def root_name(tree: ast.AST) -> str | None:
    """``a`` for ``a``, ``a.b``, ``a[0]``, ``a.b[1].c`` (what a user writes to name a value)."""
    node = tree.body if isinstance(tree, ast.Expression) else tree
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def is_data(tree: ast.AST) -> bool:
    """Whether evaluating ``tree`` only reads values: names, attributes that are not dunders,
    subscripts, literals (and a sign on a number). Reading may still run a property or a
    ``__getitem__`` — that is the value's own way of being read — but no call, operator,
    assignment or import can be written."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            if node.attr.startswith("__"):
                return False
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.operand, ast.Constant):
                return False
        elif not isinstance(node, _DATA):
            return False
    return True


def may_run(tree: ast.AST, calls: bool) -> bool:
    """Whether ``tree`` may be evaluated: data always; anything else only with the opt-in,
    and never ``exit``/``quit``."""
    if any(isinstance(n, ast.Name) and n.id in NEVER for n in ast.walk(tree)):
        return False
    return calls or is_data(tree)


def evaluate(tree: ast.Expression, namespace: dict[str, Any], where: str) -> Any:
    """The value of an expression already checked with ``may_run``; a failure is a UsageError
    (``SystemExit`` included: a prompt never ends the kernel)."""
    try:
        return eval(compile(tree, where, "eval"), namespace)  # noqa: S307 - checked above
    except (Exception, SystemExit) as exc:
        raise QwenUsageError(
            f"{where} could not be evaluated: {type(exc).__name__}: {exc}. Fix the expression, "
            "write {{...}} for literal braces, or pass --raw."
        ) from None
