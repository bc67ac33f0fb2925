"""The local job store: what a later kernel needs to find a Batch job again. Never the key.

One SQLite file under the user's data directory (``$QWEN_MAGIC_DATA_DIR`` overrides it; else
platformdirs' user data directory, else ``$XDG_DATA_HOME/qwen-magic`` or
``~/.local/share/qwen-magic``). SQLite because two kernels may write at once.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from qwen_magic.errors import QwenUsageError

APP = "qwen-magic"
FILENAME = "jobs.sqlite3"
ENV = "QWEN_MAGIC_DATA_DIR"
INPUTS_LIMIT = 20_000_000  # items and prompts kept for to_pandas() after a restart, up to this

SCHEMA = """
create table if not exists jobs (
    id text primary key,
    created real not null,
    record text not null
)
"""


@dataclass
class Part:
    """One provider batch of a job: its ids and the input positions it holds (as ranges)."""

    batch_id: str
    input_file_id: str
    model: str
    ranges: list[list[int]]  # [[start, stop), ...]
    status: str = "validating"
    counts: dict[str, int] = field(default_factory=dict)
    output_file_id: str | None = None
    error_file_id: str | None = None
    note: str | None = None  # why the service failed it (its validation errors)

    def positions(self) -> Iterator[int]:
        for start, stop in self.ranges:
            yield from range(start, stop)


@dataclass
class JobRecord:
    """A submitted job as the store keeps it: ids, where it went, what it holds. No key:
    ``key_env`` names where the key is read from (None: the emulator or a keyless server)."""

    id: str
    created: float
    model: str
    base_url: str
    region: str | None
    key_env: str | None
    count: int
    window: str
    dry_run: bool = False
    notebook: str | None = None
    cell: str | None = None
    parts: list[Part] = field(default_factory=list)
    items: list[Any] | None = None
    prompts: list[str] | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, default=str)

    @classmethod
    def from_json(cls, text: str) -> JobRecord:
        data = json.loads(text)
        data["parts"] = [Part(**part) for part in data.get("parts") or []]
        return cls(**data)


def ranges_of(positions: list[int]) -> list[list[int]]:
    """Sorted positions as [start, stop) ranges (a split job's parts stay small)."""
    ranges: list[list[int]] = []
    for position in positions:
        if ranges and ranges[-1][1] == position:
            ranges[-1][1] = position + 1
        else:
            ranges.append([position, position + 1])
    return ranges


def data_dir() -> Path:
    override = os.environ.get(ENV)
    if override:
        return Path(override).expanduser()
    try:
        import platformdirs

        return Path(platformdirs.user_data_dir(APP, appauthor=False))
    except ImportError:
        base = os.environ.get("XDG_DATA_HOME") or os.path.join("~", ".local", "share")
        return Path(base).expanduser() / APP


class JobStore:
    """Jobs by id; a provider batch id finds its job too."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path is not None else data_dir() / FILENAME

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            db = sqlite3.connect(self.path, timeout=10)
        except (OSError, sqlite3.Error) as exc:
            raise QwenUsageError(
                f"The Batch job store {self.path} cannot be opened ({exc}). Set "
                f"${ENV} to a writable directory."
            ) from None
        with closing(db), db:
            db.execute(SCHEMA)
            yield db

    def save(self, record: JobRecord) -> None:
        if record.items is not None or record.prompts is not None:
            inputs = json.dumps([record.items, record.prompts], default=str)
            if len(inputs) > INPUTS_LIMIT:
                record.items = record.prompts = None
        with self._db() as db:
            db.execute(
                "insert or replace into jobs (id, created, record) values (?, ?, ?)",
                (record.id, record.created, record.to_json()),
            )

    def get(self, ident: str) -> JobRecord:
        for record in self.all():
            if ident == record.id or any(part.batch_id == ident for part in record.parts):
                return record
        raise QwenUsageError(
            f"No Batch job {ident!r} in the job store ({self.path}). `%qwencmd jobs` lists "
            "the jobs submitted from this machine."
        )

    def all(self) -> list[JobRecord]:
        """Every job, newest first."""
        with self._db() as db:
            rows = db.execute("select record from jobs order by created desc").fetchall()
        return [JobRecord.from_json(row[0]) for row in rows]


def new_id() -> str:
    """A short id the user can type: ``job-`` and the time in base 36 plus 4 random hex."""
    stamp = int(time.time() * 1000)
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while stamp:
        stamp, rest = divmod(stamp, 36)
        text = digits[rest] + text
    return f"job-{text}{os.urandom(2).hex()}"
