"""The emulator's Files and Batches endpoints, through the real openai SDK."""

from __future__ import annotations

import json

import openai
import pytest

from qwen_magic.testing import Reply


def jsonl(*lines: dict) -> bytes:
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


def line(custom_id: str, model: str = "qwen-plus", url: str = "/v1/chat/completions") -> dict:
    body = {"model": model, "messages": [{"role": "user", "content": f"hi {custom_id}"}]}
    return {"custom_id": custom_id, "method": "POST", "url": url, "body": body}


def create(client, data: bytes, **kwargs):
    uploaded = client.files.create(file=("in.jsonl", data), purpose="batch")
    kwargs.setdefault("completion_window", "24h")
    kwargs.setdefault("endpoint", "/v1/chat/completions")
    return client.batches.create(input_file_id=uploaded.id, **kwargs)


def test_upload_then_read_the_file_back(client):
    data = jsonl(line("a"))
    uploaded = client.files.create(file=("in.jsonl", data), purpose="batch")
    assert uploaded.purpose == "batch" and uploaded.bytes == len(data)
    assert uploaded.filename == "in.jsonl"
    assert client.files.retrieve(uploaded.id).id == uploaded.id
    assert client.files.content(uploaded.id).read() == data


def test_a_completed_batch_has_output_and_error_files(client, emulator):
    emulator.queue(Reply(text="first"), Reply(fault="http_429"))
    batch = create(client, jsonl(line("a"), line("b"), line("c")), metadata={"ds_name": "t"})
    assert batch.status == "completed" and batch.metadata == {"ds_name": "t"}
    assert batch.request_counts.total == 3 and batch.request_counts.failed == 1
    output = [json.loads(x) for x in client.files.content(batch.output_file_id).text.splitlines()]
    errors = [json.loads(x) for x in client.files.content(batch.error_file_id).text.splitlines()]
    assert [o["custom_id"] for o in output] == ["a", "c"]
    assert output[0]["response"]["body"]["choices"][0]["message"]["content"] == "first"
    assert output[0]["response"]["status_code"] == 200 and output[0]["error"] is None
    (error,) = errors
    assert error["custom_id"] == "b" and error["response"]["status_code"] == 429
    assert error["error"]["code"] == "limit_requests"


def test_an_unknown_model_fails_its_line_only(client):
    batch = create(client, jsonl(line("a", model="no-such-model")))
    assert batch.request_counts.failed == 1
    (error,) = client.files.content(batch.error_file_id).text.splitlines()
    assert json.loads(error)["response"]["status_code"] == 404


@pytest.mark.parametrize(
    ("lines", "code"),
    [
        ((line("a"), line("a")), "duplicate_custom_id"),
        ((line("a"), line("b", model="qwen-max")), "mixed_models"),
        ((line("a", url="/v1/embeddings"),), "invalid_url"),
    ],
)
def test_a_bad_file_fails_the_batch_after_validating(client, emulator, lines, code):
    emulator.batches.duration = 10
    batch = create(client, jsonl(*lines))
    assert batch.status == "validating"
    emulator.batches.jobs[batch.id].started -= 2
    batch = client.batches.retrieve(batch.id)
    assert batch.status == "failed" and batch.failed_at
    assert code in [e.code for e in batch.errors.data]
    assert batch.output_file_id is None


def test_the_window_must_be_24h_to_336h(client):
    with pytest.raises(openai.BadRequestError, match="between 24h and 336h"):
        create(client, jsonl(line("a")), completion_window="12h")
    assert create(client, jsonl(line("a")), completion_window="336h").status == "completed"


def test_cancel_list_and_unknown_ids(client, emulator):
    emulator.batches.duration = 100
    emulator.batches.cancel_delay = 100
    first = create(client, jsonl(line("a")))
    second = create(client, jsonl(line("b")))
    assert client.batches.cancel(first.id).status == "cancelling"
    emulator.batches.cancel_delay = 0
    cancelled = client.batches.retrieve(first.id)
    assert cancelled.status == "cancelled" and cancelled.cancelled_at
    page = client.batches.list(limit=1)
    assert [b.id for b in page.data] == [second.id] and page.has_more
    assert [b.id for b in client.batches.list(limit=1)] == [second.id, first.id]  # pages on
    with pytest.raises(openai.NotFoundError):
        client.batches.retrieve("batch_nope")
    with pytest.raises(openai.NotFoundError):
        client.files.content("file-nope")


def test_a_job_takes_the_time_it_is_given(client, emulator):
    emulator.batches.duration = 100
    batch = create(client, jsonl(*(line(str(i)) for i in range(10))))
    job = emulator.batches.jobs[batch.id]
    born = job.started
    steps = [
        (5, "validating", 0),
        (50, "in_progress", 5),
        (95, "finalizing", 10),
        (101, "completed", 10),
    ]
    for age, status, done in steps:
        job.started = born - age  # its clock starts at creation: make it `age` seconds old
        seen = client.batches.retrieve(batch.id)
        assert (seen.status, seen.request_counts.completed) == (status, done)
    assert seen.in_progress_at and seen.finalizing_at and seen.completed_at
