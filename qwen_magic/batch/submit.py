"""Submitting: Requests → JSONL files within the limits → uploads → provider batches → a
``BatchJob``, recorded in the local job store as each batch is created."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from typing import Any

from qwen_magic import masking
from qwen_magic.batch.access import key_env_of
from qwen_magic.batch.job import BatchJob, update_part
from qwen_magic.batch.jsonl import ENDPOINT, TEST_ENDPOINT, encode
from qwen_magic.batch.limits import plan_files
from qwen_magic.batch.store import JobRecord, JobStore, Part, new_id, ranges_of
from qwen_magic.errors import QwenUsageError
from qwen_magic.request import Request

WINDOW_HOURS = (24, 336)  # the service's completion window: 24 hours to 14 days
NAME_LIMIT, DESCRIPTION_LIMIT = 100, 200  # metadata ds_name / ds_description


def checked_window(window: str | int) -> str:
    """``--window``: hours (``48h``, ``48``) or days (``3d``) between 24h and 336h → ``"72h"``."""
    text = str(window).strip().lower()
    match = re.fullmatch(r"(\d+)\s*([hd]?)", text)
    hours = None
    if match:
        hours = int(match.group(1)) * (24 if match.group(2) == "d" else 1)
    low, high = WINDOW_HOURS
    if hours is None or not low <= hours <= high:
        raise QwenUsageError(
            f"--window {window!r} is not a completion window the Batch API takes: give hours "
            f"or days between {low}h and {high}h (14 days), e.g. --window 24h or --window 3d."
        )
    return f"{hours}h"


def metadata_for(meta: dict[str, Any] | None, count: int, part: int, parts: int) -> dict[str, str]:
    """DashScope's batch metadata: ``ds_name`` (≤100 chars) and ``ds_description`` (≤200)."""
    meta = meta or {}
    notebook = str(meta.get("notebook") or "IPython")
    cell = meta.get("cell")
    name = f"qwen_magic: {notebook}"
    description = f"{count} requests" + (f" from cell {cell}" if cell else "")
    if parts > 1:
        description += f"; batch {part} of {parts}"
    return {
        "ds_name": masking.redact(name)[:NAME_LIMIT],
        "ds_description": masking.redact(description)[:DESCRIPTION_LIMIT],
    }


def submit(
    requests: Sequence[Request],
    items: Sequence[Any] | None = None,
    prompts: Sequence[str] | None = None,
    *,
    window: str | int = "24h",
    dry_run: bool = False,
    meta: dict[str, Any] | None = None,
    defaults: Any = None,
    store: JobStore | None = None,
) -> BatchJob:
    """Submit one request per item as a provider Batch job and return it at once.

    ``requests`` come from ``build_request`` with ``api="chat"`` (the Batch API runs Chat
    Completions). Every limit is checked before the first upload; over 50,000 requests or
    500 MB, or several models, make several provider batches of one job. ``dry_run`` sends the
    same lines to the service's free ``batch-test-model``. ``meta``: ``notebook`` and ``cell``
    (named in the batch's metadata and kept in the store).
    """
    window = checked_window(window)
    requests = list(requests)
    if not requests:
        raise QwenUsageError("There is nothing to submit: give --each at least one item.")
    first = requests[0]
    for request in requests:
        if request.api != "chat":
            raise QwenUsageError(
                f"Batch jobs run Chat Completions; --api {request.api} cannot be batched. "
                "Drop --api (or use --api chat) with --batch."
            )
        if request.base_url != first.base_url:
            raise QwenUsageError("All requests of a Batch job must go to one endpoint.")
        if request.media and any(m.kind == "video" for m in request.media):
            raise QwenUsageError("Video cannot go in a Batch job here: use images, by URL.")
    lines = [encode(i, request, dry_run=dry_run) for i, request in enumerate(requests)]
    files = plan_files(lines)  # every limit checked: nothing is sent if one is broken
    store = store or JobStore()
    models = sorted({line.model for line in lines})
    record = JobRecord(
        id=new_id(),
        created=time.time(),
        model=", ".join(models),
        base_url=first.base_url,
        region=first.region,
        key_env=key_env_of(first.key_source),
        count=len(requests),
        window=window,
        dry_run=dry_run,
        notebook=(meta or {}).get("notebook"),
        cell=(meta or {}).get("cell"),
        items=_jsonable(items),
        prompts=[masking.redact(p) for p in prompts] if prompts is not None else None,
    )
    job = BatchJob(
        record,
        store,
        defaults=defaults,
        api_key=first.api_key,
        items=list(items) if items is not None else None,
        prompts=list(prompts) if prompts is not None else None,
    )
    client = job._client()
    endpoint = TEST_ENDPOINT if dry_run else ENDPOINT
    for number, group in enumerate(files, start=1):
        data = b"".join(line.data for line in group)
        name = f"{record.id}-{number}.jsonl"
        try:
            uploaded = _upload(job, client, name, data)
            batch = job._call(
                "create the batch",
                lambda file_id=uploaded.id, n=number: client.batches.create(
                    input_file_id=file_id,
                    endpoint=endpoint,
                    completion_window=window,
                    metadata=metadata_for(meta, len(requests), n, len(files)),
                ),
            )
        except QwenUsageError as exc:
            if record.parts:  # what was created runs on: keep it findable
                store.save(record)
                raise QwenUsageError(
                    f"{exc} Batch {number} of {len(files)} was not created; the first "
                    f"{len(record.parts)} run on as job {record.id} (`%qwencmd job "
                    f"{record.id}`)."
                ) from None
            raise
        part = Part(
            batch_id=str(batch.id),
            input_file_id=str(uploaded.id),
            model=group[0].model,
            ranges=ranges_of([line.position for line in group]),
        )
        update_part(part, batch)
        record.parts.append(part)
        store.save(record)
    return job


def _upload(job: BatchJob, client: Any, name: str, data: bytes) -> Any:
    return job._call(
        "upload the input file",
        lambda: client.files.create(file=(name, data, "application/jsonl"), purpose="batch"),
    )


def _jsonable(items: Sequence[Any] | None) -> list[Any] | None:
    """Items as the store can keep them (a DataFrame row arrives as a dict already), with any
    key masked."""
    if items is None:
        return None
    import json

    try:
        kept = json.loads(json.dumps(list(items), default=str))
    except (TypeError, ValueError):
        return None
    return masking.redact(kept)  # a key pasted into the data is not saved either


def submit_each(magics: Any, call: Any) -> BatchJob:
    """``%%qwen --each NAME --batch`` (and ``ask_many(..., batch=True)``): the many-answer
    call's checked requests as one Batch job, shown at once (``call.display`` permitting)."""
    requests = [as_chat(request, magics) for request in call.requests]
    job = submit(
        requests,
        call.items,
        call.prompts,
        window=getattr(call, "window", None) or "24h",
        dry_run=bool(getattr(call, "dry_run", False)),
        meta=cell_meta(getattr(magics, "shell", None)),
        defaults=magics,
    )
    if getattr(call, "display", "live") != "none" and getattr(magics, "shell", None) is not None:
        from IPython.display import display

        display(job)
    return job


def as_chat(request: Request, magics: Any) -> Request:
    """The same request on the OpenAI-compatible endpoint of its region (the Batch API is
    Chat Completions only), whatever ``--api`` the configuration chose."""
    if request.api == "chat":
        return request
    if request.region is None:  # a custom --base-url: we cannot guess its compatible base
        raise QwenUsageError(
            f"Batch jobs run Chat Completions; --api {request.api} with a --base-url cannot be "
            "batched. Add --api chat and a --base-url ending in /compatible-mode/v1."
        )
    from dataclasses import replace

    from qwen_magic.options.build import resolve_endpoint

    bases = getattr(magics, "emulator_bases", None)
    region = getattr(magics, "region", "sg") if request.region == "emulator" else request.region
    endpoint = resolve_endpoint("chat", region, getattr(magics, "workspace", None), None, bases)
    return replace(request, api="chat", base_url=endpoint.base_url)


def cell_meta(shell: Any) -> dict[str, Any]:
    """The notebook (Jupyter's session name) and cell (``In [n]``) a job was submitted from."""
    import os

    if shell is None:
        return {}
    session = shell.user_ns.get("__session__") or os.environ.get("JPY_SESSION_NAME") or ""
    notebook = os.path.basename(str(session)) or None
    count = getattr(shell, "execution_count", None)
    return {"notebook": notebook, "cell": f"In [{count}]" if count else None}
