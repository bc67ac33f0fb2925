"""Files and Batches of the OpenAI-compatible Batch API (docs/wire.md §11), offline.

A job moves through ``validating → in_progress → finalizing → completed`` over
``BatchDesk.duration`` seconds of wall time, read whenever it is asked about (no thread runs
it); ``failed`` when its input file breaks a rule, ``expired`` when ``BatchDesk.expire`` is set,
``cancelling → cancelled`` after a cancel. Each line is answered by the emulator's own reply
logic (queued ``Reply`` objects apply, in input order; an ``http_*`` fault makes that line an
error-file line), or fails when its ``custom_id`` is in ``BatchDesk.fail``.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from qwen_magic.emulator import compat
from qwen_magic.emulator.catalog import require, resolve_thinking
from qwen_magic.emulator.faults import (
    ApiError,
    check_json_mode,
    dumps,
    http_fault,
    invalid_parameter,
)
from qwen_magic.emulator.replies import Reply, make_plan
from qwen_magic.emulator.transport import Exchange

MAX_LINES = 50_000
MAX_FILE_BYTES = 500 * 1024 * 1024
MAX_LINE_BYTES = 6 * 1024 * 1024
WINDOWS = range(24, 337)  # completion_window "24h" … "336h"
TEST_MODEL = "batch-test-model"
TEST_URL = "/v1/chat/ds-test"
TEST_ANSWER = "This is a test result."
ENDPOINTS = ("/v1/chat/completions", "/v1/embeddings", TEST_URL)
ACTIVE = ("validating", "in_progress", "finalizing", "cancelling")
PROTOCOLS = (
    "files-create", "files-get", "files-content",
    "batches-create", "batches-list", "batches-get", "batches-cancel",
)  # fmt: skip


def route(method: str, path: str, base: str) -> str:
    """The Files/Batches protocol of a request under ``base`` ("" when it is none of them)."""
    if not path.startswith(base + "/"):
        return ""
    parts = path[len(base) + 1 :].split("/")
    if parts[0] == "files":
        if method == "POST" and len(parts) == 1:
            return "files-create"
        if method == "GET" and len(parts) == 2:
            return "files-get"
        if method == "GET" and len(parts) == 3 and parts[2] == "content":
            return "files-content"
    if parts[0] == "batches":
        if len(parts) == 1:
            return {"POST": "batches-create", "GET": "batches-list"}.get(method, "")
        if method == "GET" and len(parts) == 2:
            return "batches-get"
        if method == "POST" and len(parts) == 3 and parts[2] == "cancel":
            return "batches-cancel"
    return ""


@dataclass
class StoredFile:
    id: str
    filename: str
    purpose: str
    data: bytes
    created_at: int

    def entry(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "file",
            "bytes": len(self.data),
            "created_at": self.created_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": "processed",
        }


@dataclass
class Job:
    """One batch. ``duration`` may be changed after creation (this job only)."""

    id: str
    input_file_id: str
    endpoint: str
    window: str
    metadata: dict[str, Any] | None
    lines: list[dict[str, Any]]
    duration: float
    expire: bool
    problems: list[dict[str, Any]] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    created_at: int = field(default_factory=lambda: int(time.time()))
    status: str = "validating"
    stamps: dict[str, int] = field(default_factory=dict)
    answered: list[tuple[bool, dict[str, Any]]] = field(default_factory=list)
    cancel_asked: float | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None

    @property
    def model(self) -> str | None:
        body = self.lines[0].get("body") if self.lines else None
        return body.get("model") if isinstance(body, dict) else None

    def entry(self) -> dict[str, Any]:
        failed = sum(1 for ok, _ in self.answered if not ok)
        errors = {"object": "list", "data": self.problems} if self.status == "failed" else None
        return {
            "id": self.id,
            "object": "batch",
            "endpoint": self.endpoint,
            "errors": errors,
            "input_file_id": self.input_file_id,
            "completion_window": self.window,
            "status": self.status,
            "output_file_id": self.output_file_id,
            "error_file_id": self.error_file_id,
            "created_at": self.created_at,
            "in_progress_at": self.stamps.get("in_progress"),
            "expires_at": self.created_at + int(self.window.rstrip("h")) * 3600,
            "finalizing_at": self.stamps.get("finalizing"),
            "completed_at": self.stamps.get("completed"),
            "failed_at": self.stamps.get("failed"),
            "expired_at": self.stamps.get("expired"),
            "cancelling_at": self.stamps.get("cancelling"),
            "cancelled_at": self.stamps.get("cancelled"),
            "request_counts": {
                "total": len(self.lines),
                "completed": len(self.answered) - failed,
                "failed": failed,
            },
            "metadata": self.metadata,
            "model": self.model,
        }


class BatchDesk:
    """The emulator's Files and Batches (``Emulator.batches``), and the knobs tests turn.

    duration: seconds from creation to ``completed`` (a tenth validating, most in progress,
    the last tenth finalizing). expire: jobs end ``expired`` with half their lines answered.
    cancel_delay: seconds a job stays ``cancelling``. fail: custom_ids whose line fails (a 500
    in the error file). shuffle: write the output lines in random order (the service does not
    keep input order).
    """

    def __init__(self) -> None:
        self.duration = 0.0
        self.expire = False
        self.cancel_delay = 0.0
        self.fail: set[str] = set()
        # The next Files/Batches call answers this error instead (once): a server's own words
        # reaching the user, e.g. ``ApiError(500, "InternalError", "…")``.
        self.refuse_next: ApiError | None = None
        self.shuffle = False
        self.files: dict[str, StoredFile] = {}
        self.jobs: dict[str, Job] = {}
        self._lock = threading.RLock()

    def clear(self) -> None:
        with self._lock:
            self.__init__()  # type: ignore[misc]

    # -- the lifecycle, read when asked ------------------------------------------------------
    def advance(self, job: Job, next_reply: Callable[[], Reply]) -> None:
        now = time.monotonic()
        if job.status not in ACTIVE:
            return
        if job.status == "cancelling":
            if job.cancel_asked is not None and now - job.cancel_asked >= self.cancel_delay:
                self._end(job, "cancelled")
            return
        span = max(job.duration, 0.0)
        elapsed = now - job.started
        if job.status == "validating" and elapsed >= 0.1 * span:
            if job.problems:
                self._stamp(job, "failed")
                return
            self._stamp(job, "in_progress")
        if job.status in ("in_progress", "finalizing"):
            share = 1.0 if span == 0 else min(1.0, max(0.0, (elapsed - 0.1 * span) / (0.8 * span)))
            if job.expire:
                share = min(share, 0.5)
            self._answer(job, int(share * len(job.lines)), next_reply)
            if job.expire and elapsed >= span:
                self._end(job, "expired")
                return
        if job.status == "in_progress" and elapsed >= 0.9 * span and not job.expire:
            self._stamp(job, "finalizing")
        if job.status == "finalizing" and elapsed >= span:
            self._end(job, "completed")

    def _stamp(self, job: Job, status: str) -> None:
        job.status = status
        job.stamps[status] = int(time.time())

    def _answer(self, job: Job, upto: int, next_reply: Callable[[], Reply]) -> None:
        while len(job.answered) < upto:
            line = job.lines[len(job.answered)]
            job.answered.append(self._answer_line(line, next_reply))

    def _answer_line(
        self, line: dict[str, Any], next_reply: Callable[[], Reply]
    ) -> tuple[bool, dict[str, Any]]:
        custom_id = line.get("custom_id")
        request_id = str(uuid.uuid4())
        out: dict[str, Any] = {"id": f"batch_req_{uuid.uuid4().hex[:24]}", "custom_id": custom_id}
        body = line.get("body") or {}
        try:
            reply = next_reply()  # each line takes the next queued reply, in input order
            if custom_id in self.fail:
                raise ApiError(500, "InternalError", "The request failed.", "internal_error")
            if body.get("model") == TEST_MODEL:
                answer: dict[str, Any] = _test_answer(request_id)
            else:
                answer = _answer_body(body, reply, request_id)
        except ApiError as error:
            out["response"] = {
                "status_code": error.status,
                "request_id": request_id,
                "body": error.compat_body(request_id),
            }
            message = error.compat_message or error.message
            out["error"] = {"code": error.compat_code, "message": message}
            return False, out
        out["response"] = {"status_code": 200, "request_id": request_id, "body": answer}
        out["error"] = None
        return True, out

    def _end(self, job: Job, status: str) -> None:
        """Write the output and error files of the lines answered so far, then ``status``."""
        good = [line for ok, line in job.answered if ok]
        bad = [line for ok, line in job.answered if not ok]
        if self.shuffle:
            random.shuffle(good)
            random.shuffle(bad)
        if good:
            job.output_file_id = self._store(f"{job.id}_output.jsonl", "batch_output", good)
        if bad:
            job.error_file_id = self._store(f"{job.id}_error.jsonl", "batch_output", bad)
        self._stamp(job, status)

    def _store(self, name: str, purpose: str, lines: list[dict[str, Any]]) -> str:
        data = "".join(dumps(line) + "\n" for line in lines).encode()
        stored = StoredFile(f"file-batch_output-{uuid.uuid4().hex[:20]}", name, purpose, data, 0)
        stored.created_at = int(time.time())
        self.files[stored.id] = stored
        return stored.id

    # -- endpoints ---------------------------------------------------------------------------
    def upload(self, exchange: Exchange) -> None:
        form = exchange.record.form
        data, purpose = form.get("file"), form.get("purpose")
        if not isinstance(data, bytes):
            raise invalid_parameter("A file is required (multipart field 'file').", "file")
        if purpose != "batch":
            raise invalid_parameter("purpose must be 'batch'.", "purpose")
        name = _filename(exchange.record.body) or "upload.jsonl"
        stored = StoredFile(f"file-batch-{uuid.uuid4().hex[:20]}", name, purpose, data, 0)
        stored.created_at = int(time.time())
        with self._lock:
            self.files[stored.id] = stored
        exchange.send_json(200, stored.entry())

    def file(self, exchange: Exchange, content: bool) -> None:
        parts = exchange.record.path.split("/")
        file_id = parts[-2] if content else parts[-1]
        stored = self.files.get(file_id)
        if stored is None:
            raise _not_found("file", file_id)
        if content:
            exchange.send_body(200, stored.data, "application/octet-stream")
        else:
            exchange.send_json(200, stored.entry())

    def create(self, exchange: Exchange, next_reply: Callable[[], Reply]) -> None:
        body = compat.request_body(exchange)
        window = str(body.get("completion_window") or "")
        if not (window.endswith("h") and window[:-1].isdigit() and int(window[:-1]) in WINDOWS):
            raise invalid_parameter(
                "completion_window must be between 24h and 336h.", "completion_window"
            )
        endpoint = body.get("endpoint")
        if endpoint not in ENDPOINTS:
            raise invalid_parameter(f"Unsupported endpoint: {endpoint}", "endpoint")
        stored = self.files.get(str(body.get("input_file_id")))
        if stored is None:
            raise _not_found("file", str(body.get("input_file_id")))
        lines, problems = _read_input(stored.data, str(endpoint))
        job = Job(
            id=f"batch_{uuid.uuid4()}",
            input_file_id=stored.id,
            endpoint=str(endpoint),
            window=window,
            metadata=body.get("metadata"),
            lines=lines,
            duration=self.duration,
            expire=self.expire,
            problems=problems,
        )
        with self._lock:
            self.jobs[job.id] = job
            self.advance(job, next_reply)
        exchange.send_json(200, job.entry())

    def retrieve(self, exchange: Exchange, next_reply: Callable[[], Reply]) -> None:
        job = self._job(exchange.record.path.split("/")[-1])
        with self._lock:
            self.advance(job, next_reply)
        exchange.send_json(200, job.entry())

    def cancel(self, exchange: Exchange, next_reply: Callable[[], Reply]) -> None:
        job = self._job(exchange.record.path.split("/")[-2])
        with self._lock:
            self.advance(job, next_reply)
            if job.status in ("validating", "in_progress", "finalizing"):
                job.cancel_asked = time.monotonic()
                self._stamp(job, "cancelling")
                self.advance(job, next_reply)
        exchange.send_json(200, job.entry())

    def listing(self, exchange: Exchange, next_reply: Callable[[], Reply]) -> None:
        query = exchange.record.query
        limit = int(query.get("limit") or 20)
        with self._lock:
            jobs = sorted(self.jobs.values(), key=lambda j: j.started, reverse=True)
            after = query.get("after")
            if after:
                ids = [j.id for j in jobs]
                jobs = jobs[ids.index(after) + 1 :] if after in ids else []
            page = jobs[:limit]
            for job in page:
                self.advance(job, next_reply)
        data = [job.entry() for job in page]
        exchange.send_json(
            200,
            {
                "object": "list",
                "data": data,
                "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None,
                "has_more": len(jobs) > limit,
            },
        )

    def _job(self, job_id: str) -> Job:
        job = self.jobs.get(job_id)
        if job is None:
            raise _not_found("batch", job_id)
        return job


def handle(desk: BatchDesk, exchange: Exchange, next_reply: Callable[[], Reply]) -> None:
    """Serve one Files/Batches request (``exchange.record.protocol`` says which)."""
    protocol = exchange.record.protocol
    refused, desk.refuse_next = desk.refuse_next, None
    if refused is not None:
        raise refused
    if protocol == "files-create":
        desk.upload(exchange)
    elif protocol in ("files-get", "files-content"):
        desk.file(exchange, protocol == "files-content")
    elif protocol == "batches-create":
        desk.create(exchange, next_reply)
    elif protocol == "batches-get":
        desk.retrieve(exchange, next_reply)
    elif protocol == "batches-cancel":
        desk.cancel(exchange, next_reply)
    elif protocol == "batches-list":
        desk.listing(exchange, next_reply)


def _answer_body(body: dict[str, Any], reply: Reply, request_id: str) -> dict[str, Any]:
    """A chat.completion for one line, as ``/chat/completions`` would answer it unstreamed."""
    error = http_fault(reply.fault, str(body.get("model")), reply.retry_after)
    if error is not None:
        raise error
    info = require(body.get("model"))
    messages = body.get("messages") or []
    thinking = resolve_thinking(info, body.get("enable_thinking"))
    json_mode = check_json_mode(body.get("response_format"), messages, thinking)
    plan = make_plan(
        reply,
        request_id=request_id,
        model=str(body["model"]),
        messages=messages,
        thinking=thinking,
        json_mode=json_mode,
        max_answer=body.get("max_tokens"),
        max_output=body.get("max_completion_tokens"),
    )
    return compat.completion([plan], f"chatcmpl-{uuid.uuid4()}", int(time.time()))


def _test_answer(request_id: str) -> dict[str, Any]:
    """``batch-test-model`` skips inference and answers a fixed success."""
    return {
        "id": f"chatcmpl-{request_id}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": TEST_MODEL,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": TEST_ANSWER},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
    }


def _read_input(data: bytes, endpoint: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The lines of an input file, and what breaks the service's rules (each with its line)."""
    problems: list[dict[str, Any]] = []

    def problem(code: str, message: str, line: int | None = None) -> None:
        problems.append({"code": code, "message": message, "param": None, "line": line})

    if len(data) > MAX_FILE_BYTES:
        problem("file_too_large", f"The input file is larger than {MAX_FILE_BYTES} bytes.")
    lines: list[dict[str, Any]] = []
    seen: set[str] = set()
    models: set[str] = set()
    for number, raw in enumerate(data.splitlines(), start=1):
        if not raw.strip():
            continue
        if len(raw) > MAX_LINE_BYTES:
            problem("line_too_large", f"Line {number} is larger than {MAX_LINE_BYTES} bytes.")
            continue
        try:
            line = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError):
            problem("invalid_json_line", f"Line {number} is not valid JSON.", number)
            continue
        if not isinstance(line, dict) or not isinstance(line.get("custom_id"), str):
            problem("missing_custom_id", f"Line {number} has no custom_id.", number)
            continue
        if line["custom_id"] in seen:
            problem("duplicate_custom_id", f"custom_id {line['custom_id']} repeats.", number)
        seen.add(line["custom_id"])
        if line.get("method") != "POST" or line.get("url") != endpoint:
            problem("invalid_url", f"Line {number} must POST to {endpoint}.", number)
        body = line.get("body")
        if not isinstance(body, dict) or not isinstance(body.get("model"), str):
            problem("invalid_body", f"Line {number} has no body.model.", number)
        else:
            models.add(body["model"])
        lines.append(line)
    if len(models) > 1:
        problem("mixed_models", f"A batch file holds one model; this one has {sorted(models)}.")
    if len(lines) > MAX_LINES:
        problem("too_many_requests", f"A batch file holds at most {MAX_LINES} requests.")
    if not lines and not problems:
        problem("empty_file", "The input file has no requests.")
    return lines, problems


def _filename(body: object) -> str | None:
    """The file name of the multipart ``file`` part."""
    if not isinstance(body, bytes):
        return None
    marker = b'name="file"; filename="'
    start = body.find(marker)
    if start < 0:
        return None
    start += len(marker)
    end = body.find(b'"', start)
    return body[start:end].decode("utf-8", "replace") if end > start else None


def _not_found(kind: str, ident: str) -> ApiError:
    return ApiError(
        404, "NotFound", f"No {kind} with id {ident!r}.", "not_found", "invalid_request_error"
    )
