"""The context budget: over it is one UsageError with every item's tokens, before anything
is sent; the budget is a per-cell option and a checked trait. Token counts are the Qwen
tokenizer's (the one the dashscope SDK builds), counted offline."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from context_helpers import generations
from IPython.core.error import UsageError
from traitlets import TraitError

from qwen_magic.context import tokens
from qwen_magic.context.attach import gather


def test_over_the_budget_is_refused_before_any_request_with_the_numbers(
    ip, final, emulator, tmp_path
):
    big = tmp_path / "big.txt"
    big.write_text("The quick brown fox jumps over the lazy dog. " * 400)
    ip.user_ns["df"] = pd.DataFrame({"x": np.arange(1000)})
    with pytest.raises(UsageError) as raised:
        ip.run_cell_magic("qwen", f"--file {big}", "Compare {df} with the file")
    message = str(raised.value)
    assert generations(emulator) == []
    (block,) = gather([str(big)], [])
    total = block.attachment.tokens + int(message.split("{df} (")[1].split(" ")[0])
    assert message.startswith("The context is over its budget: {df} (")
    assert f"; {big} ({block.attachment.tokens:,} tokens): {total:,} tokens in all" in message
    assert "and the budget is 2,000 tokens" in message
    raise_to = -(-total // 1000) * 1000
    assert f"--context-budget {raise_to} " in message
    assert f"%config QwenMagics.context_budget = {raise_to})" in message
    assert "Nothing was sent." in message and "\n" not in message
    ip.run_cell_magic(
        "qwen", f"--file {big} --context-budget {raise_to}", "Compare {df} with the file"
    )
    assert len(generations(emulator)) == 1


def test_the_budget_trait_sets_the_default_and_is_checked(ip, final, emulator, magics, tmp_path):
    note = tmp_path / "note.txt"
    note.write_text("word " * 300)
    magics.context_budget = 100
    with pytest.raises(UsageError, match="the budget is 100 tokens"):
        ip.run_cell_magic("qwen", f"--file {note}", "Read")
    with pytest.raises(TraitError, match="context_budget must be between 1 and 1e\\+06"):
        magics.context_budget = 0
    assert magics.context_budget == 100
    with pytest.raises(UsageError, match="--context-budget 0: give a number of tokens"):
        ip.run_cell_magic("qwen", "--context-budget 0", "Read")
    assert generations(emulator) == []


def test_counts_match_the_dashscope_sdk_tokenizer() -> None:
    from dashscope.tokenizers import get_tokenizer
    from dashscope.tokenizers.qwen_tokenizer import PAT_STR

    sdk = get_tokenizer("qwen-turbo")
    assert tokens.PAT_STR == PAT_STR
    for text in [
        "Hello, world!",
        "这是一个测试。",
        "def f(x):\n    return x ** 2\n",
        "a,b\n1,2\n" * 50,
    ]:
        assert tokens.count(text) == tokens.Count(len(sdk.encode(text)))


def test_without_the_tokenizer_counts_are_estimates(monkeypatch) -> None:
    monkeypatch.setattr(tokens, "_encoding", False)
    counted = tokens.count("x" * 400)
    assert counted == tokens.Count(100, exact=False) and str(counted) == "≈100 tokens"
