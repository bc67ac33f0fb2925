"""Run one Request: a worker thread drains the provider, the caller's thread renders.

The SDK stream is read in a worker thread so that reading never waits for the UI and the UI
refreshes on a clock (``update_interval``), not per chunk: the cost of showing an answer grows
with time, not with the number of chunks. Widgets are only touched from the calling thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any

from qwen_magic.errors import ServiceError, hint_for
from qwen_magic.events import Failed, Finished, ReasoningDelta, Started, TextDelta, Usage
from qwen_magic.masking import hold_back, redact, redact_fields, redact_object
from qwen_magic.media import elide
from qwen_magic.messages import chat_messages
from qwen_magic.providers import Provider, make_provider
from qwen_magic.render import Renderer
from qwen_magic.request import Request
from qwen_magic.result import Result, finalize


class Collector:
    """Folds Events into a Result. ``apply`` runs per chunk, so it stays tiny."""

    def __init__(self, request: Request, clock: Callable[[], float] = time.perf_counter) -> None:
        self.request = request
        self.clock = clock
        self.started_at = clock()
        self.text_parts: list[str] = [request.prefix] if request.prefix else []
        self.reasoning_parts: list[str] = []
        self.usage = Usage()
        self.finish_reason: str | None = None
        self.request_id: str | None = None
        self.error: ServiceError | None = None
        self.raw: Any = None
        self._raw_seen: Any = None
        self.interrupted = False
        self.first_token_at: float | None = None
        self.answer_at: float | None = None
        self.ended_at: float | None = None
        self.done = threading.Event()
        # What was sent, built once (not per refresh); a key typed into a prompt is masked too.
        self.messages = redact(elide(chat_messages(request)))

    def apply(self, event: object) -> None:
        kind = type(event)
        if kind is TextDelta:
            if self.answer_at is None:
                self.answer_at = self.clock()
                if self.first_token_at is None:
                    self.first_token_at = self.answer_at
            self.text_parts.append(event.text)  # type: ignore[attr-defined]
        elif kind is ReasoningDelta:
            if self.first_token_at is None:
                self.first_token_at = self.clock()
            self.reasoning_parts.append(event.text)  # type: ignore[attr-defined]
        elif kind is Usage:
            self.usage = event  # type: ignore[assignment]
        elif kind is Started:
            self.request_id = self.request_id or event.request_id  # type: ignore[attr-defined]
        elif kind is Finished:
            self.finish_reason = event.finish_reason  # type: ignore[attr-defined]
            self.raw = event.raw  # type: ignore[attr-defined]
            self.request_id = event.request_id or self.request_id  # type: ignore[attr-defined]
        elif kind is Failed:
            error: ServiceError = redact_fields(event.error)  # type: ignore[attr-defined]
            req = self.request
            error.hint = error.hint or hint_for(
                error,
                region=req.region,
                base_url=req.base_url,
                model=req.model,
                key_source=req.key_source,
            )
            self.error = error
            self.request_id = self.request_id or error.request_id

    def end(self) -> None:
        if self.ended_at is None:
            self.ended_at = self.clock()
        self.done.set()

    def _shown(self, parts: list[str]) -> str:
        """The joined text with any key masked (a key split across chunks too); while
        streaming, without a tail that could be the start of a key still arriving."""
        text = redact("".join(parts))
        return text if self.ended_at is not None else hold_back(text)

    def snapshot(self) -> Result:
        req = self.request
        now = self.ended_at if self.ended_at is not None else self.clock()
        thought_until = self.answer_at if self.answer_at is not None else now
        reasoning = self._shown(self.reasoning_parts)
        if self.raw is not None and self.raw is not self._raw_seen:  # checked once
            self.raw = self._raw_seen = redact_object(self.raw)
        return Result(
            text=self._shown(self.text_parts),
            reasoning=reasoning,
            usage=self.usage,
            model=req.model,
            api=req.api,
            region=req.region,
            request_id=redact(self.request_id),
            finish_reason=redact(self.finish_reason),
            ttft=None if self.first_token_at is None else self.first_token_at - self.started_at,
            elapsed=now - self.started_at,
            reasoning_time=(
                thought_until - self.first_token_at
                if reasoning and self.first_token_at is not None
                else None
            ),
            interrupted=self.interrupted,
            error=redact_fields(self.error),  # also an internal error's text
            raw=self.raw,
            messages=self.messages,
            format=req.format,
            media=req.media,
        )


class Run:
    """One request in flight: the worker, the collector, and how to stop it."""

    def __init__(self, request: Request, renderer: Renderer, provider: Provider | None = None):
        self.request = request
        self.renderer = renderer
        try:
            self.provider = provider or make_provider(request)
        except Exception as exc:  # a bug: reported by the worker like any other
            self.provider = _Unavailable(exc)
        self.collector = Collector(request)
        self.cancelled = threading.Event()
        self.worker = threading.Thread(target=self._pump, name="qwen-stream", daemon=True)
        self.on_done: Callable[[], None] | None = None
        self.render_error: ServiceError | None = None  # the renderer failed: show plain text

    def _pump(self) -> None:
        events = None
        try:
            prepare = getattr(self.provider, "prepare", None)
            if prepare is not None:  # import the SDK, build the client: not the service's time
                prepare()
                self.collector.started_at = self.collector.clock()
            events = self.provider.events()
            for event in events:
                if self.cancelled.is_set():
                    break
                self.collector.apply(event)
        except Exception as exc:  # a bug, not a service error: keep it visible
            if not self.cancelled.is_set():
                self.collector.error = ServiceError("internal", f"{type(exc).__name__}: {exc}")
                self.collector.error.context["traceback"] = _format_traceback(exc)
        finally:
            if events is not None:
                with contextlib.suppress(Exception):
                    events.close()  # closes the HTTP stream if we stopped early
            self.collector.end()
            if self.on_done is not None:
                with contextlib.suppress(RuntimeError):  # the cell's loop already closed
                    self.on_done()

    def stop(self) -> None:
        """Stop now, from any thread: keep the partial answer, close the connection."""
        if self.collector.done.is_set() or self.cancelled.is_set():
            return
        self.cancelled.set()
        self.collector.interrupted = True
        try:
            self.provider.abort()
        finally:
            self.collector.end()

    def start(self) -> None:
        self._render(self.renderer.start, self.request, self.stop)
        self.worker.start()

    def update(self) -> None:
        """Refresh the live view (skipped once the renderer failed)."""
        if self.render_error is None:
            self._render(lambda: self.renderer.update(self.collector.snapshot()))

    def finish(self) -> Result:
        """The Result, shown: never raises, whatever the provider or the renderer did."""
        self.worker.join(timeout=1.0)
        try:
            result = finalize(self.collector.snapshot(), self.request)
        except Exception as exc:  # a bug: still a Result, with what is known
            result = self._bare_result(exc)
        if result.error is None and self.render_error is not None:
            result.error = self.render_error
        if not self._render(self.renderer.finish, result):
            result.error = result.error or self.render_error
            _show_plain(result)
        return result

    def _render(self, call: Callable[..., Any], *args: Any) -> bool:
        """Call the renderer; a failure is recorded (the first one), not raised."""
        try:
            call(*args)
            return True
        except Exception as exc:
            if self.render_error is None:
                self.render_error = ServiceError(
                    "internal", f"the display failed: {type(exc).__name__}: {exc}"
                )
                self.render_error.context["traceback"] = _format_traceback(exc)
                self.render_error = redact_fields(self.render_error)
            return False

    def _bare_result(self, exc: Exception) -> Result:
        req, collector = self.request, self.collector
        error = collector.error or ServiceError("internal", f"{type(exc).__name__}: {exc}")
        error.context.setdefault("traceback", _format_traceback(exc))
        text = redact("".join(p for p in collector.text_parts if isinstance(p, str)))
        return Result(text=text, model=req.model, api=req.api, region=req.region,
                      interrupted=collector.interrupted, error=redact_fields(error),
                      messages=collector.messages, format=req.format)  # fmt: skip


def execute(request: Request, renderer: Renderer, interval: float = 0.1) -> Result:
    """Run synchronously; Ctrl-C / the kernel's interrupt stops the answer and keeps it."""
    run = Run(request, renderer)
    run.start()
    try:
        while not run.collector.done.wait(interval):
            run.update()
    except KeyboardInterrupt:
        run.stop()
    return _finish(run)


async def execute_async(request: Request, renderer: Renderer, interval: float = 0.1) -> Result:
    """Run as a coroutine on the kernel's loop, so widget clicks (Stop) arrive mid-answer.

    The kernel's interrupt cancels this task: we catch that, stop the stream and keep the
    partial answer, so the cell ends normally.
    """
    loop = asyncio.get_running_loop()
    wake = asyncio.Event()
    run = Run(request, renderer)
    run.on_done = lambda: loop.call_soon_threadsafe(wake.set)
    # ipykernel 7 schedules the interrupt's cancellation with a plain call_soon, which does not
    # wake a loop idling in select(): a short heartbeat keeps interrupts prompt.
    heartbeat: asyncio.TimerHandle | None = None

    def beat() -> None:
        nonlocal heartbeat
        heartbeat = loop.call_later(0.05, beat)

    beat()
    run.start()
    try:
        while not run.collector.done.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=interval)
            if not run.collector.done.is_set():
                run.update()
    except (KeyboardInterrupt, asyncio.CancelledError):
        task = asyncio.current_task()
        if task is not None and hasattr(task, "uncancel"):
            task.uncancel()
        run.stop()
    finally:
        if heartbeat is not None:
            heartbeat.cancel()
    return _finish(run)


def _finish(run: Run) -> Result:
    """``run.finish()``; a second interrupt while it closes the view does not lose the Result."""
    try:
        return run.finish()
    except KeyboardInterrupt:
        run.stop()
        return run.finish()


def _show_plain(result: Result) -> None:
    """The last resort when the renderer failed: the answer and the error as plain text."""
    with contextlib.suppress(Exception):
        from IPython.display import publish_display_data

        lines = [result.text] if result.text else []
        if result.interrupted:
            lines.append("[stopped]")
        if result.error is not None:
            lines.append(f"[error] {result.error.summary()}")
        publish_display_data({"text/plain": "\n\n".join(lines) or "[no answer]"})


class _Unavailable:
    """Stands in for a provider that could not be made: its events raise the error."""

    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def events(self) -> Any:
        raise self.exc

    def abort(self) -> None:
        pass


def _format_traceback(exc: BaseException) -> str:
    import traceback

    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
