"""Before sending: --dry-run shows what would be sent and its estimate and sends nothing;
the session budget refuses, with the numbers, a call whose estimate would pass it, before any
request, and warns once at 80 %."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

from qwen_magic.context.tokens import count
from qwen_magic.pricing import money
from qwen_magic.testing import Reply


def generation_requests(emulator) -> list:
    return [r for r in emulator.requests if r.protocol not in ("models",)]


def test_dry_run_shows_what_would_be_sent_and_sends_nothing(ip, emulator, test_key, tmp_path):
    from PIL import Image

    Image.new("RGB", (8, 8), "red").save(tmp_path / "red.png")
    with capture_output() as cap:
        ip.run_cell_magic(
            "qwen",
            f"-m qwen-max --dry-run --max-tokens 100 -t 0.3 -i {tmp_path / 'red.png'} -o est",
            "Describe this picture for the class",
        )
    assert generation_requests(emulator) == []  # nothing went out
    shown = cap.outputs[0].data["text/markdown"]
    assert "nothing was sent" in shown
    assert '"temperature": 0.3' in shown and '"max_tokens": 100' in shown
    assert "compatible-mode/v1" in shown  # the endpoint
    assert "base64,…(" in shown  # the image elided
    assert test_key not in shown and "emulator-key" not in shown
    assert "not counted" in shown  # images are not counted
    run = ip.user_ns["est"]
    (one,) = run.estimates
    assert one.input_tokens >= count("Describe this picture for the class").tokens
    assert one.output_high == 100
    low = one.input_tokens * 1.6 / 1e6
    high = low + 100 * 6.4 / 1e6
    assert (run.low.amount, run.high.amount) == (pytest.approx(low), pytest.approx(high))
    assert f"{run.low}–{run.high}" in cap.outputs[0].data["text/plain"]
    assert f"{run.low}–{run.high}".replace("$", "&#36;") in shown  # no math in Markdown


def test_dry_run_without_max_tokens_estimates_a_typical_answer(ip, emulator):
    with capture_output() as cap:
        ip.run_cell_magic("qwen", "-m qwen-max --dry-run", "Hello")
    assert "a typical answer" in cap.outputs[0].data["text/markdown"]
    assert generation_requests(emulator) == []


def test_dry_run_of_each_and_compare_estimates_the_total(ip, emulator):
    ip.user_ns["qs"] = ["one", "two", "three"]
    with capture_output() as cap:
        ip.run_cell_magic("qwen", "-m qwen-max --each qs --dry-run -o est", "Answer {item}")
    run = ip.user_ns["est"]
    assert len(run.estimates) == 3
    assert run.high.amount == pytest.approx(sum(e.high.amount for e in run.estimates))
    assert "| one |" in cap.outputs[0].data["text/markdown"]
    with capture_output():
        ip.run_cell_magic("qwen", "-m qwen-max,qwen-plus --no-think --dry-run -o cmp", "Hi")
    assert [e.model for e in ip.user_ns["cmp"].estimates] == ["qwen-max", "qwen-plus"]
    assert generation_requests(emulator) == []


def test_dry_run_of_an_unknown_model_says_unknown(ip, emulator):
    with capture_output() as cap:
        ip.run_cell_magic("qwen", "-m qwen3-vl-plus --dry-run", "Hello")
    assert "cost unknown" in cap.outputs[0].data["text/markdown"]


def test_the_budget_refuses_before_any_request_with_the_numbers(ip, emulator):
    emulator.queue(Reply(text="Hello there", prompt_tokens=1000))
    with capture_output():
        ip.run_cell_magic("qwen", "-q -m qwen-max", "Hi")
    spent = ip.user_ns["_qwen"].cost.amount
    sent = len(generation_requests(emulator))
    ip.run_line_magic("config", f"QwenMagics.budget = {spent + 0.001}")
    with pytest.raises(UsageError) as refused:
        ip.run_cell_magic("qwen", "-q -m qwen-max --max-tokens 1000", "Write an essay")
    message = str(refused.value)
    assert len(generation_requests(emulator)) == sent  # nothing went out
    budget = money(spent + 0.001, "USD")
    assert f"spent {money(spent, 'USD')} of its {budget} budget" in message
    assert "this call could cost up to $0.0064" in message  # 1000 × $6.4/M, plus the input
    assert "QwenMagics.budget = " in message and "Nothing was sent" in message
    assert "\n" not in message  # one paragraph


def test_the_budget_checks_the_total_of_each(ip, emulator):
    ip.run_line_magic("config", "QwenMagics.budget = 0.004")
    ip.user_ns["qs"] = list(range(5))  # 5 × up to 500 tokens × $6.4/M ≈ $0.016
    with pytest.raises(UsageError, match="5 requests could cost up to"):
        ip.run_cell_magic("qwen", "-q -m qwen-max --each qs", "Answer {item}")
    assert generation_requests(emulator) == []


def test_the_budget_refuses_a_model_it_cannot_price(ip, emulator):
    ip.run_line_magic("config", "QwenMagics.budget = 5")
    with pytest.raises(UsageError, match="can't be checked against it.*QwenMagics.prices"):
        ip.run_cell_magic("qwen", "-q -m qwen3-vl-plus", "Hi")
    assert generation_requests(emulator) == []


def test_the_budget_warns_once_at_80_percent(ip, emulator):
    emulator.queue(Reply(text="ok", prompt_tokens=1000), Reply(text="ok"), Reply(text="ok"))
    with capture_output():
        ip.run_cell_magic("qwen", "-q -m qwen-max", "Hi")
    spent = ip.user_ns["_qwen"].cost.amount  # about $0.0016
    ip.run_line_magic("config", f"QwenMagics.budget = {spent * 1.2}")  # 83 % spent already
    with capture_output() as first:
        ip.run_cell_magic("qwen", "-q -m qwen-max --max-tokens 1", "Hi")
    assert first.stderr.count("qwen: budget:") == 1 and "budget (8" in first.stderr
    with capture_output() as again:
        ip.run_cell_magic("qwen", "-q -m qwen-max --max-tokens 1", "Hi")
    assert "qwen: budget:" not in again.stderr  # once
    assert len(generation_requests(emulator)) == 3  # warned, not refused


def test_a_bad_budget_is_refused_at_config_time(ip, magics, caplog):
    ip.run_line_magic("config", "QwenMagics.budget = -1")
    assert "QwenMagics.budget must be an amount" in caplog.text
    assert magics.budget is None


def test_the_budget_refuses_ask_too(ip, emulator):
    import qwen_magic

    ip.run_line_magic("config", "QwenMagics.budget = 0.001")  # under 1000 × $6.4/M
    with pytest.raises(UsageError, match="Over budget.*Nothing was sent"):
        qwen_magic.ask("Write an essay", model="qwen-max", max_tokens=1000, quiet=True)
    assert generation_requests(emulator) == []
    assert qwen_magic.ask("Hi", model="qwen-max", max_tokens=10, quiet=True).text  # within it
