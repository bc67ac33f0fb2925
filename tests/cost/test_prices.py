"""The price table: tiers by input length, cached input at 20 %, thinking output, the Batch
API's half price, free models, unknown models ("unknown", never a number), and the user's
own prices (``%config QwenMagics.prices`` and ``QwenMagics.prices_file``)."""

from __future__ import annotations

import json

import pytest

from qwen_magic.events import Usage
from qwen_magic.pricing import Pricing, builtin, cost_of, money, table_of


def cost(usage: Usage, model: str, region: str, **kw):
    return cost_of(usage, model, Pricing(builtin(), region), **kw)


def test_every_built_in_entry_is_dated_and_has_a_source_and_a_currency():
    table = builtin()
    assert table.as_of
    for entry in table.entries:
        assert entry.source.startswith("https://") and entry.as_of, entry.model
        assert entry.currency in ("USD", "CNY") or entry.regions == ("*",)


def test_a_flat_price_is_input_and_output_per_million_tokens():
    c = cost(Usage(10_000, 1_000_000), "qwen-max", "sg")
    assert (c.amount, c.currency) == (pytest.approx(10_000 * 1.6e-6 + 6.4), "USD")
    assert str(cost(Usage(1000, 500), "qwen-max", "sg")) == "$0.0048"


def test_tiers_are_chosen_by_the_input_length():
    short = cost(Usage(100_000, 1000), "qwen-plus", "cn")
    middle = cost(Usage(200_000, 1000), "qwen-plus", "cn")
    long = cost(Usage(500_000, 1000), "qwen-plus", "cn")
    assert short.currency == "CNY"
    assert short.amount == pytest.approx(100_000 * 0.8e-6 + 1000 * 2e-6)
    assert middle.amount == pytest.approx(200_000 * 2.4e-6 + 1000 * 20e-6)
    assert long.amount == pytest.approx(500_000 * 4.8e-6 + 1000 * 48e-6)


def test_an_input_past_the_last_tier_is_unknown():
    c = cost(Usage(200_000, 10), "qwen-max", "sg")  # qwen-max is priced up to 32,768 tokens
    assert c.amount is None and str(c) == "cost unknown" and "past the priced tiers" in c.note


def test_cached_input_costs_a_fifth_of_the_input_price():
    c = cost(Usage(10_000, 0, None, 4_000), "qwen-plus", "cn")
    assert c.breakdown["cached input"] == pytest.approx(4_000 * 0.8e-6 * 0.2)
    assert c.amount == pytest.approx(6_000 * 0.8e-6 + 4_000 * 0.8e-6 * 0.2)


def test_thinking_output_has_its_own_price():
    plain = cost(Usage(1000, 1000), "qwen-plus", "cn")
    thought = cost(Usage(1000, 1000, 600), "qwen-plus", "cn")  # reasoning tokens reported
    asked = cost(Usage(1000, 1000), "qwen-plus", "cn", thinking=True)
    assert thought.amount == asked.amount == pytest.approx(1000 * 0.8e-6 + 1000 * 8e-6)
    assert plain.amount == pytest.approx(1000 * 0.8e-6 + 1000 * 2e-6)
    assert "thinking output" in thought.breakdown


def test_a_thinking_answer_without_a_thinking_price_is_unknown():
    c = cost(Usage(1000, 1000, 600), "qwen-max", "sg")  # "Non-Thinking mode only"
    assert c.amount is None and "thinking" in c.note


def test_the_batch_api_costs_half_without_the_cache_discount():
    real = cost(Usage(10_000, 2_000), "qwen-plus", "cn")
    batch = cost(Usage(10_000, 2_000, None, 5_000), "qwen-plus", "cn", batch=True)
    assert batch.amount == pytest.approx(real.amount / 2)
    assert "half price" in batch.note


def test_the_free_test_model_costs_nothing_anywhere():
    for region in ("sg", "cn"):
        assert cost(Usage(500, 500), "batch-test-model", region).amount == 0


def test_an_unknown_model_or_region_is_unknown_never_a_number():
    for model, region in (("qwen3-vl-plus", "sg"), ("qwen-max", "hk"), ("my-model", "us")):
        c = cost(Usage(10, 10), model, region)
        assert c.amount is None and str(c) == "cost unknown"
        assert model in c.note and "QwenMagics.prices" in c.note


# One model per added entry: it is priced, in its region's currency, from the page it cites.
ADDED = [
    ("qwen3-max", "sg", "USD", "/help/en/model-studio/model-pricing"),
    ("qwen3.8-max", "sg", "USD", "/help/en/model-studio/model-pricing"),
    ("qwen-plus", "sg", "USD", "/help/en/model-studio/model-pricing"),
    ("qwen3.6-plus", "sg", "USD", "/help/en/model-studio/model-pricing"),
    ("qwen-turbo", "sg", "USD", "/help/en/model-studio/billing-for-model-studio"),
    ("qwen3-max", "cn", "CNY", "/zh/model-studio/model-pricing"),
    ("qwen-max", "cn", "CNY", "/zh/model-studio/model-pricing"),
    ("qwen3.8-max", "cn", "CNY", "/zh/model-studio/model-pricing"),
    ("qwen3.6-plus", "cn", "CNY", "/zh/model-studio/model-pricing"),
    ("qwen3.5-plus", "cn", "CNY", "/zh/model-studio/model-pricing"),
    ("qwen3.5-flash", "cn", "CNY", "/zh/model-studio/model-pricing"),
    ("qwen-flash", "cn", "CNY", "/zh/model-studio/model-pricing"),
    ("qwen-turbo", "cn", "CNY", "/zh/model-studio/model-pricing"),
    ("qwen-vl-max", "cn", "CNY", "/zh/model-studio/model-pricing"),
    ("qwen-vl-plus", "cn", "CNY", "/zh/model-studio/model-pricing"),
    ("qwen3-coder-plus", "cn", "CNY", "/zh/model-studio/model-pricing"),
]


@pytest.mark.parametrize(("model", "region", "currency", "page"), ADDED)
def test_each_added_model_is_priced_from_its_page(model, region, currency, page):
    c = cost(Usage(1000, 1000), model, region)
    assert c.amount is not None and c.amount > 0
    assert c.currency == currency and page in c.source and c.as_of


def test_the_pricing_pages_tiers_count_k_as_1000_tokens():
    """The pages say "128K equals 128,000 tokens": 128,001 input tokens take the next tier."""
    at = cost(Usage(128_000, 0), "qwen3.5-plus", "cn").amount / 128_000
    past = cost(Usage(128_001, 0), "qwen3.5-plus", "cn").amount / 128_001
    assert past > at
    assert cost(Usage(1_000_001, 0), "qwen3.5-plus", "cn").amount is None  # past "≤1M"


def test_one_price_for_both_modes_prices_thinking_answers_the_same():
    """A table that lists one output price for "Non-Thinking and Thinking modes"."""
    plain = cost(Usage(1000, 1000), "qwen3-max", "sg")
    thought = cost(Usage(1000, 1000, 600), "qwen3-max", "sg")
    assert thought.amount == pytest.approx(plain.amount)
    assert "thinking output" in thought.breakdown


def test_no_tokens_yet_means_no_cost_yet():
    assert cost(Usage(), "qwen-max", "sg") is None


def test_money_shows_enough_digits_for_a_small_call():
    assert money(0.0000321, "USD") == "$0.000032"
    assert money(0.25, "CNY") == "¥0.25"
    assert money(12.5, "EUR") == "12.50 EUR"
    assert money(0, "USD") == "$0"


def test_prices_set_with_config_add_and_correct_models(ip, magics):
    ip.run_line_magic(
        "config",
        'QwenMagics.prices = {"qwen3.5-plus": {"input": 0.5, "output": 3, "regions": ["sg"]},'
        ' "qwen-max": {"input": 2, "output": 8, "currency": "USD"}}',
    )
    table = table_of(magics)
    added = cost_of(Usage(1_000_000, 0), "qwen3.5-plus", Pricing(table, "sg"))
    corrected = cost_of(Usage(1_000_000, 0), "qwen-max", Pricing(table, "sg"))
    assert (added.amount, added.currency) == (pytest.approx(0.5), "USD")
    assert corrected.amount == pytest.approx(2.0)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('{"qwen-max": {"input": -1, "output": 2}}', "input must be a price per million tokens"),
        ('{"qwen-max": {"input": 1}}', "output missing"),
        ('{"qwen-max": {"input": 1, "output": 2, "colour": 3}}', "unknown key(s) colour"),
        ('{"qwen-max": {"input": 1, "output": 2, "regions": ["mars"]}}', "regions must be"),
        ('{"qwen-max": 3}', "must be a dict such as"),
    ],
)
def test_bad_prices_are_refused_at_config_time(ip, magics, caplog, value, message):
    ip.run_line_magic("config", f"QwenMagics.prices = {value}")
    assert message in caplog.text
    assert not magics.prices  # not kept


def test_a_prices_file_in_toml_or_json(ip, magics, tmp_path):
    toml = tmp_path / "prices.toml"
    toml.write_text(
        '[[models]]\nmodel = "my-model"\nregions = ["sg"]\ncurrency = "USD"\n'
        "tiers = [{ up_to = 1000, input = 1.0, output = 2.0 }, { input = 3.0, output = 4.0 }]\n"
    )
    ip.run_line_magic("config", f"QwenMagics.prices_file = {str(toml)!r}")
    pricing = Pricing(table_of(magics), "sg")
    assert cost_of(Usage(1000, 0), "my-model", pricing).amount == pytest.approx(0.001)
    assert cost_of(Usage(2000, 0), "my-model", pricing).amount == pytest.approx(0.006)
    as_json = tmp_path / "prices.json"
    as_json.write_text(json.dumps({"other-model": {"input": 1, "output": 1}}))
    ip.run_line_magic("config", f"QwenMagics.prices_file = {str(as_json)!r}")
    assert cost_of(Usage(10**6, 0), "other-model", Pricing(table_of(magics), "us")).amount == 1


def test_a_missing_or_broken_prices_file_is_refused(ip, magics, caplog, tmp_path):
    ip.run_line_magic("config", f"QwenMagics.prices_file = {str(tmp_path / 'none.toml')!r}")
    assert "can't be read" in caplog.text
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    ip.run_line_magic("config", f"QwenMagics.prices_file = {str(bad)!r}")
    assert "is not valid JSON" in caplog.text
    assert magics.prices_file is None
