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
"""

from __future__ import annotations

from typing import Any

AS_OF = "2026-11"

PRICES: dict[str, Any] = {
    "as_of": AS_OF,
    "models": [
        # Flagship models table: context 32,768 tokens, input $1.6, output $6.4 per million.
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
        # Flagship models table: context 131,072 tokens, input $0.4, output $1.2 per million; that
        # page gives no thinking-mode price, so a thinking answer costs "unknown".
        {
            "model": "qwen-plus",
            "regions": ["sg"],
            "currency": "USD",
            "as_of": "2025-04-22 (the page's date)",
            "source": "https://www.alibabacloud.com/help/en/model-studio/billing-for-model-studio",
            "tiers": [
                {"up_to": 131072, "input": 0.4, "output": 1.2},
            ],
        },
        # Alibaba Cloud's mainland help center (AI PaaS billing rules), CNY per 1,000 tokens there
        # (0.0008 / 0.002 / 0.008 ...), here per million; tiered by the request's input length,
        # with a separate output price in thinking mode.
        {
            "model": "qwen-plus",
            "regions": ["cn"],
            "currency": "CNY",
            "as_of": "read 2026-11 (the page shows no date)",
            "source": "https://help.aliyun.com/en/document_detail/3023262.html",
            "tiers": [
                {"up_to": 131072, "input": 0.8, "output": 2.0, "output_thinking": 8.0},
                {"up_to": 262144, "input": 2.4, "output": 20.0, "output_thinking": 24.0},
                {"up_to": 1048576, "input": 4.8, "output": 48.0, "output_thinking": 64.0},
            ],
        },
        # The same page as qwen-plus (cn).
        {
            "model": "qwen3-32b",
            "regions": ["cn"],
            "currency": "CNY",
            "as_of": "read 2026-11 (the page shows no date)",
            "source": "https://help.aliyun.com/en/document_detail/3023262.html",
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
