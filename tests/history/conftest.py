"""History tests keep the log in tmp_path (``$QWEN_MAGIC_DATA_DIR``), as a new kernel would
find it there too."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from qwen_magic.logbook.store import FILENAME


@pytest.fixture(autouse=True)
def log_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The history file of this test: the default one under ``$QWEN_MAGIC_DATA_DIR``."""
    monkeypatch.setenv("QWEN_MAGIC_DATA_DIR", str(tmp_path))
    return tmp_path / FILENAME


def rows(path: Path) -> list[sqlite3.Row]:
    """The log's rows as SQLite holds them (oldest first), read without qwen_magic."""
    with sqlite3.connect(path) as db:
        db.row_factory = sqlite3.Row
        return db.execute("select * from calls order by id").fetchall()


def age(path: Path, ident: int, days: float) -> None:
    """Make call ``ident`` ``days`` older, as if it was asked then."""
    with sqlite3.connect(path) as db:
        db.execute("update calls set time = time - ? where id = ?", (days * 86400, ident))
