"""Cost through the user's path (%%qwen on the emulator, priced at the configured region):
the static usage line, the live footer, ``Result.cost``, ``%qwencmd usage``, compare and
--each totals, and a Batch job's answers at half price."""

from __future__ import annotations

import pytest
from IPython.utils.capture import capture_output

from qwen_magic.testing import Reply


def markdown_of(cap) -> str:
    return cap.outputs[-1].data["text/markdown"]


def test_the_static_usage_line_and_result_cost(ip, emulator):
    emulator.queue(Reply(text="Hello there, class", prompt_tokens=1000, cached_tokens=400))
    with capture_output() as cap:
        ip.run_line_magic("config", "QwenMagics.display = 'final'")
        ip.run_cell_magic("qwen", "-m qwen-max", "Say hello")
    result = ip.user_ns["_qwen"]
    u = result.usage
    assert (u.input_tokens, u.cached_tokens) == (1000, 400)
    expected = (600 * 1.6 + 400 * 1.6 * 0.2 + u.output_tokens * 6.4) / 1e6
    assert result.cost.amount == pytest.approx(expected)
    assert result.cost.currency == "USD" and result.cost.breakdown["cached input"] > 0
    line = markdown_of(cap).splitlines()[-1]
    assert str(result.cost) == f"${expected:.4f}"  # two significant digits
    assert f"· &#36;{expected:.4f} ·" in line  # "$" escaped so no math renders
    assert "400 cached" in line


def test_an_unknown_model_says_cost_unknown(ip, emulator):
    emulator.queue(Reply(text="Hi"))
    with capture_output() as cap:
        ip.run_line_magic("config", "QwenMagics.display = 'final'")
        ip.run_cell_magic("qwen", "-m qwen3-vl-plus --no-think", "Hi")
    assert ip.user_ns["_qwen"].cost.amount is None
    assert "cost unknown" in markdown_of(cap)


def test_the_mainland_region_is_priced_in_cny(ip, emulator):
    ip.run_line_magic("config", "QwenMagics.region = 'cn'")
    emulator.queue(Reply(text="Hi", reasoning="Let me think", prompt_tokens=2000))
    with capture_output():
        ip.run_cell_magic("qwen", "-m qwen-plus --think -q", "Hi")
    cost = ip.user_ns["_qwen"].cost
    assert cost.currency == "CNY" and "thinking output" in cost.breakdown
    assert str(cost).startswith("¥")


def test_the_live_footer_shows_the_cost_as_it_grows(ip, emulator, comms):
    """The native protocol reports usage on every frame: the footer's cost grows with the
    answer (chat reports it at the end, where the static line shows it)."""
    emulator.queue(Reply(text="Hello " * 30, chunks=30, delay=0.02, prompt_tokens=500))
    with capture_output():
        ip.run_line_magic("config", "QwenMagics.display = 'live'")
        ip.run_cell_magic("qwen", "-m qwen-max --api dashscope", "Hi")
    footers = [
        d["state"]["value"]
        for _, d in comms.messages
        if " in · " in str(d.get("state", {}).get("value", ""))
    ]
    costs = {part for f in footers for part in f.split(" · ") if part.startswith("$")}
    assert len(costs) > 1  # refreshed as tokens arrived


def test_usage_shows_cost_per_model_and_the_total(ip, emulator):
    emulator.queue(Reply(text="a b"), Reply(text="c"), Reply(text="d"))
    with capture_output():
        ip.run_cell_magic("qwen", "-q -m qwen-max", "one")
        ip.run_cell_magic("qwen", "-q -m qwen-max", "two")
        ip.run_cell_magic("qwen", "-q -m qwen3-vl-plus --no-think", "three")
    table = ip.run_line_magic("qwencmd", "usage")
    rows = {row[0]: row for row in table.rows}
    assert rows["model"][-1] == "cost"
    assert rows["qwen-max"][-1].startswith("$") and rows["qwen3-vl-plus"][-1] == "1 call unknown"
    assert rows["total"][-1] == f"{rows['qwen-max'][-1]} + 1 call unknown"


def test_compare_and_each_totals(ip, emulator):
    emulator.queue(Reply(text="a"), Reply(text="b"))
    with capture_output():
        ip.run_cell_magic("qwen", "-q -m qwen-max,qwen-plus --no-think -o cmp", "Hi")
    comparison = ip.user_ns["cmp"]
    assert comparison.cost.amount == pytest.approx(sum(r.cost.amount for r in comparison.values()))
    ip.user_ns["qs"] = ["x", "y", "z"]
    with capture_output():
        ip.run_cell_magic("qwen", "-q -m qwen-max --each qs -o res", "Answer {item}")
    results = ip.user_ns["res"]
    assert results.cost.amount == pytest.approx(sum(r.cost.amount for r in results))
    assert str(results.cost).startswith("$")


def test_a_batch_job_costs_half(ip, emulator, tmp_path, monkeypatch):
    monkeypatch.setenv("QWEN_MAGIC_DATA_DIR", str(tmp_path))
    emulator.batches.duration = 0
    ip.user_ns["qs"] = ["q1", "q2"]
    with capture_output():
        ip.run_cell_magic("qwen", "--each qs --batch -o job -m qwen-max", "Answer {item}")
    results = ip.user_ns["job"].wait(poll=0.01).results()
    for result in results:
        u = result.usage
        full = (u.input_tokens * 1.6 + u.output_tokens * 6.4) / 1e6
        assert result.cost.amount == pytest.approx(full / 2)
        assert "half price" in result.cost.note
    assert results.cost.amount == pytest.approx(sum(r.cost.amount for r in results))
