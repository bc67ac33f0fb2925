"""``--file PATH``: text, Markdown, CSV, JSON, code and PDF text as labelled blocks after the
prompt, each with a chip; globs; refusals before any request."""

from __future__ import annotations

import json
import os

import pytest
from context_helpers import generations, pdf_bytes, sent_text
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("Ship the May report by Friday.\n")
    (tmp_path / "plan.md").write_text("# Plan\n\n- hire two people\n")
    (tmp_path / "sales.csv").write_text("city,units\nOslo,12\nRome,30\n")
    (tmp_path / "config.json").write_text(json.dumps({"region": "sg", "retries": 2}))
    (tmp_path / "tool.py").write_text(
        'def area(r):\n    """Circle area."""\n    return 3.14 * r * r\n'
    )
    (tmp_path / "report.pdf").write_bytes(
        pdf_bytes(["Quarterly revenue grew 12 percent.", "Costs fell in Oslo."])
    )
    return tmp_path


def test_each_kind_of_file_is_sent_in_a_labelled_block(ip, final, emulator, folder):
    files = ["notes.txt", "plan.md", "sales.csv", "config.json", "tool.py", "report.pdf"]
    line = " ".join(f"--file {name}" for name in files)
    with capture_output() as cap:
        ip.run_cell_magic("qwen", line, "Summarize these.")
    sent = sent_text(emulator)
    assert sent.startswith("Summarize these.\n\nFile: notes.txt (text)\n```\nShip the May")
    assert "File: plan.md (markdown)\n```markdown\n# Plan\n\n- hire two people\n```" in sent
    assert "File: sales.csv (csv)\n```csv\ncity,units\nOslo,12\nRome,30\n```" in sent
    assert 'File: config.json (json)\n```json\n{"region": "sg", "retries": 2}\n```' in sent
    assert 'File: tool.py (python)\n```python\ndef area(r):\n    """Circle area."""' in sent
    assert (
        "File: report.pdf (pdf, 2 pages)\n```\n--- page 1 ---\nQuarterly revenue grew 12 "
        "percent.\n\n--- page 2 ---\nCosts fell in Oslo.\n```"
    ) in sent
    chips = ip.user_ns["_qwen"].attachments
    assert [(c.name, c.kind) for c in chips] == [
        ("notes.txt", "text"), ("plan.md", "markdown"), ("sales.csv", "csv"),
        ("config.json", "json"), ("tool.py", "python"), ("report.pdf", "pdf"),
    ]  # fmt: skip
    assert all(c.exact and 5 < c.tokens < 60 for c in chips)
    markdown = cap.outputs[0].data["text/markdown"]
    assert f"📎 sales.csv · {chips[2].tokens:,} tokens" in markdown


def test_a_glob_attaches_every_match_once_in_order(ip, final, emulator, folder):
    (folder / "more").mkdir()
    (folder / "more" / "b.md").write_text("B")
    (folder / "more" / "a.md").write_text("A")
    ip.run_cell_magic("qwen", "--file '**/*.md' --file plan.md", "Read them")
    names = [c.name for c in ip.user_ns["_qwen"].attachments]
    assert names == [os.path.join("more", "a.md"), os.path.join("more", "b.md"), "plan.md"]


def test_a_fence_inside_a_file_cannot_close_its_block(ip, final, emulator, folder):
    (folder / "readme.md").write_text("Run:\n```\npip install x\n```\nDone.")
    ip.run_cell_magic("qwen", "--file readme.md", "What does it say?")
    assert "File: readme.md (markdown)\n````markdown\nRun:\n```\npip" in sent_text(emulator)


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("photo.png", b"\x89PNG\r\n\x1a\n", "an image goes with -i/--image"),
        ("table.xlsx", b"PK\x03\x04", "load it into a DataFrame"),
        ("blob.bin", b"\x00\x01\x02binary", "looks binary, not text"),
        ("latin.txt", "café".encode("latin-1"), "it is not UTF-8 text"),
        ("scan.pdf", pdf_bytes([""]), "has no text layer"),
        ("broken.pdf", b"%PDF-1.4 nothing else", "could not be read as a PDF"),
    ],
)
def test_files_that_are_not_text_are_refused_before_any_request(
    ip, final, emulator, folder, name, content, says
):
    (folder / name).write_bytes(content)
    with pytest.raises(UsageError, match=says):
        ip.run_cell_magic("qwen", f"--file {name}", "Read it")
    assert generations(emulator) == []


@pytest.mark.parametrize(
    ("pattern", "says"),
    [
        ("missing.txt", "no such file"),
        ("*.nothing", "matches no file"),
        ("sub", "is a folder: attach its files with a glob"),
        ("/dev/zero", "not a regular file"),
    ],
)
def test_bad_paths_are_refused_before_any_request(ip, final, emulator, folder, pattern, says):
    (folder / "sub").mkdir()
    with pytest.raises(UsageError, match=says):
        ip.run_cell_magic("qwen", f"--file {pattern}", "Read it")
    assert generations(emulator) == []


def test_a_chat_keeps_the_attached_file_in_its_history(ip, final, emulator, folder):
    ip.run_cell_magic("qwen", "-c notes --file notes.txt", "Remember this file.")
    ip.run_cell_magic("qwen", "-c notes", "When is the report due?")
    history = generations(emulator)[-1].messages
    assert "Ship the May report by Friday." in history[0]["content"]
    assert ip.user_ns["_qwen"].attachments == []


def test_ask_attaches_files_too(ip, final, emulator, folder):
    import qwen_magic

    result = qwen_magic.ask("Summarize", files="sales.csv", display="none")
    assert sent_text(emulator).startswith("Summarize\n\nFile: sales.csv (csv)\n```csv\ncity")
    assert [a.name for a in result.attachments] == ["sales.csv"]
    with pytest.raises(UsageError, match="the budget is 5 tokens"):
        qwen_magic.ask("Summarize", files=["*.csv", "plan.md"], context_budget=5)
    assert len(generations(emulator)) == 1
