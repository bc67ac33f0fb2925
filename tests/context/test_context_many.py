"""``--file`` / ``--url`` with many answers: the files are read once and follow every prompt of
``--each``, every variant of a compare and every item of ``ask_many(files=...)``, each answer
with its chips; over the budget, nothing is sent."""

from __future__ import annotations

import pytest
from context_helpers import generations
from IPython.core.error import UsageError

import qwen_magic


@pytest.fixture
def notes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("The secret word is walrus.\n")
    return tmp_path / "notes.txt"


def user_texts(emulator) -> list[str]:
    return [r.messages[-1]["content"] for r in generations(emulator)]


BLOCK = "File: notes.txt (text)\n```\nThe secret word is walrus.\n```"


def test_each_sends_the_file_after_every_prompt(ip, emulator, notes):
    ip.user_ns["qs"] = ["colour", "animal", "city"]
    ip.run_cell_magic("qwen", "--each qs --file notes.txt -q -o r", "Name a {item}.")
    sent = sorted(user_texts(emulator))
    assert sent == sorted(f"Name a {q}.\n\n{BLOCK}" for q in ["colour", "animal", "city"])
    results = ip.user_ns["r"]
    assert results.prompts == ["Name a colour.", "Name a animal.", "Name a city."]
    chips = [[(c.name, c.kind) for c in r.attachments] for r in results]
    assert chips == [[("notes.txt", "text")]] * 3


def test_a_compare_sends_the_file_to_every_variant(ip, emulator, notes):
    ip.run_cell_magic("qwen", "-m qwen-plus,qwen-max --file notes.txt -q -o cmp", "What word?")
    assert user_texts(emulator) == [f"What word?\n\n{BLOCK}"] * 2
    assert {r.model for r in generations(emulator)} == {"qwen-plus", "qwen-max"}
    assert all(r.attachments[0].name == "notes.txt" for _variant, r in ip.user_ns["cmp"])


def test_ask_many_sends_its_files(ip, emulator, notes):
    results = qwen_magic.ask_many("Word {item}?", [1, 2], files=["notes.txt"], quiet=True)
    assert sorted(user_texts(emulator)) == [f"Word 1?\n\n{BLOCK}", f"Word 2?\n\n{BLOCK}"]
    assert results[0].attachments[0].name == "notes.txt"


def test_over_the_budget_nothing_is_sent(ip, emulator, notes):
    ip.user_ns["qs"] = ["a", "b"]
    with pytest.raises(UsageError, match="over its budget.*notes.txt.*Nothing was sent"):
        ip.run_cell_magic("qwen", "--each qs --file notes.txt --context-budget 3 -q", "{item}")
    with pytest.raises(UsageError, match="over its budget"):
        qwen_magic.ask_many("{item}", ["a"], files=["notes.txt"], context_budget=3, quiet=True)
    assert generations(emulator) == []


def test_each_counts_its_df_summary_with_the_files(ip, emulator, notes):
    import numpy as np
    import pandas as pd

    ip.user_ns["df"] = pd.DataFrame({"x": np.arange(1000)})
    ip.user_ns["qs"] = ["mean", "max"]
    ip.run_cell_magic("qwen", "--each qs --file notes.txt -q -o r", "The {item} of {df}?")
    first = ip.user_ns["r"][0]
    assert [(c.name, c.kind) for c in first.attachments][1:] == [("notes.txt", "text")]
    assert first.attachments[0].name == "{df}" and first.attachments[0].tokens > 20
    assert all(text.endswith(BLOCK) for text in user_texts(emulator))
    sent = len(generations(emulator))
    with pytest.raises(UsageError, match=r"item 0: The context is over its budget: \{df\}"):
        ip.run_cell_magic("qwen", "--each qs --file notes.txt --context-budget 20 -q", "{df}")
    with pytest.raises(UsageError, match=r"over its budget: \{df\}.*notes.txt"):
        ip.run_cell_magic("qwen", "-t 0.1,0.9 --file notes.txt --context-budget 20 -q", "{df}")
    assert len(generations(emulator)) == sent  # nothing more went out
