"""The tool loop: a model round, then the calls it asked for, then the next round with their
results, until the model answers, the user stops, or ``--max-rounds`` is reached.

Each round is one streamed request through the runner (the SDK stream stays on its worker
thread). The calls run on the caller's thread, the kernel's, where the user's functions expect
to run (matplotlib, widgets, the namespace): one after another in the order asked, unless every
call of the round is to a ``thread_safe`` tool. One view shows every round: the runner sees a
view per round (``LoopView``), the user one answer with a row per call.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from qwen_magic.errors import ServiceError
from qwen_magic.events import ToolCall, ToolResult, Usage
from qwen_magic.messages import assistant_message, tool_message
from qwen_magic.render import Renderer
from qwen_magic.request import Request
from qwen_magic.result import Result, Step
from qwen_magic.tools.output import RESULT_BUDGET, tool_output
from qwen_magic.tools.schema import Tool

MAX_ROUNDS = 8
NOT_ALLOWED = "the user did not allow this call"


@dataclass
class Permission:
    """How ``confirm=True`` tools are asked before they run: ``ask`` (a terminal prompt) or
    ``ask_async`` (Run/Skip buttons, awaited); with neither they are refused, and ``why`` says
    why no one could be asked. ``yes``: run them without asking (``--yes``)."""

    yes: bool = False
    ask: Callable[[Step], bool] | None = None
    ask_async: Callable[[Step], Awaitable[bool]] | None = None
    why: str = "this run cannot ask"


@dataclass
class ToolLoop:
    """The state of one loop: the rounds so far, every step, and the messages of this turn's
    tool rounds (they become the chat's history)."""

    request: Request
    tools: Sequence[Tool]
    max_rounds: int = MAX_ROUNDS
    budget: int = RESULT_BUDGET
    rounds: list[Result] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    stopped: bool = False
    error: ServiceError | None = None
    started_at: float = field(default_factory=time.perf_counter)
    on_stop: list[Callable[[], None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.by_name = {tool.name: tool for tool in self.tools}

    # -- rounds ----------------------------------------------------------------------------
    def next_request(self) -> Request:
        """The request of the next round: the same question, this turn's rounds after it."""
        if not self.rounds:
            return self.request
        choice = self.request.tool_choice
        if choice not in (None, "auto", "none"):
            choice = "auto"  # a named tool is forced once; forced every round it never ends
        return dataclasses.replace(
            self.request, tool_rounds=list(self.messages), tool_choice=choice
        )

    def take(self, result: Result) -> list[Step]:
        """Fold a finished round; the calls to run now (none: the loop is over)."""
        self.rounds.append(result)
        calls = [dataclasses.replace(s) for s in result.steps if s.kind == "tool"]
        self.steps.append(
            Step("model", result.model, result=result.text, reasoning=result.reasoning,
                 seconds=result.elapsed, usage=result.usage, status=_round_status(result))
        )  # fmt: skip
        self.steps.extend(calls)
        if not calls:
            return []
        if result.error is not None or result.interrupted or self.stopped:
            for step in calls:
                step.status = "stopped" if not result.error else "not run"
            return []
        if len(self.rounds) >= self.max_rounds:
            for step in calls:
                step.status = "not run"
            names = ", ".join(dict.fromkeys(s.name for s in calls))
            self.error = ServiceError(
                "tools",
                f"the model still asked for tools after {len(self.rounds)} rounds ({names}); "
                "those calls were not run and there is no answer",
                hint=f"raise --max-rounds (it is {self.max_rounds}), or ask again with "
                "--tool-choice none for an answer from what the tools returned.",
            )
            return []
        asked = [ToolCall(s.call_id or "", s.name, s.arguments) for s in calls]
        self.messages.append(assistant_message(result.text, asked))
        return calls

    def answer(self, calls: Sequence[Step]) -> None:
        """The calls' results as tool messages, in the order asked."""
        for step in calls:
            output = step.result if step.status != "stopped" else "the user stopped this call"
            self.messages.append(tool_message(ToolResult(step.call_id or "", output)))

    def stop(self) -> None:
        """Stop the loop (from a click or an interrupt): no new call, no new round."""
        self.stopped = True
        for wake in list(self.on_stop):
            with contextlib.suppress(Exception):
                wake()

    # -- calls -----------------------------------------------------------------------------
    def may_run(self, step: Step, permission: Permission) -> bool | None:
        """True: run it; False: refused; None: the user must be asked."""
        tool = self.by_name.get(step.name)
        if tool is None or not tool.confirm or permission.yes:
            return True
        if permission.ask is None and permission.ask_async is None:
            return False
        return None

    def call(self, step: Step, allowed: bool = True) -> None:
        """Run one call on this thread and fill its step; never raises (an interrupt stops
        the loop)."""
        started = time.perf_counter()
        tool = self.by_name.get(step.name)
        try:
            if tool is None:
                known = ", ".join(self.by_name) or "none"
                self._failed(step, f"there is no tool named {step.name!r} (the tools: {known})")
            elif not allowed:
                step.status = step.status if step.status == "skipped" else "refused"
                step.result = NOT_ALLOWED
            else:
                arguments = _arguments(step.arguments)
                if isinstance(arguments, str):
                    self._failed(step, arguments)
                else:
                    step.value = tool.call(arguments)
                    step.result = tool_output(step.value, self.budget)
                    step.status = "ok"
        except KeyboardInterrupt:
            step.status, step.error, step.result = "stopped", "stopped by the user", ""
            self.stop()
        except Exception as exc:  # the model is told, and so is the user
            self._failed(step, f"{type(exc).__name__}: {exc}")
        finally:
            step.seconds = time.perf_counter() - started

    def _failed(self, step: Step, text: str) -> None:
        step.status, step.error = "error", text
        step.result = tool_output(f"Error: {text}", self.budget)

    def parallel(self, calls: Sequence[Step], permission: Permission) -> bool:
        """Whether the calls may run at the same time: several, all to thread-safe tools that
        need no asking."""
        tools = [self.by_name.get(step.name) for step in calls]
        return len(calls) > 1 and all(
            t is not None and t.thread_safe and self.may_run(s, permission)
            for t, s in zip(tools, calls, strict=True)
        )

    def run_calls(
        self, calls: Sequence[Step], permission: Permission, refresh: Callable[[], None]
    ) -> None:
        """Run the round's calls on this thread (the kernel's), then answer them."""
        if self.parallel(calls, permission):
            threads = self._threads(calls, refresh)
            for thread in threads:
                thread.join()
        else:
            for step in calls:
                if self.stopped:
                    step.status = "stopped"
                    continue
                allowed = self.may_run(step, permission)
                if allowed is None:
                    allowed = self._asked(step, permission.ask)
                if allowed is False and step.status not in ("skipped",):
                    self._refuse(step, permission)
                self._running(step, refresh)
                self.call(step, allowed)
                refresh()
        self.answer(calls)

    async def run_calls_async(
        self, calls: Sequence[Step], permission: Permission, refresh: Callable[[], None]
    ) -> None:
        """``run_calls`` awaiting between calls, so a click (Stop, Run, Skip) arrives."""
        if self.parallel(calls, permission):
            done = asyncio.Event()
            loop = asyncio.get_running_loop()
            threads = self._threads(calls, refresh, lambda: loop.call_soon_threadsafe(done.set))
            while any(t.is_alive() for t in threads):
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(done.wait(), 0.05)
                done.clear()
        else:
            for step in calls:
                await asyncio.sleep(0)  # a Stop clicked during the last call arrives here
                if self.stopped:
                    step.status = "stopped"
                    continue
                allowed = self.may_run(step, permission)
                if allowed is None and permission.ask_async is not None:
                    allowed = await permission.ask_async(step)
                    if self.stopped:
                        step.status = "stopped"
                        continue
                    if allowed is False:
                        self._skipped(step)
                elif allowed is None:
                    allowed = self._asked(step, permission.ask)
                if allowed is False and step.status != "skipped":
                    self._refuse(step, permission)
                self._running(step, refresh)
                self.call(step, allowed)
                refresh()
        self.answer(calls)

    def _asked(self, step: Step, ask: Callable[[Step], bool] | None) -> bool:
        allowed = bool(ask(step)) if ask is not None else False
        if not allowed:
            self._skipped(step)
        return allowed

    @staticmethod
    def _skipped(step: Step) -> None:
        step.status, step.error = "skipped", "not run: you chose Skip"

    def _refuse(self, step: Step, permission: Permission) -> None:
        step.status = "refused"
        step.error = (
            f"not run: {step.name} asks before it runs (confirm=True) and {permission.why}; "
            "add --yes to let it run"
        )

    @staticmethod
    def _running(step: Step, refresh: Callable[[], None]) -> None:
        if step.status == "asked":
            step.status = "running"
            refresh()

    def _threads(
        self,
        calls: Sequence[Step],
        refresh: Callable[[], None],
        wake: Callable[[], Any] | None = None,
    ) -> list[threading.Thread]:
        """Thread-safe calls, each on its own daemon thread (a stuck one never blocks exit)."""

        def work(step: Step) -> None:
            try:
                self.call(step)
            finally:
                if wake is not None:
                    with contextlib.suppress(RuntimeError):
                        wake()

        for step in calls:
            step.status = "running"
        refresh()
        threads = [
            threading.Thread(target=work, args=(s,), name=f"qwen-tool-{s.name}", daemon=True)
            for s in calls
        ]
        for thread in threads:
            thread.start()
        return threads

    # -- what the user sees -----------------------------------------------------------------
    def merged(self, current: Result | None = None) -> Result:
        """Every round so far as one Result: the texts and thinking one after another, the
        usage summed, every step; the current round's (``current``) last."""
        rounds = [*self.rounds, *([current] if current is not None else [])]
        if not rounds:
            req = self.request
            return Result(model=req.model, api=req.api, region=req.region, format=req.format,
                          media=req.media, attachments=req.attachments, steps=list(self.steps),
                          elapsed=time.perf_counter() - self.started_at)  # fmt: skip
        last, first = rounds[-1], rounds[0]
        steps = list(self.steps)
        if current is not None:
            steps += [s for s in current.steps if s.kind == "tool"]
        sources = next((r.sources for r in reversed(rounds) if r.sources), [])
        return dataclasses.replace(
            last,
            text="\n\n".join(r.text for r in rounds if r.text),
            reasoning="\n\n".join(r.reasoning for r in rounds if r.reasoning),
            usage=_summed([r.usage for r in rounds]),
            cost=_costs([r.cost for r in rounds]),
            steps=steps,
            sources=list(sources),
            ttft=first.ttft,
            reasoning_time=first.reasoning_time,
            elapsed=time.perf_counter() - self.started_at,
        )

    def result(self) -> Result:
        """The loop's Result: interrupted if it was stopped, with the max-rounds error."""
        for step in self.steps:
            if step.status in ("asked", "running", "waiting"):
                step.status = "stopped"  # never run: the loop was stopped first
        final = self.merged()
        final.interrupted = final.interrupted or self.stopped
        if final.error is None:
            final.error = self.error
        return final


def _round_status(result: Result) -> str:
    if result.error is not None:
        return "error"
    return "stopped" if result.interrupted else "ok"


def _arguments(text: str) -> dict[str, Any] | str:
    """The model's arguments as a dict, or the reason they can't be (sent back to it)."""
    try:
        value = json.loads(text) if text.strip() else {}
    except ValueError as exc:
        return f"the arguments are not valid JSON ({exc})"
    if not isinstance(value, dict):
        return "the arguments must be a JSON object of named arguments"
    return value


def _costs(costs: Sequence[Any]) -> Any:
    """Every round's cost added (pricing.Cost; None before any round reported tokens)."""
    from qwen_magic.pricing import total

    return total(costs)


def _summed(usages: Sequence[Usage]) -> Usage:
    def total(name: str) -> int | None:
        values = [getattr(u, name) for u in usages if getattr(u, name) is not None]
        return sum(values) if values else None

    return Usage(total("input_tokens"), total("output_tokens"), total("reasoning_tokens"),
                 total("cached_tokens"))  # fmt: skip


class LoopView:
    """The runner's view of each round; the user's one view of the whole loop.

    The inner view is started once (its Stop stops the loop and the round in flight), sees
    every round's snapshots merged with what came before, and is finished once, by ``close``.
    """

    def __init__(self, inner: Renderer, loop: ToolLoop) -> None:
        self.inner = inner
        self.loop = loop
        self.started = False
        self._round_stop: Callable[[], None] | None = None

    def start(self, requests: Sequence[Request], on_stop: Callable[[], None]) -> None:
        self._round_stop = on_stop
        if not self.started:
            self.started = True
            self.inner.start(requests, self.stop)

    def stop(self) -> None:
        self.loop.stop()
        if self._round_stop is not None:
            self._round_stop()

    def update(self, results: Sequence[Result | None], ended: Sequence[bool] = ()) -> None:
        shown = [self.loop.merged(r) if r is not None else None for r in results]
        self.inner.update(shown, [False] * len(shown))

    def finish(self, results: Sequence[Result]) -> None:
        pass  # a round ended; the loop decides what comes next

    def refresh(self) -> None:
        """Between rounds: the steps as they are now (a call running, a call done)."""
        self.inner.update([self.loop.merged()], [False])

    def close(self, final: Result) -> None:
        self.inner.finish([final])


def run_loop(
    loop: ToolLoop,
    view: Renderer,
    permission: Permission,
    interval: float = 0.1,
    asked_at: float | None = None,
) -> Result:
    """The loop, synchronously (a terminal, ``ask()``, a nested cell): Ctrl-C stops it and
    keeps what happened."""
    from qwen_magic.runner import execute_many

    shown = LoopView(view, loop)
    try:
        while not loop.stopped:
            first = not loop.rounds
            request = loop.next_request()
            result = execute_many([request], shown, interval, 1,
                                  asked_at=asked_at if first else None)[0]  # fmt: skip
            calls = loop.take(result)
            if not calls:
                break
            loop.run_calls(calls, permission, shown.refresh)
    except KeyboardInterrupt:
        loop.stop()
    return _close(loop, shown)


async def run_loop_async(
    loop: ToolLoop,
    view: Renderer,
    permission: Permission,
    interval: float = 0.1,
    asked_at: float | None = None,
) -> Result:
    """The loop as a coroutine on the kernel's loop: Stop, Run and Skip clicks arrive while a
    round streams, between calls, and while a call waits for its confirmation."""
    from qwen_magic.runner import execute_many_async

    shown = LoopView(view, loop)
    try:
        while not loop.stopped:
            first = not loop.rounds
            request = loop.next_request()
            results = await execute_many_async([request], shown, interval, 1,
                                               asked_at=asked_at if first else None)  # fmt: skip
            calls = loop.take(results[0])
            if not calls:
                break
            await loop.run_calls_async(calls, permission, shown.refresh)
    except (KeyboardInterrupt, asyncio.CancelledError):
        task = asyncio.current_task()
        if task is not None and hasattr(task, "uncancel"):
            task.uncancel()
        loop.stop()
    return _close(loop, shown)


def _close(loop: ToolLoop, shown: LoopView) -> Result:
    final = loop.result()
    try:
        shown.close(final)
    except Exception as exc:  # the view failed: the Result still says what happened
        final.error = final.error or ServiceError(
            "internal", f"the display failed: {type(exc).__name__}: {exc}"
        )
    return final
