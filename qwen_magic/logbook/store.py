"""The history file: one SQLite database, appended to by every kernel of this user at once.

Why SQLite: several kernels write at the same moment. WAL mode lets readers and one writer
work together; every write is one short ``BEGIN IMMEDIATE`` transaction, and a writer that
finds the file locked waits (``busy_timeout``) instead of failing. The schema carries its
version (``PRAGMA user_version``). Prompt, answer and reasoning are indexed for full-text
search with FTS5's trigram tokenizer (any language, Chinese included: a search word matches
inside words); without it (an SQLite built without FTS5) search falls back to ``LIKE``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from qwen_magic.batch.store import ENV, data_dir
from qwen_magic.errors import QwenUsageError

FILENAME = "history.sqlite3"
SCHEMA_VERSION = 1
BUSY_MS = 10_000  # how long a writer waits for another kernel's transaction

SCHEMA = """
create table if not exists calls (
    id integer primary key autoincrement,
    time real not null,
    kind text not null default 'ask',
    model text not null default '',
    api text not null default '',
    region text,
    prompt text not null default '',
    answer text not null default '',
    reasoning text not null default '',
    system text,
    options text not null default '{}',
    usage text not null default '{}',
    input_tokens integer,
    output_tokens integer,
    cost real,
    cost_detail text,
    elapsed real,
    ttft real,
    finish_reason text,
    request_id text,
    error text,
    interrupted integer not null default 0,
    notebook text,
    cell_id text,
    execution_count integer,
    media text not null default '[]',
    attachments text not null default '[]',
    steps text not null default '[]',
    sources text not null default '[]'
);
create index if not exists calls_time on calls (time);
"""

FTS = """
create virtual table if not exists calls_fts using fts5(
    prompt, answer, reasoning, content='calls', content_rowid='id', tokenize='trigram'
)
"""

TRIGGERS = {
    "calls_fts_insert": """
create trigger calls_fts_insert after insert on calls begin
  insert into calls_fts(rowid, prompt, answer, reasoning)
  values (new.id, new.prompt, new.answer, new.reasoning);
end""",
    "calls_fts_delete": """
create trigger calls_fts_delete after delete on calls begin
  insert into calls_fts(calls_fts, rowid, prompt, answer, reasoning)
  values ('delete', old.id, old.prompt, old.answer, old.reasoning);
end""",
    "calls_fts_update": """
create trigger calls_fts_update after update of prompt, answer, reasoning on calls begin
  insert into calls_fts(calls_fts, rowid, prompt, answer, reasoning)
  values ('delete', old.id, old.prompt, old.answer, old.reasoning);
  insert into calls_fts(rowid, prompt, answer, reasoning)
  values (new.id, new.prompt, new.answer, new.reasoning);
end""",
}

JSON_FIELDS = ("options", "usage", "cost_detail", "media", "attachments", "steps", "sources")
TRIGRAM = 3  # the shortest word the trigram index can find; shorter ones go through LIKE


@dataclass
class Entry:
    """One call as the history keeps it (``qwen_magic.history()`` returns these)."""

    id: int
    time: float  # seconds since the epoch (UTC); ``.when`` is a local datetime
    kind: str  # "ask", "each", "compare", "fix", "tools"
    model: str
    api: str
    region: str | None
    prompt: str
    answer: str
    reasoning: str = ""
    system: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    usage: dict[str, Any] = field(default_factory=dict)
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost: float | None = None  # in the price table's currency; None: unknown
    cost_detail: Any = None  # Result.cost as it was, when it is more than a number
    elapsed: float | None = None
    ttft: float | None = None
    finish_reason: str | None = None
    request_id: str | None = None
    error: str | None = None
    interrupted: bool = False
    notebook: str | None = None
    cell_id: str | None = None
    execution_count: int | None = None
    media: list[dict[str, Any]] = field(default_factory=list)  # names and sizes, no payloads
    attachments: list[dict[str, Any]] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)  # tool rounds, summarized
    sources: list[dict[str, Any]] = field(default_factory=list)

    @property
    def when(self) -> datetime:
        return datetime.fromtimestamp(self.time)

    @property
    def tokens(self) -> int | None:
        if self.input_tokens is None and self.output_tokens is None:
            return None
        return (self.input_tokens or 0) + (self.output_tokens or 0)

    def __repr__(self) -> str:
        when = self.when.strftime("%Y-%m-%d %H:%M")
        prompt, answer = _short(self.prompt), _short(self.answer)
        return f"<Entry {self.id} · {when} · {self.model} · {prompt!r} → {answer!r}>"

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON Lines: the time also as an ISO 8601 string."""
        data = asdict(self)
        data["when"] = self.when.astimezone().isoformat(timespec="seconds")
        return data

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Entry:
        names = {f.name for f in fields(cls)}
        values: dict[str, Any] = {}
        for key in row.keys():  # noqa: SIM118 - sqlite3.Row has keys(), no iteration by key
            if key not in names:  # a column a newer version added
                continue
            value = row[key]
            if key in JSON_FIELDS and isinstance(value, str):
                value = json.loads(value)
            values[key] = value
        values["interrupted"] = bool(values.get("interrupted"))
        return cls(**values)


@dataclass
class Query:
    """What ``%qwencmd log`` and ``qwen_magic.history()`` ask for; every part optional."""

    words: list[str] = field(default_factory=list)
    model: str | None = None
    since: float | None = None  # epoch seconds: this time or later
    before: float | None = None  # epoch seconds: earlier than this
    ids: list[int] | None = None
    limit: int | None = None


# One open connection per file per process (a forked child opens its own), with a lock: the
# kernel's thread and ask() from other threads take turns.
_connections: dict[tuple[int, str], tuple[sqlite3.Connection, threading.Lock]] = {}
_connections_lock = threading.Lock()


def close_all() -> None:
    """Close this process's history connections (``%unload_ext``; the next call reopens)."""
    with _connections_lock:
        for key, (db, lock) in list(_connections.items()):
            if key[0] == os.getpid():
                with lock:
                    db.close()
            del _connections[key]


def default_path() -> Path:
    return data_dir() / FILENAME


class HistoryStore:
    """The history file at ``path`` (default: ``history.sqlite3`` in the data directory)."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path).expanduser() if path else default_path()

    # ------------------------------------------------------------------ connection
    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        """This process's connection to the file, for one operation at a time.

        The connection stays open: closing the last one checkpoints the WAL and syncs the
        disk (about 10 ms), which every call would pay otherwise."""
        key = (os.getpid(), str(self.path))
        with _connections_lock:
            held = _connections.get(key)
            if held is None:
                held = _connections[key] = (self._connect(), threading.Lock())
        db, lock = held
        with lock:
            if not self.path.exists():  # removed while open: start a new file
                db.close()
                db = self._connect()
                _connections[key] = (db, lock)
            yield db

    def _connect(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            if not self.path.exists():  # prompts are private: yours alone (its -wal follows)
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
            db = sqlite3.connect(
                self.path, timeout=BUSY_MS / 1000, isolation_level=None, check_same_thread=False
            )
            db.row_factory = sqlite3.Row
            db.execute(f"pragma busy_timeout = {BUSY_MS}")
            db.execute("pragma synchronous = normal")  # with WAL: durable at checkpoints, fast
            _prepare(db)
        except (OSError, sqlite3.Error) as exc:
            raise QwenUsageError(
                f"The history file {self.path} cannot be opened ({exc}). Set "
                f"QwenMagics.history_path (or ${ENV}) to a writable place, or turn the "
                "history off: %config QwenMagics.history = False."
            ) from None
        return db

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction (taken at once, so two kernels queue, never deadlock)."""
        with self._db() as db:
            db.execute("begin immediate")
            try:
                yield db
            except BaseException:
                db.execute("rollback")
                raise
            db.execute("commit")

    @property
    def searchable(self) -> bool:
        """Whether full-text search (FTS5) serves this file; else search uses LIKE."""
        with self._db() as db:
            return _has_fts(db)

    # ------------------------------------------------------------------ writing
    def add(self, values: dict[str, Any]) -> int:
        """Append one call; returns its id."""
        return self.add_many([values])[0]

    def add_many(self, rows: Sequence[dict[str, Any]]) -> list[int]:
        """Append calls in one transaction (the answers of one ``--each`` cell); their ids."""
        known = {f.name for f in fields(Entry)} - {"id"}
        ids = []
        with self._write() as db:
            for values in rows:
                row = {key: _column(key, value) for key, value in values.items() if key in known}
                row.setdefault("time", time.time())
                names, marks = ", ".join(row), ", ".join("?" for _ in row)
                sql = f"insert into calls ({names}) values ({marks})"
                cursor = db.execute(sql, [*row.values()])
                ids.append(int(cursor.lastrowid or 0))
        return ids

    def delete(self, query: Query, *, everything: bool = False) -> int:
        """Delete what ``query`` matches (all rows only with ``everything``); the count."""
        if not everything and query == Query():
            raise QwenUsageError("Nothing to forget: give an id, --all, --before AGE or words.")
        with self._write() as db:
            where, params = _where(query, _has_fts(db))
            cursor = db.execute(f"delete from calls {where}", params)
            return cursor.rowcount

    # ------------------------------------------------------------------ reading
    def find(self, query: Query) -> list[Entry]:
        """Matching entries, newest first."""
        with self._db() as db:
            where, params = _where(query, _has_fts(db))
            sql = f"select * from calls {where} order by time desc, id desc"
            if query.limit is not None:
                sql += " limit ?"
                params.append(query.limit)
            return [Entry.from_row(row) for row in db.execute(sql, params)]

    def get(self, ident: int) -> Entry:
        found = self.find(Query(ids=[ident]))
        if not found:
            raise QwenUsageError(
                f"No call {ident} in the history ({self.path}): `%qwencmd log` lists the "
                "latest, with their ids."
            )
        return found[0]

    def count(self) -> int:
        with self._db() as db:
            return int(db.execute("select count(*) from calls").fetchone()[0])


def _prepare(db: sqlite3.Connection) -> None:
    """Create or upgrade the schema (once per file per process); WAL mode.

    Two kernels opening a new file at once: switching it to WAL can answer "database is
    locked" at once, without waiting (SQLite's busy handler does not cover that step), so it
    is tried again for up to BUSY_MS."""
    deadline = time.monotonic() + BUSY_MS / 1000
    while True:
        try:
            db.execute("pragma journal_mode = wal")
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)
    db.execute("begin immediate")
    try:
        version = db.execute("pragma user_version").fetchone()[0]
        if version < SCHEMA_VERSION:
            for statement in SCHEMA.split(";"):  # not executescript: it would commit
                if statement.strip():
                    db.execute(statement)
            db.execute(f"pragma user_version = {SCHEMA_VERSION}")
        _prepare_fts(db)
    except BaseException:
        db.execute("rollback")
        raise
    db.execute("commit")


def _prepare_fts(db: sqlite3.Connection) -> None:
    """The full-text index and the triggers that keep it in step, where FTS5 is available.

    An index made while triggers were missing (the file was written by an SQLite without FTS5)
    is rebuilt; without FTS5 the triggers are dropped, or no insert could succeed."""
    existing = {row[0] for row in db.execute("select name from sqlite_master where type='trigger'")}
    try:
        had_table = _has_fts(db)
        db.execute(FTS)
    except sqlite3.OperationalError:  # no fts5, or no trigram tokenizer (SQLite < 3.34)
        for name in existing & set(TRIGGERS):
            db.execute(f"drop trigger {name}")
        return
    missing = [name for name in TRIGGERS if name not in existing]
    for name in missing:
        db.execute(TRIGGERS[name])
    if missing and had_table:
        db.execute("insert into calls_fts(calls_fts) values ('rebuild')")


def _has_fts(db: sqlite3.Connection) -> bool:
    row = db.execute("select 1 from sqlite_master where name = 'calls_fts'").fetchone()
    if row is None:
        return False
    try:
        db.execute("select rowid from calls_fts limit 0")
    except sqlite3.OperationalError:  # the table exists, the module does not
        return False
    return True


def _short(text: str, width: int = 40) -> str:
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def _column(key: str, value: Any) -> Any:
    if key in JSON_FIELDS:
        return None if value is None and key == "cost_detail" else _json(value)
    if isinstance(value, bool):
        return int(value)
    return value


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _where(query: Query, fts: bool) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if query.ids is not None:
        clauses.append(f"id in ({', '.join('?' for _ in query.ids)})" if query.ids else "0")
        params += query.ids
    if query.model:
        clauses.append("model like ? escape '\\'")
        params.append(_like(query.model, glob=True))
    if query.since is not None:
        clauses.append("time >= ?")
        params.append(query.since)
    if query.before is not None:
        clauses.append("time < ?")
        params.append(query.before)
    if query.words:
        text, text_params = _text_clause(query.words, fts)
        clauses.append(text)
        params += text_params
    return ("where " + " and ".join(clauses) if clauses else ""), params


def _text_clause(words: Sequence[str], fts: bool) -> tuple[str, list[Any]]:
    """Every word must appear in the prompt, the answer or the reasoning (any case)."""
    indexed = [w for w in words if len(w) >= TRIGRAM] if fts else []
    short = [w for w in words if w not in indexed]
    clauses: list[str] = []
    params: list[Any] = []
    if indexed:
        match = " ".join('"' + w.replace('"', '""') + '"' for w in indexed)
        clauses.append("id in (select rowid from calls_fts where calls_fts match ?)")
        params.append(match)
    for word in short:
        clauses.append(
            "(prompt like ? escape '\\' or answer like ? escape '\\' or reasoning like ? "
            "escape '\\')"
        )
        params += [_like(word)] * 3
    return "(" + " and ".join(clauses) + ")", params


def _like(text: str, *, glob: bool = False) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    if glob:
        return escaped.replace("*", "%") if "*" in text else escaped
    return f"%{escaped}%"


def checked_path(value: str | None) -> str | None:
    """``QwenMagics.history_path``: a file (made on first use), not a folder; None: default."""
    from traitlets import TraitError

    if value is None or not str(value).strip():
        return None
    path = Path(str(value)).expanduser()
    if path.is_dir():
        raise TraitError(
            f"QwenMagics.history_path {str(path)!r} is a folder: give a file in it, e.g. "
            f"{str(path / FILENAME)!r} (None: the default, {str(default_path())!r})."
        )
    return str(path)
