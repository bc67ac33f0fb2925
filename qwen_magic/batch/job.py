"""``BatchJob``: a provider Batch job (maybe several provider batches) seen from a notebook.

Nothing is polled in the background unless a live view of the job is on screen; ``.wait()``
polls politely (every few seconds at most, backing off to a minute), ``.status()`` once.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from qwen_magic import masking
from qwen_magic.batch.store import JobRecord, JobStore, Part
from qwen_magic.errors import QwenUsageError
from qwen_magic.results import Results

TERMINAL = ("completed", "failed", "expired", "cancelled")
ACTIVE_ORDER = ("validating", "in_progress", "finalizing")
MIN_POLL = 1.0  # seconds: never ask more often than this
DEFAULT_POLL = 5.0
MAX_POLL = 60.0
TIMEOUT = 60.0


@dataclass
class JobStatus:
    """Where a job stands: one status for all its parts and the summed request counts."""

    status: str
    total: int
    completed: int
    failed: int
    parts: list[str]

    @property
    def done(self) -> bool:
        return all(status in TERMINAL for status in self.parts)

    @property
    def finished(self) -> int:
        return self.completed + self.failed

    def line(self) -> str:
        counts = f"{self.finished}/{self.total} done"
        if self.failed:
            counts += f", {self.failed} failed"
        split = ""
        if len(self.parts) > 1:
            split = f" ({len(self.parts)} batches: {', '.join(self.parts)})"
        return f"{self.status} · {counts}{split}"


def combined(statuses: list[str]) -> str:
    """One word for several batches: the least advanced active one while any runs, else the
    outcome (completed only when all completed)."""
    if "cancelling" in statuses:
        return "cancelling"
    active = [s for s in statuses if s in ACTIVE_ORDER]
    if active:
        return min(active, key=ACTIVE_ORDER.index)
    for outcome in ("failed", "expired", "cancelled"):
        if outcome in statuses:
            return outcome if len(set(statuses)) == 1 else f"partly {outcome}"
    return "completed"


class BatchJob:
    """A submitted Batch job. ``.status()``, ``.wait()``, ``.cancel()``, ``.results()``.

    ``qwen_magic.job(ID)`` gets one back from the local job store in any later kernel.
    """

    def __init__(
        self,
        record: JobRecord,
        store: JobStore,
        *,
        defaults: Any = None,
        api_key: str | None = None,
        items: list[Any] | None = None,
        prompts: list[str] | None = None,
    ) -> None:
        self.record = record
        self._store = store
        self._defaults = defaults
        self._key = api_key  # in memory only; never stored, never shown
        self._items = items if items is not None else record.items
        self._prompts = prompts if prompts is not None else record.prompts
        self._lock = threading.Lock()
        self._views: list[Any] = []
        self._poller: threading.Thread | None = None

    # -- identity ---------------------------------------------------------------------------
    @property
    def id(self) -> str:
        return self.record.id

    @property
    def batch_ids(self) -> list[str]:
        return [part.batch_id for part in self.record.parts]

    def snapshot(self) -> JobStatus:
        """The last status seen (no request)."""
        parts = self.record.parts
        statuses = [part.status for part in parts]
        return JobStatus(
            status=combined(statuses),
            total=sum(p.counts.get("total", 0) for p in parts) or self.record.count,
            completed=sum(p.counts.get("completed", 0) for p in parts),
            failed=sum(p.counts.get("failed", 0) for p in parts),
            parts=statuses,
        )

    @property
    def done(self) -> bool:
        return self.snapshot().done

    # -- talking to the service --------------------------------------------------------------
    def _client(self) -> Any:
        from qwen_magic.batch.access import key_for
        from qwen_magic.providers.openai_common import openai_client

        if self._key is None:
            self._key = key_for(self.record, self._defaults)
        return openai_client(self.record.base_url, self._key, TIMEOUT, 2)

    def _call(self, what: str, fn: Any, *args: Any) -> Any:
        from qwen_magic.providers.openai_common import from_openai_error

        try:
            return fn(*args)
        except QwenUsageError:
            raise
        except Exception as exc:
            from qwen_magic.render.safe import plain_text

            error = masking.redact_fields(from_openai_error(exc))
            raise QwenUsageError(  # the server's words: no escape sequence reaches a terminal
                f"Could not {what} for Batch job {self.id} at {self.record.base_url}: "
                f"{plain_text(error.summary())}"
            ) from None

    def status(self) -> JobStatus:
        """Ask the service where each unfinished batch stands (one request per batch)."""
        with self._lock:
            client = self._client()
            for part in self.record.parts:
                if part.status not in TERMINAL:
                    batch = self._call("read the status", client.batches.retrieve, part.batch_id)
                    update_part(part, batch)
            self._store.save(self.record)
            status = self.snapshot()
        self._refresh_views(status)
        return status

    def wait(self, poll: float | None = None, timeout: float | None = None) -> BatchJob:
        """Block until every batch has ended (or ``timeout`` seconds passed), polling every
        ``poll`` seconds (at least 1; default 5, backing off to a minute). Returns the job, so
        ``job.wait().results()`` reads well."""
        interval = max(MIN_POLL, DEFAULT_POLL if poll is None else float(poll))
        end = None if timeout is None else time.monotonic() + timeout
        self._show_waiting()
        failures = 0
        while True:
            try:
                status = self.status()
                failures = 0
            except QwenUsageError:
                failures += 1
                if failures >= 3:
                    raise
                status = self.snapshot()
            if status.done:
                return self
            pause = interval if end is None else min(interval, end - time.monotonic())
            if pause <= 0:
                return self
            time.sleep(pause)
            if poll is None:
                interval = min(MAX_POLL, interval * 1.5)

    def cancel(self) -> JobStatus:
        """Ask the service to cancel every unfinished batch (answers already made are kept:
        ``.results()`` has them once the job says cancelled)."""
        with self._lock:
            client = self._client()
            for part in self.record.parts:
                if part.status not in TERMINAL and part.status != "cancelling":
                    batch = self._call("cancel", client.batches.cancel, part.batch_id)
                    update_part(part, batch)
            self._store.save(self.record)
        return self.status()

    def results(self) -> Results:
        """The answers in input order (a failed item carries its error); the job must have
        ended: ``.wait()`` first."""
        from qwen_magic.batch.outcome import Assembler

        status = self.snapshot() if self.done else self.status()
        if not status.done:
            raise QwenUsageError(
                f"Batch job {self.id} is {status.line()}: its results come when it ends. "
                "Call `.wait()` first (or check again later with `.status()`)."
            )
        client = self._client()
        assembler = Assembler(
            self.record.count,
            model=self.record.model,
            region=self.record.region,
            base_url=self.record.base_url,
        )
        for part in self.record.parts:
            for file_id in (part.output_file_id, part.error_file_id):
                if file_id:
                    content = self._call("download results", client.files.content, file_id)
                    assembler.add(content.text)
            if part.status != "completed":
                assembler.missing(part.positions(), _not_run(part))
        results = assembler.results(self._items, self._prompts)
        _price(results, self.record, self._defaults)
        return results

    # -- views --------------------------------------------------------------------------------
    def __repr__(self) -> str:
        return f"<BatchJob {self.id} {self.record.model}: {self.snapshot().line()}>"

    def _repr_markdown_(self) -> str:
        from qwen_magic.batch.view import job_markdown

        return job_markdown(self)

    def _ipython_display_(self) -> None:
        from qwen_magic.batch.view import display_job

        display_job(self, self._defaults)

    def _attach(self, view: Any) -> None:
        self._views.append(view)

    def _refresh_views(self, status: JobStatus) -> None:
        for view in list(self._views):
            view.update(status)
            if view.closed:
                self._views.remove(view)

    def _show_waiting(self) -> None:
        for view in self._views:
            view.waiting()

    def _poll_while_shown(self) -> None:
        """While a live view is open and the job runs: poll politely (a daemon thread)."""
        if self._poller is not None and self._poller.is_alive():
            return

        def loop() -> None:
            interval, failures = DEFAULT_POLL, 0
            while any(not v.closed for v in self._views) and not self.done and failures < 3:
                time.sleep(interval)
                try:
                    self.status()
                    failures = 0
                except Exception:  # noqa: BLE001 - the next poll (or .wait()) shows it
                    failures += 1
                interval = min(MAX_POLL, interval * 1.5)

        self._poller = threading.Thread(target=loop, name=f"qwen-job-{self.id}", daemon=True)
        self._poller.start()

    @classmethod
    def find(cls, ident: str, defaults: Any = None, store: JobStore | None = None) -> BatchJob:
        store = store or JobStore()
        return cls(store.get(ident), store, defaults=defaults)


def _price(results: Results, record: JobRecord, defaults: Any) -> None:
    """Each answer's cost at the Batch API's half price (the test model: nothing)."""
    from qwen_magic.pricing import cost_of, pricing_for

    configured = getattr(defaults, "region", None) or "sg"
    pricing = pricing_for(defaults, configured, record.region)
    for result in results:
        model = "batch-test-model" if record.dry_run else result.model
        result.cost = cost_of(result.usage, model, pricing, batch=True)


def update_part(part: Part, batch: Any) -> None:
    part.status = str(batch.status)
    counts = batch.request_counts
    if counts is not None:
        part.counts = {
            "total": int(counts.total or 0),
            "completed": int(counts.completed or 0),
            "failed": int(counts.failed or 0),
        }
    part.output_file_id = batch.output_file_id or part.output_file_id
    part.error_file_id = batch.error_file_id or part.error_file_id
    errors = getattr(getattr(batch, "errors", None), "data", None) or []
    if errors:
        from qwen_magic.render.safe import plain_text

        notes = (masking.redact(str(e.message or e.code)) for e in errors[:3])
        part.note = plain_text("; ".join(notes))  # the server's words, shown in terminals too


def _not_run(part: Part) -> str:
    reason = {
        "cancelled": "the job was cancelled before this request ran",
        "expired": "the job expired (its completion window ended) before this request ran",
        "failed": "the job failed before any request ran",
    }.get(part.status, f"the job ended ({part.status}) before this request ran")
    return f"{reason}: {part.note}" if part.note else reason
