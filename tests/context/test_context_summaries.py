"""``{df}`` in a prompt: a compact summary within the budget (shape, dtypes, head, describe),
not ``str(df)``; ``{df!full}`` sends every row. Through the magic, against the emulator."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from context_helpers import sent_text
from IPython.utils.capture import capture_output

from qwen_magic.context.tokens import count


def sales(rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame(
        {
            "city": rng.choice(["Oslo", "Rome", "Lima"], rows),
            "temp": rng.normal(12, 8, rows).round(1),
            "units": rng.integers(0, 500, rows),
            "price": rng.gamma(2, 3, rows).round(2),
        }
    )


def test_a_100000_row_dataframe_sends_a_summary_of_a_few_hundred_tokens(ip, final, emulator):
    ip.user_ns["df"] = df = sales(100_000)
    with capture_output() as cap:
        ip.run_cell_magic("qwen", "", "What stands out in {df}?")
    sent = sent_text(emulator)
    assert sent.startswith("What stands out in \n[{df}: a pandas DataFrame, 100,000 rows × 4")
    assert "dtypes: city str, temp float64, units int64, price float64" in sent
    assert "head(5):" in sent and sent.count("\n") < 40  # a few rows, not 100,000
    assert "describe() of the numeric columns:" in sent
    for stat in ("count", "mean", "std", "min", "25%", "50%", "75%", "max"):
        assert f"\n{stat} " in sent
    assert str(df.units.max()) in sent  # describe()'s max of a column
    assert sent.rstrip().endswith("?")
    assert 100 <= count(sent).tokens <= 600  # a few hundred tokens
    (chip,) = ip.user_ns["_qwen"].attachments
    assert (chip.name, chip.kind, chip.exact) == ("{df}", "DataFrame summary", True)
    assert 100 <= chip.tokens <= 600
    markdown = cap.outputs[0].data["text/markdown"]
    assert f"📎 {{df}} · DataFrame summary · {chip.tokens:,} tokens" in markdown
    assert (
        f"📎 {{df}} · DataFrame summary · {chip.tokens:,} tokens"
        in cap.outputs[0].data["text/plain"]
    )


def test_the_summary_shrinks_to_the_budget(ip, final, emulator):
    rng = np.random.default_rng(1)
    ip.user_ns["wide"] = pd.DataFrame(
        rng.normal(size=(1000, 60)), columns=[f"c{i}" for i in range(60)]
    )
    ip.run_cell_magic("qwen", "--context-budget 2000", "Look at {wide}")
    roomy = ip.user_ns["_qwen"].attachments[0].tokens
    ip.run_cell_magic("qwen", "--context-budget 300", "Look at {wide}")
    (chip,) = ip.user_ns["_qwen"].attachments
    sent = sent_text(emulator)
    assert chip.tokens <= 300 < roomy <= 2000
    assert "1,000 rows × 60 columns" in sent and "more columns" in sent


def test_full_sends_every_row(ip, final, emulator):
    ip.user_ns["df"] = df = sales(300)
    ip.run_cell_magic("qwen", "--context-budget 20000", "All of it: {df!full}")
    sent = sent_text(emulator)
    assert "(a summary)" not in sent and "describe()" not in sent
    assert df.to_string() in sent  # every row, pandas's truncation undone
    assert "\n299 " in sent
    (chip,) = ip.user_ns["_qwen"].attachments
    assert (chip.name, chip.kind) == ("{df!full}", "DataFrame (whole)")
    assert chip.tokens == count(df.to_string()).tokens


def test_series_arrays_and_long_lists_are_summarized_short_ones_sent_whole(ip, final, emulator):
    ip.user_ns.update(
        temps=pd.Series(np.arange(50_000) % 40, name="temp"),
        grid=np.arange(300_000, dtype=float).reshape(1000, 300),
        ids=list(range(20_000)),
        short=[1, 2, 3],
        point=np.array([0.5, 1.5]),
        config={"a": 1},
    )
    ip.run_cell_magic("qwen", "", "{temps} {grid} {ids} and {short} {point} {config}")
    sent = sent_text(emulator)
    assert "[{temps}: a pandas Series of 50,000 values, dtype int64, named 'temp'" in sent
    assert "describe(): count 50000, mean 19.5" in sent
    assert "[{grid}: a numpy array, shape 1,000 × 300, dtype float64 (a summary)]" in sent
    assert "min 0, max 299999" in sent
    assert "[{ids}: a list of 20,000 items (a summary)]" in sent and "last: 19999" in sent
    assert sent.rstrip().endswith("and [1, 2, 3] [0.5 1.5] {'a': 1}")
    kinds = [a.kind for a in ip.user_ns["_qwen"].attachments]
    assert kinds == ["Series summary", "array summary", "list summary"]


def test_summaries_share_the_budget(ip, final, emulator):
    ip.user_ns.update(a=sales(5000), b=sales(5000))
    ip.run_cell_magic("qwen", "--context-budget 400", "{a} versus {b}")
    chips = ip.user_ns["_qwen"].attachments
    assert len(chips) == 2 and all(chip.tokens <= 200 for chip in chips)


@pytest.mark.parametrize("line", ["--raw", ""])
def test_doubled_braces_and_raw_are_untouched(ip, final, emulator, line):
    ip.user_ns["df"] = sales(10)
    ip.run_cell_magic("qwen", line, "Keep {{df}} literal")
    assert sent_text(emulator) == ("Keep {{df}} literal" if line else "Keep {df} literal")
    assert ip.user_ns["_qwen"].attachments == []
