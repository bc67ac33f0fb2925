"""``%%qwen --each NAME``: one prompt per item, through the magic, against the emulator (real
SDKs, real HTTP). Counts and order, never timings."""

from __future__ import annotations

import pandas as pd
import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

from qwen_magic.emulator.limits import Limits
from qwen_magic.results import Results
from qwen_magic.testing import Reply
from qwen_magic.testing.calls import interrupt_when_streaming

SLOW = "one two three four five six seven eight nine ten " * 4  # 40 frames


def generations(emulator) -> list:
    return [r for r in emulator.requests if r.protocol == "chat"]


def sent_prompts(emulator) -> list[str]:
    return sorted(r.messages[-1]["content"] for r in generations(emulator))


def test_each_answers_every_item_in_input_order(ip, final, emulator) -> None:
    # later items are shorter: they finish first, yet the Results keep the input order
    ip.user_ns["questions"] = [f"{'long ' * (12 - n)}question {n}" for n in range(12)]
    emulator.default_reply = Reply(reasoning="", delay=0.005)
    ip.run_cell_magic("qwen", "--each questions --concurrency 6 -o answers", "Q{i}: {item}")
    answers = ip.user_ns["answers"]
    assert isinstance(answers, Results) and ip.user_ns["_qwen"] is answers
    assert len(answers) == 12 and answers.ok and not answers.errors
    assert answers.texts == [f"Echo: Q{n}: {'long ' * (12 - n)}question {n}" for n in range(12)]
    assert answers.items == ip.user_ns["questions"]
    assert answers.prompts[3] == f"Q3: {'long ' * 9}question 3"
    assert len(generations(emulator)) == 12
    assert answers.usage.output_tokens == sum(r.usage.output_tokens for r in answers)


def test_each_shows_a_compact_table_not_every_answer(ip, final, emulator) -> None:
    ip.user_ns["numbers"] = range(25)
    with capture_output() as cap:
        ip.run_cell_magic("qwen", "--each numbers --no-think", "Say {item}")
    assert len(cap.outputs) == 1  # one static output
    markdown = cap.outputs[0].data["text/markdown"]
    assert markdown.startswith("**25/25 done")
    assert markdown.count("\n| ") == 11  # the header row and the first 10 rows
    assert "| 0 | 0 | Echo: Say 0 | ok |" in markdown and "Echo: Say 9" in markdown
    assert "Echo: Say 10" not in markdown and "… and 15 more" in markdown


def test_each_over_dataframe_rows_fills_columns_and_keeps_them(ip, final, emulator) -> None:
    ip.user_ns["df"] = pd.DataFrame({"city": ["Paris", "Rome", "Oslo"], "days": [2, 3, 1]})
    cell = 'Plan {row.days} days in {row["city"]}'
    ip.run_cell_magic("qwen", "--each df -o trips --no-think", cell)
    trips = ip.user_ns["trips"]
    assert trips.texts == [
        "Echo: Plan 2 days in Paris",
        "Echo: Plan 3 days in Rome",
        "Echo: Plan 1 days in Oslo",
    ]
    assert trips.items[1] == {"city": "Rome", "days": 3}
    frame = trips.to_pandas()
    assert list(frame.columns[:3]) == ["city", "days", "answer"]
    assert {"reasoning", "input_tokens", "output_tokens", "error"} <= set(frame.columns)
    assert frame["answer"].tolist() == trips.texts and frame["city"].tolist()[2] == "Oslo"


@pytest.mark.parametrize(
    "value",
    [
        pd.Series(["a", "b"], index=[10, 20]),  # its values, not its index
        ("a", "b"),
        ["a", "b"],
    ],
)
def test_each_takes_series_tuples_and_lists(ip, final, emulator, value) -> None:
    ip.user_ns["things"] = value
    ip.run_cell_magic("qwen", "--each things --no-think", "Spell {item}")
    assert ip.user_ns["_qwen"].texts == ["Echo: Spell a", "Echo: Spell b"]


@pytest.mark.parametrize(
    ("setup", "line", "cell", "message"),
    [
        ({}, "--each nowhere", "{item}", "'nowhere' is not defined in this notebook"),
        ({"s": "abc"}, "--each s", "{item}", "is a str, not a list of items"),
        ({"d": {"a": 1}}, "--each d", "{item}", "list(d.values())"),
        ({"e": []}, "--each e", "{item}", "is empty: there is nothing to ask"),
        ({"n": 3}, "--each n", "{item}", "is a int, which has no items"),
        ({"q": ["x"]}, "--each q", "{unknown_name} {item}", "'unknown_name', which is not"),
        ({"q": ["x"]}, "--each q -c talk", "{item}", "-c/--chat can't be combined with --each"),
        ({"q": ["x"]}, "--each q -m a,b", "{item}", "can't be combined yet"),
        ({"q": ["x"]}, "--each q --concurrency 0", "{item}", "give 1 to 64"),
        ({"q": ["x"]}, "--batch", "{item}", "add --each NAME"),
        ({"q": ["x"]}, "--each 'q[0'", "{item}", "is not a variable"),
    ],
)
def test_bad_each_is_one_usage_error_before_any_request(
    ip, final, emulator, setup, line, cell, message
) -> None:
    ip.user_ns.update(setup)
    with pytest.raises(UsageError) as info:
        ip.run_cell_magic("qwen", line, cell)
    assert message in " ".join(str(info.value).split())
    assert "\n" not in str(info.value).strip()
    assert emulator.requests == []


def test_a_missing_column_names_the_columns_before_any_request(ip, final, emulator) -> None:
    ip.user_ns["df"] = pd.DataFrame({"city": ["Paris"], "days": [2]})
    with pytest.raises(UsageError) as info:
        ip.run_cell_magic("qwen", "--each df", "Visit {row.town}")
    message = str(info.value)
    assert "item 0" in message and "no column 'town'" in message and "city, days" in message
    with pytest.raises(UsageError, match="no column 'town'"):
        ip.run_cell_magic("qwen", "--each df", 'Visit {row["town"]}')
    assert emulator.requests == []


def test_a_failed_item_is_recorded_and_the_rest_go_on(ip, final, emulator) -> None:
    ip.user_ns["qs"] = ["first", "second", "third"]
    emulator.queue(Reply(reasoning=""), Reply(fault="http_400"), Reply(reasoning=""))
    ip.run_cell_magic("qwen", "--each qs --concurrency 1 -o r", "{item}")
    r = ip.user_ns["r"]
    assert list(r.errors) == [1] and r.errors[1].status == 400
    assert r[0].ok and r[2].ok and r.texts[2] == "Echo: third"
    assert not r.ok and not r.stopped and "1 failed" in repr(r)


def test_quiet_each_still_says_that_items_failed(ip, emulator, capsys) -> None:
    ip.user_ns["qs"] = ["a", "b"]
    emulator.queue(Reply(fault="http_404"), Reply())
    ip.run_cell_magic("qwen", "--each qs --concurrency 1 -q", "{item}")
    assert "1 of 2 answers failed" in capsys.readouterr().err


def test_a_429_is_retried_after_its_retry_after_and_nothing_is_lost(ip, final, emulator) -> None:
    # one request a second: the second item is refused (Retry-After: 1); a client that retried
    # sooner would be refused again, so exactly one 429 proves the wait was honoured.
    emulator.limits = Limits(requests_per_second=1)
    ip.user_ns["qs"] = ["a", "b"]
    ip.run_cell_magic("qwen", "--each qs --concurrency 1 --no-think -o r", "{item}")
    r = ip.user_ns["r"]
    assert r.ok and r.texts == ["Echo: a", "Echo: b"]
    assert emulator.limits.throttled == 1
    assert [q.status for q in generations(emulator)] == [200, 429, 200]


def test_no_retry_once_the_answer_began(ip, final, emulator) -> None:
    ip.user_ns["qs"] = ["a b c d e f", "next"]
    emulator.queue(Reply(reasoning="", fault="cut", fault_after=3), Reply(reasoning=""))
    ip.run_cell_magic("qwen", "--each qs --concurrency 1 -o r", "{item}")
    r = ip.user_ns["r"]
    assert len(generations(emulator)) == 2  # the cut answer was not asked again
    partial = r[0].text  # the frames that came before the cut
    assert r[0].error is not None and partial and "Echo: a b c d e f".startswith(partial)
    assert partial != "Echo: a b c d e f"
    assert r[1].ok and r.texts[1] == "Echo: next"


def test_an_interrupt_stops_every_run_and_keeps_what_finished(ip, emulator, magics) -> None:
    magics.display = "none"
    ip.user_ns["qs"] = [f"q{n}" for n in range(8)]
    emulator.queue(Reply(text="quick", reasoning=""))
    emulator.default_reply = Reply(text=SLOW, chunks=40, delay=0.05, reasoning="")
    # the quick one ended, a third streams
    thread = interrupt_when_streaming(emulator, frames=3, requests=3)
    ip.run_cell_magic("qwen", "--each qs --concurrency 2 -o r", "{item}")
    thread.join()
    r = ip.user_ns["r"]
    assert r.stopped and len(r) == 8
    assert len(generations(emulator)) == 3  # nothing started after the stop
    assert [x.text for x in r if x.ok] == ["quick"]
    streaming = [x for x in r if x.interrupted and x.text]
    assert len(streaming) == 2 and all(SLOW.startswith(x.text) for x in streaming)
    assert sum(1 for x in r if x.interrupted and not x.text) == 5  # never started


def test_quiet_each_shows_a_hostile_server_message_without_its_escapes(
    ip, emulator, capsys, monkeypatch
) -> None:
    from qwen_magic.emulator import faults

    hostile = "Bad input\x1b]0;owned\x07\x1b[2J\x9b31m here"
    monkeypatch.setattr(
        faults, "invalid_parameter",
        lambda _m: faults.ApiError(400, "InvalidParameter", hostile, "invalid_parameter_error",
                                   "invalid_request_error"),
    )  # fmt: skip
    ip.user_ns["qs"] = ["a", "b"]
    emulator.queue(Reply(fault="http_400"), Reply())
    ip.run_cell_magic("qwen", "--each qs --concurrency 1 -q", "{item}")
    err = capsys.readouterr().err
    assert "1 of 2 answers failed" in err and "Bad input" in err and "here" in err
    assert "\x1b" not in err and "\x07" not in err and "\x9b" not in err
