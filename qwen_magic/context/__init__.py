"""Your data and files as context: ``{df}`` summaries, ``--file`` and ``--url`` attachments,
each counted in tokens (the Qwen tokenizer the dashscope package ships) within a budget.

Below the IPython layer: it knows values, paths and URLs, never the shell or a widget.
"""

from __future__ import annotations

DEFAULT_BUDGET = 2000  # tokens of context per prompt (QwenMagics.context_budget)
