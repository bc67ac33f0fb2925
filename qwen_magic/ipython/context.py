"""The magic's context step: ``{df}`` summaries, ``--file`` and ``--url``, within the budget.

Called by ``QwenMagics._prepare`` in place of the plain ``{name}`` filling. Files are read
and pages fetched first, so the ``{df}`` summaries share what they left of the budget; the
whole context is then checked against the budget before anything is sent.
"""

from __future__ import annotations

import sys
from typing import Any

from qwen_magic.context.attach import (
    check_budget,
    checked_budget,
    gather,
    summary_chips,
    with_context,
)
from qwen_magic.ipython.interpolate import Filled, interpolate_with_media, kept_note
from qwen_magic.request import Attachment


def fill_prompt(
    magics: Any, args: Any, prompt: str, namespace: dict[str, Any], calls: bool
) -> tuple[Filled, list[Attachment]]:
    """The filled prompt with the attached context after it, and one chip per attachment."""
    given = getattr(args, "context_budget", None)
    default = getattr(magics, "context_budget", None)
    budget = checked_budget(given) if given is not None else checked_budget(default)
    blocks = gather(getattr(args, "file", None) or [], getattr(args, "url", None) or [])
    used = sum(block.attachment.tokens for block in blocks)
    if args.raw:
        filled = Filled(prompt)
    else:
        filled = interpolate_with_media(
            prompt, namespace, calls=calls, budget=max(1, budget - used)
        )
        if filled.kept:
            print(kept_note(filled.kept, calls), file=sys.stderr)
    attachments = summary_chips(filled.summaries) + [block.attachment for block in blocks]
    check_budget(attachments, budget)
    filled.text = with_context(filled.text, blocks)
    return filled, attachments
