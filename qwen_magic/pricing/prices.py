"""Model Studio prices per million tokens, as published, per model and region.

Only numbers read on a published Alibaba Cloud page are here, each entry with its source and
date; a model (or a region, or an input length past the last tier) that is not here costs
"unknown", never a guess. Prices change: check the source, and add or correct entries with
``%config QwenMagics.prices = {...}`` or ``QwenMagics.prices_file = "prices.toml"`` (a TOML
or JSON file of the same shape as ``PRICES``).

A tier: ``up_to`` (the largest input, in tokens, priced by this tier; absent: no limit),
``input``, ``output``, ``output_thinking`` (the output price in thinking mode; absent: a
thinking answer of this model costs "unknown"), ``cached_input`` (absent: the implicit cache's
20 % of input). Currency: USD on the international site (Singapore), CNY on the mainland site
(Beijing). The Batch API bills half of all of it, without the cache discount.

The Model Studio pricing pages (``model-pricing``) tier by the request's input tokens, where
"K means 1,000 and M means 1,000,000" (128K = 128,000 tokens), and list one output price for
"Non-Thinking and Thinking modes" where both cost the same ("chain of thought + answer").
Regions other than Singapore and Beijing (US, Hong Kong, Frankfurt) list several deployment
scopes at different prices for the same model, so they are left out.
"""

from __future__ import annotations

from typing import Any

AS_OF = "2026-11"

# The international pricing page (USD), "Singapore" tab, deployment scope "International".
INTL = "https://www.alibabacloud.com/help/en/model-studio/model-pricing"
# The mainland pricing page (CNY), "华北2（北京）" (China (Beijing)) tables.
MAINLAND = "https://help.aliyun.com/zh/model-studio/model-pricing"
READ = "read 2026-11 (stored copy of the page; it shows no date)"

PRICES: dict[str, Any] = {
    "as_of": AS_OF,
    "models": [
        # --- Singapore (international site, USD) ---
        # Flagship models table: context 32,768 tokens, input $1.6, output $6.4 per million.
        # (The 2026 model-pricing page still lists qwen-max, "Non-Thinking mode only", "No
        # tiered pricing", $1.6 / $6.4.)
        {
            "model": "qwen-max",
            "regions": ["sg"],
            "currency": "USD",
            "as_of": "2025-04-22 (the page's date)",
            "source": "https://www.alibabacloud.com/help/en/model-studio/billing-for-model-studio",
            "tiers": [
                {"up_to": 32768, "input": 1.6, "output": 6.4},
            ],
        },
        # "qwen3-max (Currently equivalent to qwen3-max-2026-01-23) | International |
        # Non-Thinking and Thinking modes | 0<Token≤32K $1.2 $6 | 32K<Token≤128K $2.4 $12 |
        # 128K<Token≤256K $3 $15" (output: "Chain of thought + answer").
        {
            "model": "qwen3-max",
            "regions": ["sg"],
            "currency": "USD",
            "as_of": READ,
            "source": INTL,
            "tiers": [
                {"up_to": 32_000, "input": 1.2, "output": 6.0, "output_thinking": 6.0},
                {"up_to": 128_000, "input": 2.4, "output": 12.0, "output_thinking": 12.0},
                {"up_to": 256_000, "input": 3.0, "output": 15.0, "output_thinking": 15.0},
            ],
        },
        # "qwen3.8-max | International | Non-Thinking and Thinking modes | 0<Token≤1M | $2 | $6".
        {
            "model": "qwen3.8-max",
            "regions": ["sg"],
            "currency": "USD",
            "as_of": READ,
            "source": INTL,
            "tiers": [
                {"up_to": 1_000_000, "input": 2.0, "output": 6.0, "output_thinking": 6.0},
            ],
        },
        # "qwen-plus (Currently equivalent to qwen-plus-2025-12-01) | International |
        # 0<Token≤256K | $0.4 | $1.2 (Non-Thinking) | $4 (Thinking) | 256K<Token≤1M | $1.2 |
        # $3.6 | $12".
        {
            "model": "qwen-plus",
            "regions": ["sg"],
            "currency": "USD",
            "as_of": READ,
            "source": INTL,
            "tiers": [
                {"up_to": 256_000, "input": 0.4, "output": 1.2, "output_thinking": 4.0},
                {"up_to": 1_000_000, "input": 1.2, "output": 3.6, "output_thinking": 12.0},
            ],
        },
        # "qwen3.6-plus (Currently equivalent to qwen3.6-plus-2026-04-02) | International |
        # 0<Token≤256K | $0.5 | $3 | $3 | 256K<Token≤1M | $2 | $6 | $6".
        {
            "model": "qwen3.6-plus",
            "regions": ["sg"],
            "currency": "USD",
            "as_of": READ,
            "source": INTL,
            "tiers": [
                {"up_to": 256_000, "input": 0.5, "output": 3.0, "output_thinking": 3.0},
                {"up_to": 1_000_000, "input": 2.0, "output": 6.0, "output_thinking": 6.0},
            ],
        },
        # Flagship models table: Qwen-Turbo, maximum context 1,008,192 tokens, minimum input
        # price $0.05, minimum output price $0.2 per million; no thinking-mode price there (the
        # stored copy of the 2026 pricing page ends before Qwen-Turbo's Singapore tab).
        {
            "model": "qwen-turbo",
            "regions": ["sg"],
            "currency": "USD",
            "as_of": "2025-04-22 (the page's date)",
            "source": "https://www.alibabacloud.com/help/en/model-studio/billing-for-model-studio",
            "tiers": [
                {"up_to": 1008192, "input": 0.05, "output": 0.2},
            ],
        },
        # --- Beijing (mainland site, CNY) ---
        # "qwen3-max (当前能力等同于qwen3-max-2026-01-23) | 非思考和思考模式 |
        # 0<Token≤32K 2.5元 10元 | 32K<Token≤128K 4元 16元 | 128K<Token≤256K 7元 28元"
        # (output: 思维链+回答).
        {
            "model": "qwen3-max",
            "regions": ["cn"],
            "currency": "CNY",
            "as_of": READ,
            "source": MAINLAND,
            "tiers": [
                {"up_to": 32_000, "input": 2.5, "output": 10.0, "output_thinking": 10.0},
                {"up_to": 128_000, "input": 4.0, "output": 16.0, "output_thinking": 16.0},
                {"up_to": 256_000, "input": 7.0, "output": 28.0, "output_thinking": 28.0},
            ],
        },
        # "qwen-max | 仅非思考模式 | 无阶梯计价 | 2.4元 | 9.6元" (non-thinking only, no tiers).
        {
            "model": "qwen-max",
            "regions": ["cn"],
            "currency": "CNY",
            "as_of": READ,
            "source": MAINLAND,
            "tiers": [
                {"input": 2.4, "output": 9.6},
            ],
        },
        # "qwen3.8-max | 非思考和思考模式 | 0<Token≤1M | 12元 | 36元".
        {
            "model": "qwen3.8-max",
            "regions": ["cn"],
            "currency": "CNY",
            "as_of": READ,
            "source": MAINLAND,
            "tiers": [
                {"up_to": 1_000_000, "input": 12.0, "output": 36.0, "output_thinking": 36.0},
            ],
        },
        # "qwen3.6-plus (当前能力等同于qwen3.6-plus-2026-04-02) | 0<Token≤256K | 2元 | 12元 |
        # 12元 | 256K<Token≤1M | 8元 | 48元 | 48元" (input | non-thinking | thinking output).
        {
            "model": "qwen3.6-plus",
            "regions": ["cn"],
            "currency": "CNY",
            "as_of": READ,
            "source": MAINLAND,
            "tiers": [
                {"up_to": 256_000, "input": 2.0, "output": 12.0, "output_thinking": 12.0},
                {"up_to": 1_000_000, "input": 8.0, "output": 48.0, "output_thinking": 48.0},
            ],
        },
        # International page: "qwen3.5-plus | International | 0‹Token≤256K | $0.4 | $2.4 | $2.4 |
        # 256K‹Token≤1M | $0.5 | $3 | $3" (input, output, thinking output).
        {
            "model": "qwen3.5-plus",
            "regions": ["sg"],
            "currency": "USD",
            "as_of": READ,
            "source": INTL,
            "tiers": [
                {"up_to": 256_000, "input": 0.4, "output": 2.4, "output_thinking": 2.4},
                {"up_to": 1_000_000, "input": 0.5, "output": 3.0, "output_thinking": 3.0},
            ],
        },
        # "qwen3.5-plus (当前能力等同于qwen3.5-plus-2026-02-15) | 0<Token≤128K | 0.8元 | 4.8元 |
        # 4.8元 | 128K<Token≤256K | 2元 | 12元 | 12元 | 256K<Token≤1M | 4元 | 24元 | 24元".
        {
            "model": "qwen3.5-plus",
            "regions": ["cn"],
            "currency": "CNY",
            "as_of": READ,
            "source": MAINLAND,
            "tiers": [
                {"up_to": 128_000, "input": 0.8, "output": 4.8, "output_thinking": 4.8},
                {"up_to": 256_000, "input": 2.0, "output": 12.0, "output_thinking": 12.0},
                {"up_to": 1_000_000, "input": 4.0, "output": 24.0, "output_thinking": 24.0},
            ],
        },
        # "qwen-plus (当前能力等同于qwen-plus-2025-12-01) | 0<Token≤128K | 0.8元 | 2元 | 8元 |
        # 128K<Token≤256K | 2.4元 | 20元 | 24元 | 256K<Token≤1M | 4.8元 | 48元 | 64元" (the same
        # prices as help.aliyun.com/en/document_detail/3023262.html gives per 1,000 tokens).
        {
            "model": "qwen-plus",
            "regions": ["cn"],
            "currency": "CNY",
            "as_of": READ,
            "source": MAINLAND,
            "tiers": [
                {"up_to": 128_000, "input": 0.8, "output": 2.0, "output_thinking": 8.0},
                {"up_to": 256_000, "input": 2.4, "output": 20.0, "output_thinking": 24.0},
                {"up_to": 1_000_000, "input": 4.8, "output": 48.0, "output_thinking": 64.0},
            ],
        },
        # "qwen3.5-flash (当前能力等同于qwen3.5-flash-2026-02-23) | 非思考和思考模式 |
        # 0<Token≤128K 0.2元 2元 | 128K<Token≤256K 0.8元 8元 | 256K<Token≤1M 1.2元 12元".
        {
            "model": "qwen3.5-flash",
            "regions": ["cn"],
            "currency": "CNY",
            "as_of": READ,
            "source": MAINLAND,
            "tiers": [
                {"up_to": 128_000, "input": 0.2, "output": 2.0, "output_thinking": 2.0},
                {"up_to": 256_000, "input": 0.8, "output": 8.0, "output_thinking": 8.0},
                {"up_to": 1_000_000, "input": 1.2, "output": 12.0, "output_thinking": 12.0},
            ],
        },
        # "qwen-flash (当前能力等同于qwen-flash-2025-07-28) | 非思考和思考模式 |
        # 0<Token≤128K 0.15元 1.5元 | 128K<Token≤256K 0.6元 6元 | 256K<Token≤1M 1.2元 12元".
        {
            "model": "qwen-flash",
            "regions": ["cn"],
            "currency": "CNY",
            "as_of": READ,
            "source": MAINLAND,
            "tiers": [
                {"up_to": 128_000, "input": 0.15, "output": 1.5, "output_thinking": 1.5},
                {"up_to": 256_000, "input": 0.6, "output": 6.0, "output_thinking": 6.0},
                {"up_to": 1_000_000, "input": 1.2, "output": 12.0, "output_thinking": 12.0},
            ],
        },
        # "qwen-turbo | 非思考和思考模式 | 0.3元 | 0.6元 (非思考模式) | 3元 (思考模式)"
        # (no tiers).
        {
            "model": "qwen-turbo",
            "regions": ["cn"],
            "currency": "CNY",
            "as_of": READ,
            "source": MAINLAND,
            "tiers": [
                {"input": 0.3, "output": 0.6, "output_thinking": 3.0},
            ],
        },
        # 千问VL, 更多模型: "qwen-vl-max | 无阶梯计价 | 1.6元 | 4元" (no thinking price).
        {
            "model": "qwen-vl-max",
            "regions": ["cn"],
            "currency": "CNY",
            "as_of": READ,
            "source": MAINLAND,
            "tiers": [
                {"input": 1.6, "output": 4.0},
            ],
        },
        # 千问VL, 更多模型: "qwen-vl-plus | 无阶梯计价 | 0.8元 | 2元" (no thinking price).
        {
            "model": "qwen-vl-plus",
            "regions": ["cn"],
            "currency": "CNY",
            "as_of": READ,
            "source": MAINLAND,
            "tiers": [
                {"input": 0.8, "output": 2.0},
            ],
        },
        # 千问Coder: "qwen3-coder-plus (当前能力等同于qwen3-coder-plus-2025-09-23) |
        # 0<Token≤32K 4元 16元 | 32K<Token≤128K 6元 24元 | 128K<Token≤256K 10元 40元 |
        # 256K<Token≤1M 20元 200元" (no thinking price).
        {
            "model": "qwen3-coder-plus",
            "regions": ["cn"],
            "currency": "CNY",
            "as_of": READ,
            "source": MAINLAND,
            "tiers": [
                {"up_to": 32_000, "input": 4.0, "output": 16.0},
                {"up_to": 128_000, "input": 6.0, "output": 24.0},
                {"up_to": 256_000, "input": 10.0, "output": 40.0},
                {"up_to": 1_000_000, "input": 20.0, "output": 200.0},
            ],
        },
        # Qwen3 (open source): "qwen3-32b | 非思考和思考模式 | 2元 | 8元 | 20元" (the same as
        # help.aliyun.com/en/document_detail/3023262.html, per 1,000 tokens there).
        {
            "model": "qwen3-32b",
            "regions": ["cn"],
            "currency": "CNY",
            "as_of": READ,
            "source": MAINLAND,
            "tiers": [
                {"input": 2.0, "output": 8.0, "output_thinking": 20.0},
            ],
        },
        # The Batch API's free test model (url /v1/chat/ds-test): nothing is billed.
        {
            "model": "batch-test-model",
            "regions": ["*"],
            "as_of": "2026-11",
            "source": "https://www.alibabacloud.com/help/en/model-studio/batch-interfaces-compatible-with-openai",
            "tiers": [
                {"input": 0.0, "output": 0.0, "output_thinking": 0.0},
            ],
        },
    ],
}
