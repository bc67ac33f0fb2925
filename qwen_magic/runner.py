"""Run N Requests on one clock: a bounded pool of worker threads drains the providers, the
caller's thread renders.

The SDK streams are read in worker threads so that reading never waits for the UI, and the UI
refreshes on one clock (``update_interval``) for all runs, not per chunk: the cost of showing
answers grows with time, not with the number of chunks or runs. Widgets are only touched from
the calling thread. One Stop (the view's ``on_stop``, Ctrl-C, the kernel's interrupt) ends every
run at once and keeps what arrived. A single ``%%qwen`` is the N=1 case of the same code.

Threads, not asyncio, for fan-out: the SDK streams are blocking iterators, and a pool of
``concurrency`` daemon threads (not ``concurrent.futures``, whose workers are joined at exit:
one stuck in a read would hang the kernel's shutdown) keeps one code path for both callers,
the plain loop and the kernel's coroutine.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from qwen_magic.errors import ServiceError, hint_for
from qwen_magic.events import (
    AudioDelta,
    Failed,
    Finished,
    ReasoningDelta,
    Retrying,
    Sources,
    Started,
    TextDelta,
    TokenLogprobs,
    TokenProb,
    ToolCall,
    Usage,
)
from qwen_magic.masking import hold_back, redact, redact_fields, redact_object
from qwen_magic.media import elide
from qwen_magic.messages import chat_messages
from qwen_magic.providers import Provider, make_provider
from qwen_magic.render import Renderer
from qwen_magic.request import Request
from qwen_magic.result import Result, Step, finalize
from qwen_magic.tokenprobs import redact_tokens


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
        self.retrying: Retrying | None = None  # the last retry announced, and when
        self.retrying_at = 0.0
        self.steps: list[Step] = []  # the tool calls asked for (the tool loop runs them)
        self.sources: list[Any] = []  # --search: the pages the answer cites
        self.speech: list[bytes] = []  # --voice: the PCM pieces, in order
        self.transcript: list[str] = []
        self._audio: Any = None  # the Audio of the pieces so far (built when they grew)
        self.logprobs: list[TokenProb] = []  # --logprobs: the answer's tokens
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
        elif kind is Retrying:
            self.retrying, self.retrying_at = event, self.clock()  # type: ignore[assignment]
        elif kind is ToolCall:
            call: ToolCall = event  # type: ignore[assignment]
            self.steps.append(Step("tool", call.name, call.arguments, call_id=call.id,
                                   status="asked"))  # fmt: skip
        elif kind is Sources:
            self.sources = list(event.items)  # type: ignore[attr-defined]
        elif kind is AudioDelta:
            if self.first_token_at is None:
                self.first_token_at = self.clock()
            self.speech.append(event.pcm)  # type: ignore[attr-defined]
            if event.transcript:  # type: ignore[attr-defined]
                self.transcript.append(event.transcript)  # type: ignore[attr-defined]
        elif kind is TokenLogprobs:
            self.logprobs.extend(event.items)  # type: ignore[attr-defined]
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
        # A whole (non-streamed) answer has no first token, no thinking time and no stream
        # rate of its own: showing them would divide by almost nothing.
        streamed = req.stream
        retry = self.retrying
        if retry is not None and (
            self.ended_at is not None or self.first_token_at is not None or self.error is not None
        ):
            retry = None  # the answer began, or the call ended: nothing to wait for
        elif retry is not None:
            left = max(0.0, retry.wait - (now - self.retrying_at))
            retry = Retrying(retry.attempt, retry.attempts, left, retry.reason)
        return Result(
            text=self._shown(self.text_parts),
            reasoning=reasoning,
            usage=self.usage,
            model=req.model,
            api=req.api,
            region=req.region,
            request_id=redact(self.request_id),
            finish_reason=redact(self.finish_reason),
            ttft=(
                self.first_token_at - self.started_at
                if streamed and self.first_token_at is not None
                else None
            ),
            elapsed=now - self.started_at,
            reasoning_time=(
                thought_until - self.first_token_at
                if streamed and reasoning and self.first_token_at is not None
                else None
            ),
            interrupted=self.interrupted,
            error=redact_fields(self.error),  # also an internal error's text
            raw=self.raw,
            messages=self.messages,
            format=req.format,
            media=req.media,
            attachments=req.attachments,
            logprobs=None if req.logprobs is None else redact_tokens(list(self.logprobs)),
            retry=retry,
            steps=list(self.steps),
            sources=list(self.sources),
            audio=self._spoken(),
            cost=_cost(req, self.usage, reasoning),
            samples=(req.sample, req.samples) if req.samples > 1 else None,
        )

    def _spoken(self) -> Any:
        """``Result.audio``: the speech so far (None without any); rebuilt only when a piece
        arrived since the last snapshot."""
        if not self.speech:
            return None
        count = len(self.speech)
        if self._audio is None or self._audio[0] != count:
            from qwen_magic.audio import Audio

            pcm = b"".join(self.speech[:count])
            self._audio = (count, Audio(pcm, transcript=redact("".join(self.transcript))))
        return self._audio[1]


class Run:
    """One request: its provider, its collector, and how to stop it (from any thread)."""

    def __init__(self, request: Request, provider: Provider | None = None) -> None:
        self.request = request
        try:
            self.provider = provider or make_provider(request)
        except Exception as exc:  # a bug: reported by the worker like any other
            self.provider = _Unavailable(exc)
        self.collector = Collector(request)
        self.cancelled = threading.Event()
        self.started = False  # a worker took it (set under the pool's lock)
        self.preparing = False  # its worker loads the SDK / builds the client
        self.pumped = threading.Event()  # its worker is done with it

    def pump(self, waited: bool = True) -> None:
        """Drain the provider into the collector (on a worker thread); never raises.

        ``waited``: the run waited for a worker (a batch past ``concurrency``); its clock
        starts now. Otherwise it keeps the clock it was given: the SDK import and the client
        are the user's wait too (the footer and ``ttft`` count them)."""
        collector = self.collector
        if waited:
            collector.started_at = collector.clock()
        events = None
        try:
            prepare = getattr(self.provider, "prepare", None)
            if prepare is not None:  # import the SDK, build the client
                self.preparing = True
                try:
                    prepare()
                finally:
                    self.preparing = False
            if self.cancelled.is_set():
                return
            events = self.provider.events()
            for event in events:
                if self.cancelled.is_set():
                    break
                collector.apply(event)
        except Exception as exc:  # a bug, not a service error: keep it visible
            if not self.cancelled.is_set():
                collector.error = ServiceError("internal", f"{type(exc).__name__}: {exc}")
                collector.error.context["traceback"] = _format_traceback(exc)
        finally:
            if events is not None:
                with contextlib.suppress(Exception):
                    events.close()  # closes the HTTP stream if we stopped early
            collector.end()
            self.pumped.set()

    def stop(self) -> None:
        """Stop now, from any thread: keep the partial answer, close the connection."""
        if self.collector.done.is_set() or self.cancelled.is_set():
            return
        self.cancelled.set()
        self.collector.interrupted = True
        try:
            if self.started:
                self.provider.abort()
        finally:
            self.collector.end()

    def result(self) -> Result:
        """The finished Result (JSON parsed); never raises."""
        try:
            return finalize(self.collector.snapshot(), self.request)
        except Exception as exc:  # a bug: still a Result, with what is known
            return self._bare_result(exc)

    def _bare_result(self, exc: Exception) -> Result:
        req, collector = self.request, self.collector
        error = collector.error or ServiceError("internal", f"{type(exc).__name__}: {exc}")
        error.context.setdefault("traceback", _format_traceback(exc))
        text = redact("".join(p for p in collector.text_parts if isinstance(p, str)))
        return Result(text=text, model=req.model, api=req.api, region=req.region,
                      interrupted=collector.interrupted, error=redact_fields(error),
                      messages=collector.messages, format=req.format)  # fmt: skip


class Runs:
    """N runs on one clock: a bounded pool drains them; the caller's thread shows them.

    ``view`` sees every run: ``start(requests, stop)`` once, ``update(results, ended)`` at most
    once per tick (``results[i]`` is None while run ``i`` waits for a worker), ``finish(results)``
    once, with every Result in input order.
    """

    # Seconds, all runs together: how long a stop waits for readers to let go (close their
    # streams). A worker still loading the SDK is not waited for: an import cannot be cut
    # short, nothing of the call has gone out yet, and its run ends as soon as it is done.
    JOIN = 0.1

    def __init__(
        self,
        requests: Sequence[Request],
        view: Renderer,
        concurrency: int = 1,
        providers: Sequence[Provider | None] | None = None,
        pacer: Any = None,
        asked_at: float | None = None,
    ) -> None:
        """``asked_at``: when the user asked (``time.perf_counter()``), the clock's origin."""
        self.requests = list(requests)
        given = list(providers) if providers is not None else [None] * len(self.requests)
        self.runs = [Run(r, p) for r, p in zip(self.requests, given, strict=True)]
        if asked_at is not None:
            for run in self.runs:
                run.collector.started_at = asked_at
        self.pacer = pacer  # pacing.Pacer: how many may run now (adapts to 429s)
        if pacer is not None:
            for run in self.runs:
                run.provider = pacer.watch(run.provider)
        self.view = view
        self.concurrency = max(1, int(concurrency))
        self.shown: list[Result | None] = [None] * len(self.runs)
        self.ended = [False] * len(self.runs)
        self._final = [False] * len(self.runs)  # the snapshot shown is the run's last
        self.done = threading.Event()
        self.on_done: Callable[[], None] | None = None  # wakes the caller's loop
        self.render_error: ServiceError | None = None  # the view failed: show plain text
        self._lock = threading.Lock()
        self._waiting: deque[int] = deque(range(len(self.runs)))
        self._left = len(self.runs)
        self._stopped = False
        self._workers: list[threading.Thread] = []
        if not self.runs:
            self.done.set()

    # -- workers ---------------------------------------------------------------------------
    def start(self) -> None:
        self._render(self.view.start, self.requests, self.stop)
        for n in range(min(self.concurrency, len(self.runs))):
            worker = threading.Thread(target=self._work, name=f"qwen-stream-{n}", daemon=True)
            self._workers.append(worker)
            worker.start()

    def _work(self) -> None:
        pacer = self.pacer
        waited = False  # a worker's first run starts at once; the next ones waited for it
        while True:
            if pacer is not None and not pacer.enter():
                return  # stopped while waiting for a slot
            with self._lock:
                if self._stopped or not self._waiting:
                    if pacer is not None:
                        pacer.leave(None)
                    return
                index = self._waiting.popleft()
                run = self.runs[index]
                run.started = True
            run.pump(waited)
            waited = True
            if pacer is not None:
                pacer.leave(run.collector)
            self._end(index)

    def _end(self, index: int) -> None:
        """Count run ``index`` as ended (once, whichever thread ends it first)."""
        with self._lock:
            if self.ended[index]:
                return
            self.ended[index] = True
            self._left -= 1
            last = self._left == 0
        if last:
            self.done.set()
            if self.on_done is not None:
                with contextlib.suppress(RuntimeError):  # the cell's loop already closed
                    self.on_done()

    def stop(self) -> None:
        """One Stop for every run, from any thread: runs in flight keep what arrived, runs
        still waiting never start."""
        with self._lock:
            self._stopped = True
            self._waiting.clear()
        if self.pacer is not None:
            self.pacer.close()  # wakes the workers waiting for a slot
        for index, run in enumerate(self.runs):
            with contextlib.suppress(Exception):  # one provider's abort must not keep the rest
                run.stop()  # (a run still waiting is marked stopped before its first token)
            self._end(index)

    # -- the caller's thread ---------------------------------------------------------------
    def update(self) -> None:
        """One tick: snapshot the runs that changed since the last one and refresh the view."""
        if self.render_error is not None or not self._due():
            return
        for index, run in enumerate(self.runs):
            if self._final[index] or not (run.started or self.ended[index]):
                continue  # its last snapshot is already shown, or it waits for a worker
            self._final[index] = self.ended[index]
            self.shown[index] = run.collector.snapshot()
        self._render(self.view.update, self.shown, list(self.ended))

    def _due(self) -> bool:
        """Whether the view shows this tick (a view without ``due`` shows every one)."""
        due = getattr(self.view, "due", None)
        try:
            return due is None or bool(due())
        except Exception:  # noqa: BLE001 - the view's update reports its own failure
            return True

    def finish(self) -> list[Result]:
        """Every Result in input order, shown: never raises, whatever a provider or the view
        did."""
        deadline = time.monotonic() + self.JOIN
        for run in self.runs:
            if run.started and not run.preparing:
                run.pumped.wait(max(0.0, deadline - time.monotonic()))
        results = [run.result() for run in self.runs]
        if self.render_error is not None:
            for result in results:
                result.error = result.error or self.render_error
        if not self._render(self.view.finish, results):
            for result in results:
                result.error = result.error or self.render_error
                _show_plain(result)
        return results

    def _render(self, call: Callable[..., Any], *args: Any) -> bool:
        """Call the view; a failure is recorded (the first one), not raised."""
        try:
            call(*args)
            return True
        except Exception as exc:
            if self.render_error is None:
                error = ServiceError("internal", f"the display failed: {type(exc).__name__}: {exc}")
                error.context["traceback"] = _format_traceback(exc)
                self.render_error = redact_fields(error)
            return False


def execute_many(
    requests: Sequence[Request],
    view: Renderer,
    interval: float = 0.1,
    concurrency: int = 4,
    pacer: Any = None,
    asked_at: float | None = None,
    providers: Sequence[Provider | None] | None = None,
) -> list[Result]:
    """Run every request, ``concurrency`` at a time, on one refresh clock; the Results in
    input order. Ctrl-C / the kernel's interrupt stops them all and keeps what arrived.
    ``pacer`` (``pacing.Pacer``) lowers how many run at once while the service says 429.
    ``asked_at`` (``time.perf_counter()`` when the user ran the cell): where timings start.
    ``providers``: a provider for some requests (None: made from the request)."""
    runs = Runs(requests, view, concurrency, providers, pacer=pacer, asked_at=asked_at)
    runs.start()
    try:
        while not runs.done.wait(interval):
            runs.update()
    except KeyboardInterrupt:
        runs.stop()
    return _finish(runs)


async def execute_many_async(
    requests: Sequence[Request],
    view: Renderer,
    interval: float = 0.1,
    concurrency: int = 4,
    pacer: Any = None,
    asked_at: float | None = None,
    providers: Sequence[Provider | None] | None = None,
) -> list[Result]:
    """``execute_many`` as a coroutine on the kernel's loop, so widget clicks (Stop) arrive
    mid-answer.

    The kernel's interrupt cancels this task: we catch that, stop every run and keep the
    partial answers, so the cell ends normally.
    """
    loop = asyncio.get_running_loop()
    wake = asyncio.Event()
    runs = Runs(requests, view, concurrency, providers, pacer=pacer, asked_at=asked_at)

    def wake_up() -> None:  # from the worker that ends the last run
        loop.call_soon_threadsafe(wake.set)

    runs.on_done = wake_up
    # ipykernel 7 schedules the interrupt's cancellation with a plain call_soon, which does not
    # wake a loop idling in select(): a short heartbeat keeps interrupts prompt.
    heartbeat: asyncio.TimerHandle | None = None

    def beat() -> None:
        nonlocal heartbeat
        heartbeat = loop.call_later(0.05, beat)

    beat()
    runs.start()
    try:
        while not runs.done.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=interval)
            if not runs.done.is_set():
                runs.update()
    except (KeyboardInterrupt, asyncio.CancelledError):
        task = asyncio.current_task()
        if task is not None and hasattr(task, "uncancel"):
            task.uncancel()
        runs.stop()
    finally:
        if heartbeat is not None:
            heartbeat.cancel()
    return _finish(runs)


def execute(request: Request, renderer: Renderer, interval: float = 0.1) -> Result:
    """One request (``execute_many`` with N=1): Ctrl-C stops the answer and keeps it."""
    return execute_many([request], renderer, interval, concurrency=1)[0]


async def execute_async(request: Request, renderer: Renderer, interval: float = 0.1) -> Result:
    """One request as a coroutine on the kernel's loop (``execute_many_async`` with N=1)."""
    return (await execute_many_async([request], renderer, interval, concurrency=1))[0]


def _finish(runs: Runs) -> list[Result]:
    """``runs.finish()``; a second interrupt while it closes the view does not lose the
    Results."""
    try:
        return runs.finish()
    except KeyboardInterrupt:
        runs.stop()
        return runs.finish()


def _cost(request: Request, usage: Usage, reasoning: str) -> Any:
    """The answer's cost so far (pricing.Cost), or None before any tokens are reported."""
    if request.pricing is None or usage.input_tokens is None and usage.output_tokens is None:
        return None
    from qwen_magic.pricing import cost_of

    return cost_of(usage, request.model, request.pricing,
                   thinking=bool(request.thinking or reasoning))  # fmt: skip


def _show_plain(result: Result) -> None:
    """The last resort when the renderer failed: the answer and the error as plain text."""
    with contextlib.suppress(Exception):
        from IPython.display import publish_display_data

        from qwen_magic.render.safe import plain_text

        lines = [result.text] if result.text else []
        if result.interrupted:
            lines.append("[stopped]")
        if result.error is not None:
            lines.append(f"[error] {result.error.summary()}")
        text = plain_text("\n\n".join(lines))  # model and server text: no escape sequences
        publish_display_data({"text/plain": text or "[no answer]"})


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
