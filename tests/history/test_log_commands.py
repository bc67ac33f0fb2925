"""``%qwencmd log``: find past calls (full-text, by model, by age), show one in full, export
them as JSON Lines, forget them; ``qwen_magic.history()`` from Python."""

from __future__ import annotations

import json

import pytest
from IPython.core.error import UsageError

import qwen_magic
from qwen_magic.emulator import Reply
from qwen_magic.logbook.store import HistoryStore
from tests.history.conftest import age, rows


def ask(ip, emulator, prompt: str, answer: str, line: str = "-q", reasoning: str = "") -> None:
    emulator.queue(Reply(text=answer, reasoning=reasoning))
    ip.run_cell_magic("qwen", line, prompt)


@pytest.fixture
def three(ip, emulator, log_file):
    """Three calls: photosynthesis (qwen-plus, 3 days ago), a Chinese one, a poem (qwen-max)."""
    ask(ip, emulator, "Explain photosynthesis", "Chlorophyll captures light.", "-m qwen-plus -q")
    ask(ip, emulator, "光合作用是什么?", "植物利用光能制造糖。", "-m qwen-plus -q")
    ask(ip, emulator, "Write a poem about rain", "Soft rain on the roof.", "-m qwen-max -q")
    age(log_file, 1, 3)
    return [row["id"] for row in rows(log_file)]


def test_log_lists_the_latest_calls_newest_first(ip, three):
    table = ip.run_line_magic("qwencmd", "log")
    assert [e.id for e in table] == [3, 2, 1]
    markdown = table._repr_markdown_()
    assert "| id | when | model | prompt | answer | tokens | cost |" in markdown
    assert "Write a poem about rain" in markdown and "Soft rain on the roof." in markdown
    assert "qwen-max" in repr(table)


def test_search_finds_words_in_prompts_and_answers_in_any_case(ip, three):
    assert [e.id for e in ip.run_line_magic("qwencmd", "log search PHOTOSYNTHESIS")] == [1]
    assert [e.id for e in ip.run_line_magic("qwencmd", "log search chlorophyll light")] == [1]
    assert [e.id for e in ip.run_line_magic("qwencmd", "log search 植物")] == [2]  # inside a word
    assert [e.id for e in ip.run_line_magic("qwencmd", "log search 光合作用")] == [2]
    assert [e.id for e in ip.run_line_magic("qwencmd", "log search rain roof")] == [3]
    assert [e.id for e in ip.run_line_magic("qwencmd", "log search rain photosynthesis")] == []
    assert (
        ip.run_line_magic("qwencmd", "log search nothing-like-this")
        ._repr_markdown_()
        .endswith("No calls match.")
    )


def test_search_uses_the_full_text_index(three, log_file):
    store = HistoryStore(log_file)
    assert store.searchable  # FTS5 with the trigram tokenizer
    import sqlite3

    with sqlite3.connect(log_file) as db:
        hits = db.execute(
            "select rowid from calls_fts where calls_fts match ?", ('"photosynthesis"',)
        ).fetchall()
    assert hits == [(1,)]


def test_model_since_and_limit_filter(ip, three):
    assert [e.id for e in ip.run_line_magic("qwencmd", "log --model qwen-plus")] == [2, 1]
    assert [e.id for e in ip.run_line_magic("qwencmd", "log --model qwen-m*")] == [3]
    assert [e.id for e in ip.run_line_magic("qwencmd", "log --since 2d")] == [3, 2]
    assert [e.id for e in ip.run_line_magic("qwencmd", "log --since 4d")] == [3, 2, 1]
    found = ip.run_line_magic("qwencmd", "log search photosynthesis --since 1d")
    assert list(found) == []
    limited = ip.run_line_magic("qwencmd", "log --limit 2")
    assert [e.id for e in limited] == [3, 2] and "more: --limit 10" in limited.title


def test_show_renders_the_whole_call(ip, emulator, log_file):
    ask(ip, emulator, "Why is the sky blue?", "**Rayleigh** scattering <script>x</script>",
        "-m qwen-plus --think -t 0.2 -q", reasoning="Short waves scatter more.")  # fmt: skip
    view = ip.run_line_magic("qwencmd", "log show 1")
    markdown = view._repr_markdown_()
    assert "**Call 1**" in markdown and "qwen-plus" in markdown
    assert "Why is the sky blue?" in markdown
    assert "**Rayleigh** scattering" in markdown  # the answer as Markdown...
    assert "<script>" not in markdown  # ...through the sanitizer
    assert "<details><summary>Reasoning</summary>" in markdown
    assert "Short waves scatter more." in markdown
    assert "temperature=0.2" in markdown
    assert " in · " in markdown and " out" in markdown  # the usage line
    plain = repr(view)
    assert "[prompt]\nWhy is the sky blue?" in plain and "[reasoning]" in plain
    with pytest.raises(UsageError, match="No call 99 in the history"):
        ip.run_line_magic("qwencmd", "log show 99")
    with pytest.raises(UsageError, match="log show ID"):
        ip.run_line_magic("qwencmd", "log show")


def test_export_writes_json_lines(ip, three, tmp_path, capsys):
    path = tmp_path / "out" / "log.jsonl"
    path.parent.mkdir()
    ip.run_line_magic("qwencmd", f"log export {path}")
    assert "Exported 3 calls" in capsys.readouterr().out
    lines = path.read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["id"] for r in records] == [1, 2, 3]  # oldest first
    assert (
        records[1]["prompt"] == "光合作用是什么?" and records[1]["answer"] == "植物利用光能制造糖。"
    )
    assert {"model", "time", "when", "usage", "options", "cost", "notebook", "cell_id"} <= set(
        records[0]
    )
    with pytest.raises(UsageError, match="exists: add --force"):
        ip.run_line_magic("qwencmd", f"log export {path}")
    ip.run_line_magic("qwencmd", f"log export {path} search rain --force")
    assert [json.loads(x)["id"] for x in path.read_text().splitlines()] == [3]


def test_forget_by_id_words_age_and_all(ip, emulator, three, log_file, capsys):
    ip.run_line_magic("qwencmd", "log forget 2")
    assert "Forgot 1 call" in capsys.readouterr().out
    assert [r["id"] for r in rows(log_file)] == [1, 3]
    assert [e.id for e in ip.run_line_magic("qwencmd", "log search 植物")] == []  # index too
    ip.run_line_magic("qwencmd", "log forget --before 1d")
    assert "Forgot 1 call" in capsys.readouterr().out
    assert [r["id"] for r in rows(log_file)] == [3]
    ask(ip, emulator, "Another poem about snow", "Snow falls.")
    ip.run_line_magic("qwencmd", "log forget search poem rain")
    assert [r["prompt"] for r in rows(log_file)] == ["Another poem about snow"]
    with pytest.raises(UsageError, match="Say what to forget"):
        ip.run_line_magic("qwencmd", "log forget")
    ip.run_line_magic("qwencmd", "log forget --all")
    assert "Forgot 1 call (every call)" in capsys.readouterr().out
    assert rows(log_file) == []


def test_history_returns_records_and_a_dataframe(ip, three):
    found = qwen_magic.history()
    assert [e.id for e in found] == [3, 2, 1]
    entry = qwen_magic.history(search="photosynthesis")[0]
    assert (entry.prompt, entry.answer, entry.model) == (
        "Explain photosynthesis",
        "Chlorophyll captures light.",
        "qwen-plus",
    )
    assert entry.usage["output_tokens"] == entry.output_tokens > 0
    assert [e.id for e in qwen_magic.history(model="qwen-plus", since="2d")] == [2]
    assert len(qwen_magic.history(limit=1)) == 1
    frame = qwen_magic.history().to_pandas()
    assert list(frame.index) == [3, 2, 1]
    assert {"prompt", "answer", "reasoning", "model", "time", "cost"} <= set(frame.columns)
    assert str(frame["time"].dtype).startswith("datetime64")
    with pytest.raises(UsageError, match="limit"):
        qwen_magic.history(limit=0)


def test_the_cost_is_kept_and_shown_in_the_price_tables_currency(ip, emulator, log_file):
    ip.run_cell_magic("qwen", "-m qwen-plus -q -o r", "A priced question")
    ip.run_cell_magic("qwen", "-m qwen3-vl-plus --no-think -q -o u", "Not in the price table")
    priced, unpriced = ip.user_ns["r"].cost, ip.user_ns["u"].cost
    assert priced.amount > 0 and unpriced.amount is None
    table = ip.run_line_magic("qwencmd", "log")
    (_, mine), (_, theirs) = [(e.id, e) for e in table]
    assert theirs.cost == pytest.approx(priced.amount)
    assert theirs.cost_detail["currency"] == priced.currency
    assert mine.cost is None
    shown = {row[2]: row[6] for row in table.table().rows[1:]}
    assert shown == {"qwen-plus": str(priced), "qwen3-vl-plus": "unknown"}


def test_without_fts5_search_still_finds_calls(ip, emulator, tmp_path, monkeypatch):
    """An SQLite built without FTS5 (or its trigram tokenizer): search scans instead."""
    from qwen_magic.logbook import store

    monkeypatch.setattr(store, "FTS", store.FTS.replace("'trigram'", "'no_such_tokenizer'"))
    path = tmp_path / "plain.sqlite3"
    ip.run_line_magic("config", f"QwenMagics.history_path = {str(path)!r}")
    ask(ip, emulator, "Explain photosynthesis", "Chlorophyll captures light.")
    ask(ip, emulator, "Write a poem about rain", "Soft rain.")
    assert not HistoryStore(path).searchable
    assert [e.id for e in ip.run_line_magic("qwencmd", "log search PHOTOSYNTH light")] == [1]
    ip.run_line_magic("qwencmd", "log forget search rain")
    assert [r["id"] for r in rows(path)] == [1]


def test_show_keeps_an_edited_history_files_media_as_text(ip, emulator, log_file):
    import json
    import sqlite3

    ask(ip, emulator, "What is this?", "A cat.", "-q")
    media = [{"source": "dog.png", "size": [4, 3], "thumbnail": "data:image/jpeg;base64,/9j/AA=="},
             {"source": "cat.png", "size": ["<b onclick=alert(1)>", 2],
              "thumbnail": 'data:image/jpeg;base64,AAAA" onerror="alert(1)'}]  # fmt: skip
    with sqlite3.connect(log_file) as db:
        db.execute("update calls set media = ?", [json.dumps(media)])
    markdown = ip.run_line_magic("qwencmd", "log show 1")._repr_markdown_()
    shown = '<img src="data:image/jpeg;base64,/9j/AA==" alt="" height="48"> dog.png (4×3)'
    assert shown in markdown
    assert "cat.png" in markdown and markdown.count("<img") == 1
    assert "onerror" not in markdown and "onclick" not in markdown
