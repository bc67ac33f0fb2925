"""How a Batch job looks: a static Markdown summary (saved notebooks, GitHub, terminals) and,
in a live notebook, a progress bar from ``request_counts`` that the job updates whenever it
polls — on ``.wait()``, ``.status()``, or every few seconds while the bar is on screen. When
the job ends the bar is replaced by the static summary (no widget is left behind)."""

from __future__ import annotations

import html
import uuid
from datetime import datetime
from typing import Any

from qwen_magic.render.safe import plain_markdown

# The job is passed in (``BatchJob`` calls these): typed loosely so this view does not import
# the job back.
BatchJob = Any
JobStatus = Any

STYLES = {"completed": "success", "failed": "danger", "expired": "warning", "cancelled": "warning"}


def job_markdown(job: BatchJob) -> str:
    record = job.record
    status = job.snapshot()
    created = datetime.fromtimestamp(record.created).strftime("%Y-%m-%d %H:%M")
    dry = " · dry run (batch-test-model, free)" if record.dry_run else ""
    lines = [
        f"**Batch job `{plain_markdown(record.id)}`** · {plain_markdown(record.model)} · "
        f"{record.count} requests · window {plain_markdown(record.window)} · "
        f"submitted {created}{dry}",
        "",
        f"status: **{plain_markdown(status.line())}**",
        "",
        "batches: " + ", ".join(f"`{plain_markdown(b)}`" for b in job.batch_ids),
        "",
        "cost: billed at half the real-time price, successful requests only"
        + (" (nothing for the test model)" if record.dry_run else ""),
        "",
        f'later, in any kernel: `qwen_magic.job("{plain_markdown(record.id)}")` · '
        f"`%qwencmd job {plain_markdown(record.id)}` · answers: `.wait().results()`",
    ]
    return "\n".join(lines)


def static_bundle(job: BatchJob) -> dict[str, str]:
    return {"text/markdown": job_markdown(job), "text/plain": repr(job)}


def display_job(job: BatchJob, defaults: Any) -> None:
    from IPython import get_ipython
    from IPython.display import display

    shell = get_ipython()
    mode = getattr(defaults, "display", "live") if defaults is not None else "live"
    terminal = shell is not None and any(
        cls.__name__ == "TerminalInteractiveShell" for cls in type(shell).__mro__
    )
    if mode != "live" or shell is None or terminal or job.done:
        display(static_bundle(job), raw=True)
        return
    view = JobView(job)
    job._attach(view)
    view.show()
    job._poll_while_shown()


class JobView:
    """A progress bar and a status line; replaced by the static summary when the job ends."""

    def __init__(self, job: BatchJob) -> None:
        import ipywidgets as widgets

        self.job = job
        self.display_id = f"qwen-job-{uuid.uuid4().hex}"
        status = job.snapshot()
        self.bar = widgets.IntProgress(value=status.finished, min=0, max=max(1, status.total))
        self.label = widgets.HTML(self._label(status))
        self.box = widgets.HBox([self.bar, self.label])
        self.closed = False

    def _label(self, status: JobStatus, note: str = "") -> str:
        head = f"<b>{html.escape(self.job.id)}</b> · {html.escape(self.job.record.model)}"
        return f"{head} · {html.escape(status.line())}{html.escape(note)}"

    def show(self) -> None:
        from IPython.display import display

        display(self.box, display_id=self.display_id)

    def waiting(self) -> None:
        if not self.closed:
            self.label.value = self._label(self.job.snapshot(), " · waiting…")

    def update(self, status: JobStatus) -> None:
        if self.closed:
            return
        self.bar.max = max(1, status.total)
        self.bar.value = status.finished
        self.bar.bar_style = STYLES.get(status.status, "")
        self.label.value = self._label(status)
        if status.done:
            self.finish()

    def finish(self) -> None:
        from IPython.display import update_display

        self.closed = True
        update_display(static_bundle(self.job), raw=True, display_id=self.display_id)
        self.box.close()
        self.bar.close()
        self.label.close()
