"""Provider Batch jobs: many requests run by the service itself, at half the price, for
hours, while the notebook is closed (docs/wire.md §11).

``submit(requests, items, prompts, window=, dry_run=, meta=)`` → ``BatchJob`` (what
``%%qwen --each NAME --batch`` and ``ask_many(..., batch=True)`` call);
``BatchJob.find(ID)`` / ``qwen_magic.job(ID)`` get a job back from the local job store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qwen_magic.batch.job import BatchJob

__all__ = ["BatchJob", "submit", "submit_each"]


def submit(*args: Any, **kwargs: Any) -> BatchJob:
    from qwen_magic.batch.submit import submit as _submit

    return _submit(*args, **kwargs)


def submit_each(magics: Any, call: Any) -> BatchJob:
    from qwen_magic.batch.submit import submit_each as _submit_each

    return _submit_each(magics, call)


def __getattr__(name: str) -> Any:
    if name == "BatchJob":
        from qwen_magic.batch.job import BatchJob

        return BatchJob
    raise AttributeError(f"module 'qwen_magic.batch' has no attribute {name!r}")
