"""``--tools`` in a cell (and ``ask(tools=...)``): which functions, how a ``confirm=True`` tool
is asked, and the loop, run synchronously or as the cell's coroutine (where clicks arrive).

Also ``--search``'s one note: the chat API returns no sources.
"""

from __future__ import annotations

import ast
import asyncio
import builtins
import sys
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from qwen_magic.errors import QwenUsageError
from qwen_magic.expressions import OPT_IN, evaluate, may_run
from qwen_magic.result import Result, Step
from qwen_magic.tools.loop import MAX_ROUNDS, Permission, ToolLoop, run_loop, run_loop_async
from qwen_magic.tools.schema import Tool, tool_of

MAX_ROUNDS_LIMIT = 100
NO_SOURCES = (
    "qwen: --search on --api chat: this API returns no sources (the answer still used the "
    "search); use --api dashscope or --api responses to see them listed."
)
_told_no_sources: weakref.WeakSet[Any] = weakref.WeakSet()  # sessions told once


@dataclass
class ToolSetup:
    """The tools of one call, and how the loop runs."""

    tools: list[Tool]
    max_rounds: int = MAX_ROUNDS
    yes: bool = False
    messages: list[dict[str, Any]] = field(default_factory=list)  # this turn's tool rounds
    answer: str | None = None  # the last round's text (a chat's answer)


def prepare_tools(
    options: dict[str, Any], namespace: dict[str, Any], calls: bool = False
) -> ToolSetup | None:
    """Read --tools/--tool-choice/--max-rounds/--yes; put the tools' schemas in
    ``options["tools"]`` for the Request. None without --tools."""
    spec = options.get("tools")
    max_rounds, yes = options.get("max_rounds"), bool(options.get("yes"))
    if not spec:
        given = [name for name, value in (("--max-rounds", max_rounds), ("--yes", yes),
                 ("--tool-choice", options.get("tool_choice"))) if value]  # fmt: skip
        if given:
            raise QwenUsageError(
                f"{', '.join(given)} go{'es' if len(given) == 1 else ''} with --tools: name the "
                "functions the model may call, e.g. `%%qwen --tools get_weather`."
            )
        options["tools"] = []
        return None
    tools = tools_from(spec, namespace, calls)
    names = [t.name for t in tools]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise QwenUsageError(
            f"Two tools are named {twice[0]!r}: give each function its own name (or "
            "@qwen_magic.tool(name='...'))."
        )
    if max_rounds is not None and not (
        isinstance(max_rounds, int) and 1 <= max_rounds <= MAX_ROUNDS_LIMIT
    ):
        raise QwenUsageError(
            f"--max-rounds {max_rounds!r}: give 1 to {MAX_ROUNDS_LIMIT} model rounds (the "
            f"default is {MAX_ROUNDS})."
        )
    options["tools"] = [t.schema() for t in tools]
    return ToolSetup(tools, max_rounds or MAX_ROUNDS, yes)


def tools_from(spec: Any, namespace: dict[str, Any], calls: bool = False) -> list[Tool]:
    """Tools from ``--tools a,b,{expr}`` (names or expressions of callables, or of lists of
    them), or from ``ask(tools=[f, g])``."""
    if isinstance(spec, str):
        values = [_lookup(part, namespace, calls) for part in _parts(spec)]
    elif callable(spec) or isinstance(spec, Tool):
        values = [spec]
    else:
        try:
            values = list(spec)
        except TypeError:
            raise QwenUsageError(
                f"tools= takes a list of functions; got a {type(spec).__name__}."
            ) from None
        values = [_lookup(v, namespace, calls) if isinstance(v, str) else v for v in values]
    flat: list[Any] = []
    for value in values:
        flat.extend(value if isinstance(value, list | tuple) else [value])
    if not flat:
        raise QwenUsageError("--tools names no function: give one or more, e.g. --tools f,g.")
    return [tool_of(value) for value in flat]


def _parts(spec: str) -> list[str]:
    """``a, b, {[c, d]}`` → ``["a", "b", "{[c, d]}"]`` (commas inside braces stay)."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(spec):
        if char in "{[(":
            depth += 1
        elif char in "}])":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(spec[start:i])
            start = i + 1
    parts.append(spec[start:])
    return [p.strip() for p in parts if p.strip()]


def _lookup(part: str, namespace: dict[str, Any], calls: bool) -> Any:
    text = part[1:-1].strip() if part.startswith("{") and part.endswith("}") else part
    where = f"--tools {part!r}"
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        raise QwenUsageError(
            f"{where} is not a function name or an {{expression}}: write --tools get_weather,"
            "search_db or --tools {my_tools}."
        ) from None
    if not may_run(tree, calls):
        raise QwenUsageError(f"{where} runs code (a call or an operator): {OPT_IN}.")
    missing = [
        n.id
        for n in ast.walk(tree)
        if isinstance(n, ast.Name) and n.id not in namespace and not hasattr(builtins, n.id)
    ]
    if missing:
        raise QwenUsageError(
            f"--tools: there is no {missing[0]!r} in your namespace: define the function in a "
            "cell above (and run it), or check the name."
        )
    return evaluate(tree, namespace, where)


def refuse_with_many(args: Any) -> None:
    """--tools runs one answer's loop: not with --each or a comparison."""
    if getattr(args, "tools", None):
        raise QwenUsageError(
            "--tools works on one answer at a time: drop --each, -n, --vary and comma lists "
            "(-m a,b) from this cell, or ask in a loop of cells."
        )


def note_search(session: Any, api: str, search: bool) -> None:
    """``--search`` on ``--api chat``: say once per session that no sources will be listed."""
    if search and api == "chat" and session not in _told_no_sources:
        _told_no_sources.add(session)
        print(NO_SOURCES, file=sys.stderr)


# ------------------------------------------------------------------ running the loop
def run(magics: Any, call: Any, asked_at: float | None = None) -> Result:
    """The loop, synchronously (terminal IPython, a nested cell, ``ask()``)."""
    setup: ToolSetup = call.tools
    renderer = magics._renderer(call.display)
    loop = ToolLoop(call.request, setup.tools, setup.max_rounds)
    loop.started_at = asked_at if asked_at is not None else loop.started_at
    permission = _permission(magics, call.display, renderer, setup.yes, loop, coroutine=False)
    result = run_loop(loop, renderer, permission, magics.update_interval, asked_at)
    return _done(magics, call, renderer, loop, result)


async def run_async(magics: Any, call: Any, asked_at: float | None = None) -> Result:
    """The loop as the cell's coroutine: Stop, Run and Skip clicks arrive."""
    setup: ToolSetup = call.tools
    renderer = magics._renderer(call.display, stoppable=True)
    loop = ToolLoop(call.request, setup.tools, setup.max_rounds)
    loop.started_at = asked_at if asked_at is not None else loop.started_at
    permission = _permission(magics, call.display, renderer, setup.yes, loop, coroutine=True)
    result = await run_loop_async(loop, renderer, permission, magics.update_interval, asked_at)
    return _done(magics, call, renderer, loop, result)


def _done(magics: Any, call: Any, renderer: Any, loop: ToolLoop, result: Result) -> Result:
    setup: ToolSetup = call.tools
    setup.messages = list(loop.messages)
    setup.answer = loop.rounds[-1].text if loop.rounds else ""
    call.display_id = getattr(getattr(renderer, "handle", None), "display_id", None)
    magics._after(result, call.request, "fix" if getattr(call, "fix", False) else None)
    return result


def _permission(
    magics: Any, display: str, renderer: Any, yes: bool, loop: ToolLoop, *, coroutine: bool
) -> Permission:
    """How this run asks before a ``confirm=True`` tool runs, or why it cannot."""
    if yes:
        return Permission(yes=True)
    from qwen_magic.render import FinalRenderer, NullRenderer

    kind = type(renderer).__name__
    if isinstance(renderer, FinalRenderer):
        why = (
            "this run is headless (nbclient, papermill, nbconvert): no one can click Run"
            if display == "auto"
            else "display is final: there is no live view to ask in"
        )
        return Permission(why=why)
    if isinstance(renderer, NullRenderer):
        return Permission(why="nothing is displayed (-q or display none) to ask in")
    if kind == "TerminalRenderer":
        return Permission(ask=_terminal_ask)
    if not coroutine or not getattr(renderer, "stoppable", False):
        return Permission(
            why="this cell does not run as a coroutine (nested in another cell, under %%time, "
            "or %autoawait off), so a click could not arrive"
        )
    return Permission(ask_async=_live_ask(renderer, loop))


def _terminal_ask(step: Step) -> bool:
    from qwen_magic.render.tools import call_text

    try:
        answer = input(f"Run {call_text(step)}? [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def _live_ask(renderer: Any, loop: ToolLoop) -> Callable[[Step], Awaitable[bool]]:
    """Run/Skip buttons in the answer panel; the cell awaits the click (comm messages are
    handled meanwhile), Stop answers Skip and stops the loop."""

    async def ask(step: Step) -> bool:
        panels = getattr(renderer, "panels", None) or []
        rows = getattr(panels[0], "tool_rows", None) if panels else None
        if rows is None:
            return False
        answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

        def answered(allowed: bool) -> None:
            if not answer.done():
                answer.set_result(allowed)

        def stopped() -> None:
            answered(False)

        loop.on_stop.append(stopped)
        step.status = "waiting"
        rows.show(loop.merged().steps)
        rows.ask(step, answered)
        try:
            while not answer.done():  # a short wait: an interrupt's cancellation is prompt
                await asyncio.wait([answer], timeout=0.05)
        finally:
            rows.clear_question()
            loop.on_stop.remove(stopped)
            step.status = "asked"
        return answer.result()

    return ask
