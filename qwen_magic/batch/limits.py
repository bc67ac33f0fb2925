"""Model Studio's limits on a Batch input file (docs/wire.md §11), checked before any upload.

One model per file, at most 50,000 requests and 500 MB per file, at most 6 MB per line. More
than fits one file is split into several files (one provider batch each); what can never be
sent (one line over 6 MB) is a UsageError naming the item. Sizes are counted in decimal
megabytes, the stricter reading of "MB".
"""

from __future__ import annotations

from collections.abc import Sequence

from qwen_magic.batch.jsonl import TEST_MODEL, Line
from qwen_magic.errors import QwenUsageError

MAX_REQUESTS = 50_000
MAX_FILE_BYTES = 500_000_000
MAX_LINE_BYTES = 6_000_000
TEST_MAX_REQUESTS = 100  # batch-test-model: at most 100 lines and 1 MB per file
TEST_MAX_FILE_BYTES = 1_000_000


def plan_files(lines: Sequence[Line]) -> list[list[Line]]:
    """The lines grouped into files the service accepts, in input order within each file:
    one model per file, each file under the request and size limits."""
    if not lines:
        raise QwenUsageError(
            "There is nothing to submit: the items are empty. Give --each a list, Series or "
            "DataFrame with at least one item."
        )
    for line in lines:
        if len(line.data) > MAX_LINE_BYTES:
            raise QwenUsageError(
                f"Item {line.position} makes a request of {_mb(len(line.data))}, over the Batch "
                f"API's limit of {_mb(MAX_LINE_BYTES)} per request; nothing was sent. Shorten "
                "that item (or send large images by URL rather than inline) and submit again."
            )
    if lines[0].model == TEST_MODEL:
        size = sum(len(line.data) for line in lines)
        if len(lines) > TEST_MAX_REQUESTS or size > TEST_MAX_FILE_BYTES:
            raise QwenUsageError(
                f"A --dry-run goes to the free test model, which takes at most "
                f"{TEST_MAX_REQUESTS} requests and {_mb(TEST_MAX_FILE_BYTES)} per file; this is "
                f"{len(lines)} requests, {_mb(size)}. Try the flow on a slice "
                "(e.g. `items[:20]`), then submit the whole without --dry-run."
            )
    by_model: dict[str, list[Line]] = {}
    for line in lines:
        by_model.setdefault(line.model, []).append(line)
    files: list[list[Line]] = []
    for group in by_model.values():
        current: list[Line] = []
        size = 0
        for line in group:
            if current and (len(current) >= MAX_REQUESTS or size + len(line.data) > MAX_FILE_BYTES):
                files.append(current)
                current, size = [], 0
            current.append(line)
            size += len(line.data)
        files.append(current)
    return files


def _mb(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"
