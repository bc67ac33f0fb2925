"""``%qwencmd jobs``, ``%qwencmd job ID``, ``%qwencmd job cancel ID``: the job store seen
from any kernel (``magics`` gives the configuration: where the key is read from)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from qwen_magic.batch.job import BatchJob
from qwen_magic.batch.store import JobStore
from qwen_magic.errors import QwenUsageError
from qwen_magic.render.tables import Table


def jobs_table(magics: Any, rest: list[str]) -> Table:
    """Every job of this machine, newest first; unfinished ones are asked for their status."""
    if rest:
        raise QwenUsageError("Use `%qwencmd jobs` (no arguments); `%qwencmd job ID` for one.")
    store = JobStore()
    rows = [["id", "created", "status", "done / total (failed)", "model", "batches"]]
    for record in store.all():
        job = BatchJob(record, store, defaults=magics)
        note = ""
        if not job.done:
            try:
                job.status()
            except QwenUsageError:
                note = " (last seen)"
        status = job.snapshot()
        created = datetime.fromtimestamp(record.created).strftime("%Y-%m-%d %H:%M")
        counts = f"{status.finished} / {status.total}" + (
            f" ({status.failed})" if status.failed else ""
        )
        rows.append(
            [
                record.id,
                created,
                status.status + note + (" · dry run" if record.dry_run else ""),
                counts,
                record.model,
                str(len(record.parts)),
            ]
        )
    return Table(rows, f"Batch jobs ({store.path})")


def job_command(magics: Any, rest: list[str]) -> Any:
    """``job ID`` shows the job (its live status where widgets are); ``job cancel ID``."""
    if len(rest) == 2 and rest[0] == "cancel":
        job = BatchJob.find(rest[1], defaults=magics)
        status = job.cancel()
        print(
            f"Asked the service to cancel {job.id}: {status.line()}. Answers already made "
            "stay: `.results()` has them once it says cancelled."
        )
        return None
    if len(rest) != 1:
        raise QwenUsageError("Use `%qwencmd job ID` (its status) or `%qwencmd job cancel ID`.")
    job = BatchJob.find(rest[0], defaults=magics)
    job.status()
    return job
