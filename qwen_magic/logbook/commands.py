"""``%qwencmd log …`` and ``qwen_magic.history()``: find, show, export and forget past calls.

%qwencmd log [search WORDS] [--model M] [--since 7d] [--limit N]
%qwencmd log show ID
%qwencmd log export PATH [search WORDS] [--model M] [--since 7d] [--force]
%qwencmd log forget ID … | --all | --before 30d | search WORDS
"""

from __future__ import annotations

import json
import re
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from qwen_magic.errors import QwenUsageError
from qwen_magic.logbook.store import HistoryStore, Query
from qwen_magic.logbook.view import EntryView, History

LIMIT = 20  # calls listed unless --limit says otherwise
USAGE = (
    "Use `%qwencmd log` (the latest calls), `%qwencmd log search WORDS` (with --model M, "
    "--since 7d, --limit N), `%qwencmd log show ID`, `%qwencmd log export PATH` or "
    "`%qwencmd log forget ID|--all|--before 30d|search WORDS`."
)
_AGE = re.compile(r"(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d|w)", re.IGNORECASE)
_SECONDS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


def store_of(magics: Any) -> HistoryStore:
    return HistoryStore(getattr(magics, "history_path", None))


def log_command(magics: Any, rest: list[str]) -> Any:
    action = rest[0] if rest else ""
    if action == "show":
        return show(magics, rest[1:])
    if action == "export":
        return export(magics, rest[1:])
    if action == "forget":
        return forget(magics, rest[1:])
    if action and action != "search" and not action.startswith("-"):
        raise QwenUsageError(f"Unknown `%qwencmd log {action}`. {USAGE}")
    query, flags = parse(rest, allowed={"--model", "--since", "--before", "--limit"})
    if query.limit is None:
        query.limit = LIMIT
    return listing(magics, query)


def listing(magics: Any, query: Query) -> History:
    store = store_of(magics)
    limit = query.limit
    if limit is not None:
        query.limit = limit + 1  # one more: to say there are more
    entries = store.find(query)
    more = limit is not None and len(entries) > limit
    entries = entries[:limit] if limit is not None else entries
    count = f"{len(entries)} call{'' if len(entries) == 1 else 's'}"
    title = f"qwen_magic history · {describe(query)}{count}, newest first"
    if more:
        title += f" (more: --limit {(limit or 0) * 5})"
    if not getattr(magics, "history", True):
        title += " · recording is off (QwenMagics.history = False)"
    return History(entries, f"{title} · {store.path}")


def show(magics: Any, rest: list[str]) -> EntryView:
    if len(rest) != 1 or not rest[0].isdigit():
        raise QwenUsageError("Use `%qwencmd log show ID` (the id from `%qwencmd log`).")
    return EntryView(store_of(magics).get(int(rest[0])))


def export(magics: Any, rest: list[str]) -> None:
    if not rest or rest[0].startswith("-") or rest[0] == "search":
        raise QwenUsageError(
            "Use `%qwencmd log export PATH` (JSON Lines; add search WORDS, --model, --since "
            "to export some calls only, --force to replace a file)."
        )
    path = Path(rest[0]).expanduser()
    query, flags = parse(rest[1:], allowed={"--model", "--since", "--before", "--force"})
    if path.is_dir():
        raise QwenUsageError(f"{path} is a folder: give a file name, e.g. {path / 'log.jsonl'}.")
    if path.exists() and "--force" not in flags:
        raise QwenUsageError(f"{path} exists: add --force to replace it.")
    entries = list(reversed(store_of(magics).find(query)))  # oldest first, as they happened
    try:
        with path.open("w", encoding="utf-8") as file:
            for entry in entries:
                file.write(json.dumps(entry.as_dict(), ensure_ascii=False, default=str) + "\n")
    except OSError as exc:
        raise QwenUsageError(f"Could not write {path}: {exc}.") from None
    print(f"Exported {len(entries)} calls to {path} (JSON Lines, oldest first).")


def forget(magics: Any, rest: list[str]) -> None:
    ids = [int(word) for word in rest if word.isdigit()]
    others = [word for word in rest if not word.isdigit()]
    query, flags = parse(others, allowed={"--all", "--before", "--model", "--since"})
    if ids:
        if query != Query() or flags:
            raise QwenUsageError("`%qwencmd log forget ID …` takes ids only. " + USAGE)
        query.ids = ids
    everything = "--all" in flags
    if everything and query != Query():
        raise QwenUsageError("`%qwencmd log forget --all` forgets every call: give it alone.")
    if not everything and query == Query():
        raise QwenUsageError(
            "Say what to forget: `%qwencmd log forget ID`, `--all`, `--before 30d`, or "
            "`search WORDS`."
        )
    store = store_of(magics)
    count = store.delete(query, everything=everything)
    what = "every call" if everything else describe(query).rstrip(" ·") or "the calls"
    print(f"Forgot {count} call{'s' if count != 1 else ''} ({what}) from {store.path}.")


def parse(words: list[str], allowed: set[str]) -> tuple[Query, set[str]]:
    """``search WORDS --model M --since 7d --before 30d --limit N`` (any order) → a Query."""
    query, flags = Query(), set()
    index = 0
    if words and words[0] == "search":
        index = 1
        if len(words) == 1 or all(w.startswith("--") for w in words[1:]):
            raise QwenUsageError("`search` needs words: `%qwencmd log search photosynthesis`.")
    while index < len(words):
        word = words[index]
        if not word.startswith("--"):
            query.words.append(word)
            index += 1
            continue
        if word not in allowed:
            raise QwenUsageError(f"`{word}` is not an option here. {USAGE}")
        if word in ("--all", "--force"):
            flags.add(word)
            index += 1
            continue
        if index + 1 >= len(words):
            raise QwenUsageError(f"`{word}` needs a value. {USAGE}")
        value = words[index + 1]
        if word == "--model":
            query.model = value
        elif word == "--since":
            query.since = moment(value, word)
        elif word == "--before":
            query.before = moment(value, word)
        elif word == "--limit":
            if not value.isdigit() or int(value) < 1:
                raise QwenUsageError(f"--limit takes a number of calls, e.g. 50; not {value!r}.")
            query.limit = int(value)
        index += 2
    return query, flags


def moment(value: Any, option: str = "since") -> float:
    """An age (``7d``, ``12h``, ``30min``, ``2w``), a date (``2026-11-01``), a datetime or a
    timedelta → epoch seconds (an age counts back from now)."""
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, timedelta):
        return time.time() - value.total_seconds()
    text = str(value).strip()
    match = _AGE.fullmatch(text)
    if match:
        return time.time() - float(match.group(1)) * _SECONDS[match.group(2).lower()]
    if text in ("today", "yesterday"):
        midnight = datetime.now().replace(hour=0, minute=0, second=0, microsecond=0)
        return (midnight - timedelta(days=1 if text == "yesterday" else 0)).timestamp()
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        raise QwenUsageError(
            f"{option} {text!r}: give an age such as 7d, 12h, 30min, 2w, or a date such as "
            "2026-11-01 (or today, yesterday)."
        ) from None


def describe(query: Query) -> str:
    bits = []
    if query.words:
        bits.append("matching " + " ".join(repr(w) for w in query.words))
    if query.model:
        bits.append(f"model {query.model}")
    if query.since is not None:
        bits.append("since " + datetime.fromtimestamp(query.since).strftime("%Y-%m-%d %H:%M"))
    if query.before is not None:
        bits.append("before " + datetime.fromtimestamp(query.before).strftime("%Y-%m-%d %H:%M"))
    if query.ids:
        bits.append("id " + ", ".join(str(i) for i in query.ids))
    return "".join(b + " · " for b in bits)


def history(
    search: str | list[str] | None = None,
    model: str | None = None,
    since: Any = None,
    limit: int | None = None,
    *,
    magics: Any = None,
) -> History:
    """``qwen_magic.history()``: the calls of the history, newest first (all unless ``limit``)."""
    words = search.split() if isinstance(search, str) else list(search or [])
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise QwenUsageError(f"history(limit={limit!r}): give a number of calls, 1 or more.")
    query = Query(
        words=words,
        model=model,
        since=None if since is None else moment(since, "since="),
        limit=limit,
    )
    return listing(magics, query)
