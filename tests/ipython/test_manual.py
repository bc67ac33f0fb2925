"""One manual: ``%qwen?`` and the README's option table come from ipython/manual.py."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from IPython.utils.capture import capture_output

from qwen_magic.ipython.manual import GROUPS

REPO = Path(__file__).resolve().parents[2]
TITLES = [
    "Model & endpoint", "Thinking & sampling", "Media", "Voice", "Conversation & output",
    "Many answers", "Errors", "Context", "Tools", "Web search",
]  # fmt: skip


def _help(ip) -> str:
    return ip.find_cell_magic("qwen").__doc__


def test_help_has_the_groups_in_order_with_every_option_once(ip) -> None:
    doc = _help(ip)
    assert [group.title for group in GROUPS] == TITLES
    positions = [doc.index(f"\n{title}:\n") for title in TITLES]
    assert positions == sorted(positions)
    parser = ip.find_cell_magic("qwen").parser
    declared = [flag for group in GROUPS for option in group.options for flag in option.flags]
    parsed = [flag for action in parser._actions for flag in action.option_strings]
    assert sorted(declared) == sorted(parsed)  # the parser is the manual: nothing else
    for group, start, end in zip(GROUPS, positions, [*positions[1:], len(doc)], strict=True):
        section = doc[start:end]
        for option in group.options:
            assert re.search(rf"^  {re.escape(option.flags[0])}\b", section, re.M), option.flags


def test_help_reads_as_plain_text_in_the_pager(ip) -> None:
    doc = _help(ip)
    assert "``" not in doc and "::" not in doc and ":func:" not in doc
    assert doc.startswith("Usage: %qwen [")
    assert "Examples:" in doc and "%%qwen -c trip -o r --json" in doc
    words = " ".join(doc.split())
    assert "%%bash" in words and "%config QwenMagics.interpolate_calls" in words  # % survives
    assert "{row.col}" in words and "-m qwen-plus,qwen-max" in words  # many answers, told
    with capture_output() as cap:
        ip.run_cell("%qwen?")
    assert "Thinking & sampling:" in cap.stdout


def test_the_readme_option_table_is_the_manual() -> None:
    spec = importlib.util.spec_from_file_location("manual_script", REPO / "scripts" / "manual.py")
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert script.with_table(readme) == readme, "run: python scripts/manual.py"
    for group in GROUPS:
        for option in group.options:
            assert f"`{option.invocation().replace('|', chr(92) + '|')}`" in readme
