"""``qwen_magic.ask_many``: ``--each`` from Python."""

from __future__ import annotations

import pandas as pd
import pytest
from IPython.core.error import UsageError

import qwen_magic
from qwen_magic.results import Results


def test_ask_many_over_a_dataframe_and_with_a_function(ip, magics, emulator) -> None:
    magics.display = "none"
    df = pd.DataFrame({"city": ["Paris", "Rome"]})
    r = qwen_magic.ask_many('Sights in {row.city} ({i}), {row["city"]}', df, thinking=False)
    assert isinstance(r, Results) and ip.user_ns["_qwen"] is r
    assert r.texts == ["Echo: Sights in Paris (0), Paris", "Echo: Sights in Rome (1), Rome"]
    assert r.to_pandas()["city"].tolist() == ["Paris", "Rome"]
    r = qwen_magic.ask_many(lambda word: f"Spell {word.upper()}", ["ab", "cd"], concurrency=2)
    assert r.prompts == ["Spell AB", "Spell CD"] and r.ok


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (("{item}", ["a"]), {"colour": "red"}, "unknown option(s) colour"),
        (("{item}", "abc"), {}, "is a str, not a list of items"),
        (("{item}", []), {}, "is empty"),
        (("{item}", ["a"]), {"concurrency": 0}, "give 1 to 64"),
        (("{x}", ["a"]), {}, "'x', which is not defined"),
        ((3, ["a"]), {}, "template is the prompt"),
    ],
)
def test_ask_many_refuses_bad_input_before_any_request(ip, emulator, args, kwargs, message):
    with pytest.raises(UsageError) as info:
        qwen_magic.ask_many(*args, **kwargs)
    assert message in str(info.value)
    assert emulator.requests == []
