"""Batch tests keep their job store in tmp_path, and move an emulated job's clock forward
instead of waiting for it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def job_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the job store lives for this test (``$QWEN_MAGIC_DATA_DIR``)."""
    monkeypatch.setenv("QWEN_MAGIC_DATA_DIR", str(tmp_path))
    return tmp_path / "jobs.sqlite3"


def age(emulator: Any, job: Any, seconds: float) -> None:
    """Make each of ``job``'s provider batches ``seconds`` older on the emulator."""
    for batch_id in job.batch_ids:
        emulator.batches.jobs[batch_id].started -= seconds
