"""The Batch API's file limits, checked before anything is uploaded: split when over, refused
when impossible; and the free dry run."""

from __future__ import annotations

import json

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

from qwen_magic.api import magics_request
from qwen_magic.batch import limits, submit
from qwen_magic.batch.jsonl import Line
from qwen_magic.ipython import magics_of


def sent_nothing(emulator) -> bool:
    return not [r for r in emulator.requests if r.protocol.startswith(("files", "batches"))]


def test_over_50000_requests_make_two_files_in_input_order() -> None:
    lines = [Line(i, "qwen-plus", b"{}\n") for i in range(50_001)]
    files = limits.plan_files(lines)
    assert [len(f) for f in files] == [50_000, 1]
    assert files[1][0].position == 50_000


def test_over_500_mb_makes_another_file() -> None:
    line = b"x" * 5_000_000  # 5 MB: 100 of them fill a 500 MB file
    files = limits.plan_files([Line(i, "qwen-plus", line) for i in range(101)])
    assert [len(f) for f in files] == [100, 1]


def test_a_split_job_is_one_job_over_several_batches(ip, emulator, monkeypatch):
    monkeypatch.setattr(limits, "MAX_REQUESTS", 3)
    emulator.batches.shuffle = True
    ip.user_ns["qs"] = [f"q{i}" for i in range(7)]
    ip.run_cell_magic("qwen", "--each qs --batch -o job --no-think", "Say {item}")
    job = ip.user_ns["job"]
    assert len(job.batch_ids) == 3
    uploads = [r for r in emulator.requests if r.protocol == "files-create"]
    assert len(uploads) == 3
    sizes = [len(emulator.batches.jobs[b].lines) for b in job.batch_ids]
    assert sizes == [3, 3, 1]
    assert job.status().total == 7
    assert job.results().texts == [f"Echo: Say q{i}" for i in range(7)]
    (row,) = ip.run_line_magic("qwencmd", "jobs").rows[1:]
    assert row[0] == job.id and row[5] == "3"


def test_a_line_over_6_mb_is_refused_before_any_request(ip, emulator):
    ip.user_ns.pop("job", None)
    ip.user_ns["qs"] = ["short", "x" * 6_100_000]
    with pytest.raises(UsageError, match=r"Item 1 makes a request of 6\.1 MB.*6\.0 MB"):
        ip.run_cell_magic("qwen", "--each qs --batch -o job", "{item}")
    assert sent_nothing(emulator) and "job" not in ip.user_ns


def test_one_model_per_file_two_models_make_two_batches(ip, emulator):
    magics = magics_of(ip)
    requests = [
        magics_request(magics, f"p{i}", {"model": model, "thinking": False})
        for i, model in enumerate(["qwen-plus", "qwen-max", "qwen-plus", "qwen-max"])
    ]
    job = submit(requests, defaults=magics)
    models = [emulator.batches.jobs[b].model for b in job.batch_ids]
    assert sorted(models) == ["qwen-max", "qwen-plus"]
    results = job.results()
    assert [r.model for r in results] == ["qwen-plus", "qwen-max", "qwen-plus", "qwen-max"]
    assert results.texts == [f"Echo: p{i}" for i in range(4)]
    assert job.record.model == "qwen-max, qwen-plus"


def test_nothing_to_submit_is_a_usage_error(ip, emulator):
    with pytest.raises(UsageError, match="nothing to submit"):
        submit([], defaults=magics_of(ip))
    assert sent_nothing(emulator)


def test_a_dry_run_sends_the_same_lines_to_the_free_test_model(ip, emulator):
    magics = magics_of(ip)
    requests = [magics_request(magics, f"p{i}", {}) for i in range(3)]
    job = submit(requests, window="24h", dry_run=True, defaults=magics)
    (upload,) = [f for f in emulator.batches.files.values() if f.purpose == "batch"]
    lines = [json.loads(line) for line in upload.data.decode().splitlines()]
    assert {line["url"] for line in lines} == {"/v1/chat/ds-test"}
    assert {line["body"]["model"] for line in lines} == {"batch-test-model"}
    create = next(r for r in emulator.requests if r.protocol == "batches-create")
    assert create.body["endpoint"] == "/v1/chat/ds-test"
    assert job.results().texts == ["This is a test result."] * 3
    assert "dry run" in job._repr_markdown_()


def test_a_dry_run_over_the_test_models_limit_is_refused(ip, emulator):
    magics = magics_of(ip)
    requests = [magics_request(magics, f"p{i}", {}) for i in range(101)]
    with pytest.raises(UsageError, match=r"at most 100 requests.*items\[:20\]"):
        submit(requests, dry_run=True, defaults=magics)
    assert sent_nothing(emulator)


def test_other_apis_are_batched_on_their_regions_compatible_endpoint(ip, emulator):
    ip.user_ns["qs"] = ["a", "b"]
    ip.run_cell_magic("qwen", "--each qs --batch -o job --api dashscope --no-think", "{item}")
    assert ip.user_ns["job"].results().texts == ["Echo: a", "Echo: b"]


def test_dry_run_through_the_magic_and_alone(ip, emulator):
    ip.user_ns["qs"] = ["a", "b"]
    ip.run_cell_magic("qwen", "--each qs --batch --dry-run -o job", "Say {item}")
    job = ip.user_ns["job"]
    assert job.record.dry_run and job.record.model == "batch-test-model"
    assert job.wait().results().texts == ["This is a test result."] * 2
    emulator.clear()
    # Without --batch, --dry-run shows the requests and their estimate (issue 14): nothing sent.
    with capture_output() as cap:
        ip.run_cell_magic("qwen", "--each qs --dry-run", "Say {item}")
    assert "nothing was sent" in cap.outputs[0].data["text/markdown"]
    assert not emulator.requests
