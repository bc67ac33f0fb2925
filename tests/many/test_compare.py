"""Compare: ``-m a,b``, ``-t 0.1,0.9``, ``--top-p``, ``--seed``, ``--vary think``, ``-n K`` run
every combination and show them side by side. Contents, counts and order; never timings."""

from __future__ import annotations

import re

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

from qwen_magic.results import Comparison
from qwen_magic.testing import Reply


def bodies(emulator) -> list[dict]:
    return [r.body for r in emulator.requests if r.protocol == "chat"]


def test_two_temperatures_side_by_side(ip, final, emulator) -> None:
    with capture_output() as cap:
        ip.run_cell_magic("qwen", "-t 0.1,0.9 --no-think -o cmp", "Name a colour")
    cmp = ip.user_ns["cmp"]
    assert isinstance(cmp, Comparison) and ip.user_ns["_qwen"] is cmp
    assert cmp.keys() == [0.1, 0.9] and cmp.titles == ["t=0.1", "t=0.9"]
    assert cmp[0.9].text == "Echo: Name a colour" and cmp[0] is cmp[0.1]
    assert [v for v, _ in cmp] == [0.1, 0.9]
    assert sorted(b["temperature"] for b in bodies(emulator)) == [0.1, 0.9]
    (out,) = cap.outputs
    table = out.data["text/html"]
    assert re.findall(r"<th style[^>]*>(.*?)</th>", table) == ["t=0.1", "t=0.9"]
    assert table.count("<td") == 2
    markdown = out.data["text/markdown"]
    assert markdown.index("### t=0.1") < markdown.index("### t=0.9")
    assert markdown.count("Echo: Name a colour") == 2


def test_models_and_temperatures_make_every_combination_in_order(ip, final, emulator) -> None:
    ip.run_cell_magic("qwen", "-m qwen-plus,qwen-max -t 0.2,0.8 --no-think -o cmp", "Hi")
    cmp = ip.user_ns["cmp"]
    assert cmp.keys() == [
        ("qwen-plus", 0.2), ("qwen-plus", 0.8), ("qwen-max", 0.2), ("qwen-max", 0.8),
    ]  # fmt: skip
    assert cmp.titles[1] == "qwen-plus · t=0.8"
    assert [r.model for r in cmp.values()] == ["qwen-plus", "qwen-plus", "qwen-max", "qwen-max"]
    sent = sorted((b["model"], b["temperature"]) for b in bodies(emulator))
    assert sent == sorted(cmp.keys())
    assert cmp[("qwen-max", 0.2)].model == "qwen-max"


def test_models_alone_are_keyed_by_name(ip, final, emulator) -> None:
    ip.run_cell_magic("qwen", "-m qwen-plus,qwen-max -o cmp", "Hi")
    cmp = ip.user_ns["cmp"]
    assert cmp["qwen-max"].model == "qwen-max" and cmp["qwen-plus"].model == "qwen-plus"
    with pytest.raises(KeyError, match="no variant 'qwen-turbo'"):
        cmp["qwen-turbo"]


def test_vary_think_top_p_seed_and_samples(ip, final, emulator) -> None:
    ip.run_cell_magic("qwen", "--vary think -m qwen-plus -o cmp", "Hi")
    cmp = ip.user_ns["cmp"]
    assert cmp.keys() == [True, False] and cmp.titles == ["think", "no think"]
    assert sorted(b.get("enable_thinking") for b in bodies(emulator)) == [False, True]
    assert cmp[True].reasoning and not cmp[False].reasoning
    emulator.clear()
    ip.run_cell_magic("qwen", "--top-p 0.5,0.9 --seed 1,2 --no-think -o cmp", "Hi")
    cmp = ip.user_ns["cmp"]
    assert cmp.keys() == [(0.5, 1), (0.5, 2), (0.9, 1), (0.9, 2)]
    assert sorted((b["top_p"], b["seed"]) for b in bodies(emulator)) == cmp.keys()
    emulator.clear()
    ip.run_cell_magic("qwen", "-n 3 -m qwen-max -o cmp", "Pick a number")
    cmp = ip.user_ns["cmp"]
    assert cmp.keys() == [0, 1, 2] and cmp.titles == ["#1", "#2", "#3"]
    assert len(bodies(emulator)) == 3  # qwen-max has no n: one request per sample


def test_compare_with_json_parses_each_answer(ip, final, emulator) -> None:
    ip.run_cell_magic("qwen", "-m qwen-plus,qwen-max --json -o cmp", "Give JSON")
    assert [r.data for r in ip.user_ns["cmp"].values()] == [{"echo": "Give JSON"}] * 2


def test_the_side_by_side_html_is_sanitized(ip, final, emulator) -> None:
    hostile = '<script>alert(1)</script><img src=x onerror="alert(2)"> **bold**'
    emulator.default_reply = Reply(text=hostile, reasoning="")
    with capture_output() as cap:
        ip.run_cell_magic("qwen", "-t 0.1,0.9 --no-think", "Hi")
    table = cap.outputs[0].data["text/html"]
    assert "<script" not in table and "<img" not in table  # shown as text, never as tags
    assert "&lt;script&gt;" in table and "<strong>bold</strong>" in table


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("-t 0.1,0.9 -c talk", "-c/--chat can't be combined with a compare"),
        ("-t 0.1,x", "is not a number"),
        ("-t 0.1,", "is not a comma list"),
        ("-t 0.1,0.1", "names the same value twice"),
        ("-t 0.1,2.5", "temperature (-t) must be in [0, 2)"),
        ("--vary think --think", "--vary think compares thinking on and off"),
        ("-n 0", "-n asks for 1 to 32 samples"),
        ("-m a,b,c,d -t 0.1,0.2,0.3 --seed 1,2,3", "makes 36 variants"),
        ("--vary speed", "invalid choice: 'speed'"),
    ],
)
def test_bad_compare_is_one_usage_error_before_any_request(ip, final, emulator, line, message):
    with pytest.raises(UsageError) as info:
        ip.run_cell_magic("qwen", line, "Hi")
    assert message in " ".join(str(info.value).split())
    assert emulator.requests == []


def test_live_grid_has_one_panel_per_variant_headed_in_order(ip, emulator, comms) -> None:
    with capture_output() as cap:
        ip.run_cell_magic("qwen", "-m qwen-plus,qwen-max,qwen-turbo --no-think", "Hi")
    headers = [
        m[1]["state"]["value"]
        for m in comms.messages
        if m[0] == "comm_open" and "<b>" in str(m[1].get("state", {}).get("value", ""))
    ]
    titles = [re.search(r"<b>(.*?)</b>", h).group(1) for h in headers]
    assert titles == ["qwen-plus", "qwen-max", "qwen-turbo"]
    final = cap.outputs[-1].data["text/html"]  # the grid replaced by the static table
    assert re.findall(r"<th style[^>]*>(.*?)</th>", final) == titles
