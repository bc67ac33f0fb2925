"""Retries before the first token, decided here for every API (the SDKs' own are off).

A call is retried only while nothing of it has reached the user (its first event is the
failure), only for failures worth a retry (429, 408, 409, 5xx, a lost connection), never
once the user stopped it, a read timeout at most once, and never past the call's deadline
(``Request.deadline``: the longest wait for the answer to begin, all attempts and the pauses
between them included). The final error says how long the call waited and how many requests
it sent.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Generator

from qwen_magic.errors import ServiceError
from qwen_magic.events import Event, Failed, ReasoningDelta, Retrying, TextDelta
from qwen_magic.providers.guard import ReadGuard
from qwen_magic.request import Request

MAX_RETRY_AFTER = 60.0  # a longer Retry-After: give up now rather than hold the cell


def retry_delay(error: ServiceError, retry: int) -> float | None:
    """Seconds to wait before retry number ``retry`` (0-based), or None: not worth a retry.

    As the openai SDK does: ``Retry-After`` when the server gives one (up to 60 s), else
    ``0.5·2^retry`` capped at 8 s, less up to a quarter of it.
    """
    retryable = error.kind in ("connection", "timeout") or (
        error.kind in ("http", "proxy")
        and error.status is not None
        and (error.status in (408, 409, 429) or error.status >= 500)
    )
    if not retryable:
        return None
    hinted = error.context.get("retry_after")
    if hinted:
        try:
            seconds = float(hinted)
        except ValueError:
            seconds = -1.0
        if seconds > MAX_RETRY_AFTER:
            return None
        if seconds >= 0:
            return seconds
    return min(0.5 * 2**retry, 8.0) * (1 - 0.25 * random.random())


def retry_reason(error: ServiceError | None) -> str:
    """Why a call is sent again, in a few words: "rate limited (429)"."""
    if error is None:
        return "failed"
    status = error.status
    if error.kind == "connection":
        return "could not connect"
    if error.kind == "timeout":
        return "no answer in time"
    if status == 429:
        return "rate limited (429)"
    if error.kind == "proxy":
        return f"a proxy failed ({status})"
    if status is not None and status >= 500:
        return f"the service failed ({status})"
    return f"HTTP {status}" if status else "failed"


class Attempts:
    """The retry state of one call: requests sent, time spent, whether it was stopped."""

    def __init__(
        self,
        request: Request,
        stopped: threading.Event | None = None,
        guard: ReadGuard | None = None,
    ) -> None:
        self.request = request
        self.stopped = stopped or threading.Event()
        self.guard = guard
        self.started_at = time.monotonic()
        self.count = 0
        self.timeouts = 0

    # -- before each attempt --------------------------------------------------------------
    def begin(self) -> float:
        """Count one more request; the read timeout it gets (shortened near the deadline)."""
        self.count += 1
        guard = self.guard
        if guard is not None:
            guard.begin(streaming=self.request.stream)
            if self.request.deadline is not None:
                guard.first_token_by = self.started_at + self.request.deadline
        left = self.left()
        timeout = self.request.timeout
        return timeout if left is None else max(0.001, min(timeout, left))

    def left(self) -> float | None:
        deadline = self.request.deadline
        if deadline is None:
            return None
        return deadline - (time.monotonic() - self.started_at)

    def answer_began(self) -> None:
        """The first token arrived: the deadline no longer applies."""
        if self.guard is not None:
            self.guard.first_token_by = None

    # -- after a failure before the first token ---------------------------------------------
    def delay(self, error: ServiceError) -> float | None:
        """Seconds before the next attempt, or None: report ``error`` now."""
        if self.stopped.is_set() or self.count > self.request.max_retries:
            return None
        if error.kind == "timeout":
            self.timeouts += 1
            if self.timeouts > 1:
                return None  # a read timeout is retried once at most
        seconds = retry_delay(error, self.count - 1)
        left = self.left()
        if seconds is None or (left is not None and seconds >= left):
            return None
        return seconds

    def conclude(self, error: ServiceError, *, answered: bool) -> ServiceError:
        """Say how long the call waited and how many requests it sent (``answered``: some
        of the answer arrived before the failure)."""
        waited = time.monotonic() - self.started_at
        error.attempts, error.waited = self.count, waited
        tries = f"{self.count} attempt{'s' if self.count > 1 else ''}"
        if error.kind == "timeout" and error.message.startswith("no answer before"):
            timeout = self.request.timeout
            left = self.left()
            if answered:
                error.message = f"nothing more arrived for {timeout:g} s"
            elif left is not None and left <= 0.05:
                deadline = self.request.deadline
                error.message = (
                    f"no answer after {waited:.0f} s: the call's deadline ({deadline:g} s) "
                    f"passed ({tries})"
                )
            else:
                error.message = (
                    f"no answer after {waited:.0f} s ({tries}, each waiting up to {timeout:g} s)"
                )
        elif self.count > 1:
            error.message = f"{error.message} (after {tries} over {waited:.0f} s)"
        return error


def retrying(
    attempt: Callable[[Attempts], Generator[Event, None, None]], attempts: Attempts
) -> Generator[Event, None, None]:
    """Run ``attempt`` until it succeeds or its failure is not worth another try."""
    while True:
        events = attempt(attempts)
        failure: ServiceError | None = None
        delay = None
        first = True
        answering = False
        try:
            for event in events:
                if isinstance(event, Failed):
                    if first:
                        failure = event.error
                        delay = attempts.delay(failure)
                        if delay is not None:
                            break
                    attempts.conclude(event.error, answered=answering)
                elif not answering and isinstance(event, TextDelta | ReasoningDelta):
                    answering = True
                    attempts.answer_began()
                first = False
                yield event
        finally:
            events.close()
        if delay is None:
            return
        total = attempts.request.max_retries + 1
        yield Retrying(attempts.count + 1, total, delay, retry_reason(failure))
        if attempts.stopped.wait(delay):
            return
