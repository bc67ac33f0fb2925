"""Adaptive concurrency: fewer requests at once while the service answers 429, more again as
requests succeed (additive increase, multiplicative decrease, as TCP does).

The runner starts ``concurrency`` workers; each asks the ``Pacer`` for a slot before a run
(``enter``) and gives it back after (``leave``). A 429 seen by a run (a retry notice, or the
run's final error) halves the limit, at most once per wave of requests: the 429s of requests
sent before the cut say nothing new. Each ``limit`` successes in a row of requests sent after
the last cut let one more run.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from qwen_magic.events import ReasoningDelta, Retrying, TextDelta

_DELTAS = (TextDelta, ReasoningDelta)


def is_throttled(event: object) -> bool:
    """Whether an event says the service refused for rate: a 429 as the run's final failure
    (``Failed``), or as the reason of a retry (``Retrying``: "rate limited (429)")."""
    if isinstance(event, Retrying):
        return "429" in event.reason
    error = getattr(event, "error", None)
    return getattr(error, "status", None) == 429


class Pacer:
    """How many runs may be in flight now, between 1 and ``ceiling``; thread-safe."""

    def __init__(self, ceiling: int) -> None:
        self.ceiling = max(1, int(ceiling))
        self.limit = self.ceiling
        self.in_flight = 0
        self.throttled = 0  # 429s seen
        self.history: list[int] = [self.limit]  # every level it took, in order
        self._started = 0  # runs admitted so far (a run's ticket)
        self._cut_ticket = -1  # runs admitted before the last cut do not cut again
        self._streak = 0
        self._closed = False
        self._cond = threading.Condition()
        self._worker = threading.local()  # the ticket of the run this worker thread runs

    # -- the runner's workers ----------------------------------------------------------------
    def enter(self) -> bool:
        """Wait for a slot; False when the pacer was closed (Stop) meanwhile."""
        with self._cond:
            while not self._closed and self.in_flight >= self.limit:
                self._cond.wait()
            if self._closed:
                return False
            self.in_flight += 1
            self._started += 1
            self._worker.ticket = self._started
            return True

    def leave(self, collector: Any) -> None:
        """A run ended (``collector`` None: the worker took a slot but found no work)."""
        with self._cond:
            self.in_flight = max(0, self.in_flight - 1)
            ticket = getattr(self._worker, "ticket", 0)
            if collector is not None and ticket > self._cut_ticket:  # sent after the last cut
                error = getattr(collector, "error", None)
                if error is None and not getattr(collector, "interrupted", False):
                    self._streak += 1
                    if self._streak >= self.limit and self.limit < self.ceiling:
                        self._set(self.limit + 1)
                elif getattr(error, "status", None) != 429:
                    self._streak = 0
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    # -- what the runs see -------------------------------------------------------------------
    def throttle(self, ticket: int) -> None:
        """A 429 for the run admitted as ``ticket``: halve, once per wave."""
        with self._cond:
            self.throttled += 1
            self._streak = 0
            if ticket > self._cut_ticket:
                self._cut_ticket = self._started
                self._set(max(1, self.limit // 2))

    def ticket(self) -> int:
        """The admission number of the run on this worker thread."""
        return int(getattr(self._worker, "ticket", self._started))

    def watch(self, provider: Any) -> Any:
        """``provider`` whose events the pacer reads on their way to the runner."""
        return _Watched(provider, self)

    def _set(self, limit: int) -> None:
        self.limit = limit
        self._streak = 0
        self.history.append(limit)
        self._cond.notify_all()


class _Watched:
    """A provider seen through the pacer: same ``prepare`` / ``events`` / ``abort``."""

    def __init__(self, provider: Any, pacer: Pacer) -> None:
        self._provider = provider
        self._pacer = pacer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._provider, name)

    def events(self) -> Iterator[Any]:
        ticket = self._pacer.ticket()
        events = self._provider.events()
        try:
            for event in events:
                if not isinstance(event, _DELTAS) and is_throttled(event):
                    self._pacer.throttle(ticket)
                yield event
        finally:
            close = getattr(events, "close", None)
            if close is not None:
                close()

    def abort(self) -> None:
        self._provider.abort()
