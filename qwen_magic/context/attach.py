"""Files and pages as labelled blocks after the prompt, each counted, and the budget check.

What is sent: the prompt, a blank line, then one block per attachment, headed by what it is
(``File: sales.csv (csv)``, ``Web page: Title — https://…``) with its text in a fence long
enough that nothing inside can close it. The chip's tokens are the block's tokens.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from qwen_magic.context import DEFAULT_BUDGET
from qwen_magic.context.tokens import count
from qwen_magic.errors import QwenUsageError
from qwen_magic.request import Attachment

MAX_BUDGET = 1_000_000  # tokens: the longest context window of any Qwen model


@dataclass(frozen=True)
class Block:
    attachment: Attachment
    text: str  # the labelled block, as sent


def fenced(header: str, text: str, language: str = "") -> str:
    """``header`` then ``text`` in a code fence longer than any backtick run inside it."""
    runs = [len(m.group(0)) for m in re.finditer(r"`{3,}", text)]
    fence = "`" * max(3, max(runs, default=0) + 1)
    return f"{header}\n{fence}{language}\n{text.rstrip()}\n{fence}"


def gather(files: Sequence[str], urls: Sequence[str]) -> list[Block]:
    """The blocks of ``--file`` patterns and ``--url`` pages, in the order given (every file
    is checked before any page is fetched)."""
    from qwen_magic.context.files import expand, read_file

    blocks = []
    for path in expand(list(files)):
        item = read_file(path)
        pages = f", {item.pages} pages" if item.pages else ""
        text = fenced(f"File: {item.name} ({item.kind}{pages})", item.text, item.language)
        blocks.append(_block(item.name, item.kind, text))
    if urls:
        from qwen_magic.context.web import fetch_pages

        for page in fetch_pages(list(urls)):
            title = f"{page.title} — " if page.title else ""
            text = fenced(f"Web page: {title}{page.final_url}", page.text, page.language)
            blocks.append(_block(page.url, page.kind, text))
    return blocks


def _block(name: str, kind: str, text: str) -> Block:
    counted = count(text)
    return Block(Attachment(name, kind, counted.tokens, counted.exact), text)


def summary_chips(summaries: Sequence[Any]) -> list[Attachment]:
    """The chips of a prompt's ``{df}`` summaries (``interpolate.Filled.summaries``)."""
    return [Attachment(s.name, s.kind, s.count.tokens, s.count.exact) for s in summaries]


def with_context(prompt: str, blocks: Sequence[Block]) -> str:
    """The prompt with the blocks after it."""
    if not blocks:
        return prompt
    return "\n\n".join([prompt.rstrip(), *(block.text for block in blocks)]).lstrip()


def checked_budget(value: object, where: str = "--context-budget") -> int:
    if value is None:
        return DEFAULT_BUDGET
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_BUDGET:
        raise QwenUsageError(
            f"{where} {value!r}: give a number of tokens from 1 to {MAX_BUDGET:,} (the default "
            f"is {DEFAULT_BUDGET:,})."
        )
    return value


def check_budget(attachments: Sequence[Attachment], budget: int) -> None:
    """A UsageError, with every attachment's tokens, when together they pass ``budget``."""
    total = sum(a.tokens for a in attachments)
    if total <= budget:
        return
    exact = all(a.exact for a in attachments)
    approx = "" if exact else "≈"
    items = "; ".join(
        f"{a.name} ({'' if a.exact else '≈'}{a.tokens:,} tokens)" for a in attachments
    )
    raise_to = int(math.ceil(total / 1000) * 1000)
    raise QwenUsageError(
        f"The context is over its budget: {items}: {approx}{total:,} tokens in all, and the "
        f"budget is {budget:,} tokens. Raise it for this cell with --context-budget "
        f"{raise_to} (or for the session: %config QwenMagics.context_budget = {raise_to}), "
        "or attach less (a narrower --file glob, fewer rows or columns in {df}). "
        "Nothing was sent."
    )


def attach(
    prompt: str, files: Sequence[str], urls: Sequence[str], budget: object, default: int
) -> tuple[str, list[Attachment]]:
    """``ask(prompt, files=..., urls=...)``: the prompt with the blocks after it, and their
    chips, checked against the budget (``context_budget=``, else ``default``)."""
    blocks, attachments = shared_blocks(files, urls, budget, default, "context_budget=")
    return with_context(prompt, blocks), attachments


def shared_blocks(
    files: Sequence[str], urls: Sequence[str], budget: object, default: int, where: str
) -> tuple[list[Block], list[Attachment]]:
    """The blocks of ``files`` and ``urls``, read once for every prompt they follow (one
    call, each item of ``--each``, each variant of a compare), and their chips, checked
    against the budget (``budget``, else ``default``; ``where`` names the option)."""
    limit = checked_budget(budget if budget is not None else default, where)
    blocks = gather(files, urls)
    attachments = [block.attachment for block in blocks]
    check_budget(attachments, limit)
    return blocks, attachments
