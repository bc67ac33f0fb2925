"""A Batch job through the user's path: `%%qwen --each NAME --batch -o job`, then the job's
status, wait, results in input order, errors, cancel and expiry, against the emulator's
Files and Batches endpoints (the real openai SDK, real HTTP)."""

from __future__ import annotations

import json

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

from qwen_magic.batch.job import BatchJob
from qwen_magic.testing import Reply
from tests.batch.conftest import age

QUESTIONS = [f"question {i}" for i in range(8)]


def submit(ip, line: str = "", items=QUESTIONS):
    ip.user_ns["qs"] = list(items)
    ip.run_cell_magic("qwen", f"--each qs --batch -o job {line}", "Answer {item}")
    return ip.user_ns["job"]


def uploaded_lines(emulator) -> list[dict]:
    (stored,) = [f for f in emulator.batches.files.values() if f.purpose == "batch"]
    return [json.loads(line) for line in stored.data.decode().splitlines()]


def test_submit_returns_a_job_at_once_and_its_lines_are_what_streaming_sends(ip, emulator):
    emulator.batches.duration = 100
    job = submit(ip, "-m qwen-plus -t 0.3 --no-think")
    assert isinstance(job, BatchJob) and ip.user_ns["_qwen"] is job
    assert job.status().status == "validating"  # returned before the service did anything
    assert not [r for r in emulator.requests if r.protocol == "chat"]  # nothing streamed
    lines = uploaded_lines(emulator)
    assert [line["custom_id"] for line in lines] == [str(i) for i in range(8)]
    assert {line["method"] for line in lines} == {"POST"}
    assert {line["url"] for line in lines} == {"/v1/chat/completions"}
    # The body of each line is what the streaming path sends for the same prompt.
    ip.run_cell_magic("qwen", "-m qwen-plus -t 0.3 --no-think -q", "Answer question 3")
    streamed = dict(emulator.last.body)
    for name in ("stream", "stream_options"):
        streamed.pop(name)
    assert lines[3]["body"] == streamed
    create = next(r for r in emulator.requests if r.protocol == "batches-create")
    assert create.body["completion_window"] == "24h"
    assert create.body["endpoint"] == "/v1/chat/completions"
    assert set(create.body["metadata"]) == {"ds_name", "ds_description"}
    assert "8 requests" in create.body["metadata"]["ds_description"]


def test_status_moves_through_the_lifecycle_and_results_come_back_in_input_order(ip, emulator):
    emulator.batches.duration = 100
    emulator.batches.shuffle = True  # the output file's order is not the input's
    job = submit(ip)
    assert job.status().status == "validating"
    age(emulator, job, 50)
    status = job.status()
    assert status.status == "in_progress" and status.completed == 4 and status.total == 8
    with pytest.raises(UsageError, match=r"in_progress.*\.wait\(\)"):
        job.results()
    age(emulator, job, 45)
    assert job.status().status == "finalizing"
    age(emulator, job, 10)
    status = job.status()
    assert status.status == "completed" and status.done and status.completed == 8
    results = job.results()
    assert results.texts == [f"Echo: Answer question {i}" for i in range(8)]
    assert results.items == QUESTIONS
    assert results.prompts == [f"Answer question {i}" for i in range(8)]
    assert all(r.usage.output_tokens for r in results)
    output = emulator.batches.files[emulator.batches.jobs[job.batch_ids[0]].output_file_id]
    ids = [json.loads(line)["custom_id"] for line in output.data.decode().splitlines()]
    assert sorted(ids, key=int) == [str(i) for i in range(8)]  # all there, whatever order


def test_wait_polls_until_the_job_ends(ip, emulator):
    emulator.batches.duration = 1.5
    job = submit(ip, "--no-think")
    assert job.wait(poll=0.2) is job  # polled at most once a second, whatever was asked
    assert job.done and job.results().ok
    polls = [r for r in emulator.requests if r.protocol == "batches-get"]
    assert 1 <= len(polls) <= 4


def test_failed_lines_carry_their_error_from_the_error_file(ip, emulator):
    emulator.batches.fail = {"2"}
    emulator.batches.shuffle = True
    emulator.queue(Reply(), Reply(), Reply(), Reply(fault="http_400"))  # in input order
    job = submit(ip, "--no-think")
    job.wait()
    results = job.results()
    assert sorted(results.errors) == [2, 3]
    assert results.errors[2].status == 500 and results.errors[2].code == "internal_error"
    assert results.errors[3].status == 400 and "Range of input length" in str(results.errors[3])
    assert results.errors[3].request_id  # the line's own request id
    assert results[0].ok and results[4].text == "Echo: Answer question 4"
    assert results[3].text == ""
    assert repr(results) == "<Results: 8 results, 2 failed>"
    assert job.snapshot().failed == 2


def test_cancel_keeps_the_answers_already_made(ip, emulator):
    emulator.batches.duration = 100
    job = submit(ip, "--no-think")
    age(emulator, job, 50)  # half the lines answered
    ip.run_line_magic("qwencmd", f"job cancel {job.id}")
    assert job.status().status == "cancelled"
    results = job.results()
    assert results.texts[:4] == [f"Echo: Answer question {i}" for i in range(4)]
    assert sorted(results.errors) == [4, 5, 6, 7]
    assert "cancelled before this request ran" in results.errors[4].message


def test_cancelling_is_shown_until_the_service_has_cancelled(ip, emulator):
    emulator.batches.duration = 100
    emulator.batches.cancel_delay = 100
    job = submit(ip, "--no-think")
    assert job.cancel().status == "cancelling" and not job.done
    with pytest.raises(UsageError, match="cancelling"):
        job.results()


def test_an_expired_job_gives_what_it_answered_and_says_the_rest_expired(ip, emulator):
    emulator.batches.expire = True
    job = submit(ip, "--no-think")
    assert job.status().status == "expired"
    results = job.results()
    assert [r.ok for r in results] == [True] * 4 + [False] * 4
    assert "expired" in results.errors[7].message


def test_the_job_shows_a_static_summary_when_display_is_final(ip, emulator):
    ip.run_line_magic("config", 'QwenMagics.display = "final"')
    with capture_output() as captured:
        job = submit(ip, "--no-think")
    (shown,) = [o.data for o in captured.outputs if job.id in o.data.get("text/markdown", "")]
    assert "completed" in shown["text/markdown"] and "8 requests" in shown["text/markdown"]
    assert "application/vnd.jupyter.widget-view+json" not in shown


def test_the_live_view_follows_the_job_and_leaves_no_widget(ip, emulator):
    ip.run_line_magic("config", 'QwenMagics.display = "live"')
    emulator.batches.duration = 100
    with capture_output() as captured:
        job = submit(ip, "--no-think")
        (view,) = job._views
        assert view.bar.value == 0 and view.bar.max == 8
        age(emulator, job, 50)
        job.status()
        assert view.bar.value == 4 and "in_progress" in view.label.value
        age(emulator, job, 60)
        job.status()
    assert view.closed and view.box.comm is None  # closed: nothing left in the notebook
    (final,) = [o for o in captured.outputs if o.update]
    assert job.id in final.data["text/markdown"] and "completed" in final.data["text/markdown"]


def test_window_is_checked_before_any_request(ip, emulator):
    for bad in ("12h", "337h", "soon", "15d"):
        with pytest.raises(UsageError, match="between 24h and 336h"):
            submit(ip, f"--window {bad}")
    assert not [r for r in emulator.requests if r.protocol.startswith(("files", "batches"))]
    submit(ip, "--window 3d --no-think")
    create = next(r for r in emulator.requests if r.protocol == "batches-create")
    assert create.body["completion_window"] == "72h"


def test_ask_many_with_batch_gives_the_same_job(ip, emulator):
    import qwen_magic

    emulator.batches.shuffle = True
    job = qwen_magic.ask_many(
        "Say {item}", ["a", "b", "c"], batch=True, window="2d", thinking=False
    )
    assert isinstance(job, BatchJob) and ip.user_ns["_qwen"] is job
    assert job.record.window == "48h"
    results = job.wait().results()
    assert results.texts == ["Echo: Say a", "Echo: Say b", "Echo: Say c"]
    assert results.items == ["a", "b", "c"]


def test_a_hostile_server_message_about_a_job_reaches_the_user_without_escapes(ip, emulator):
    from qwen_magic.emulator.faults import ApiError

    emulator.batches.duration = 100  # still running: %qwencmd job asks the service
    job = submit(ip)
    hostile = "Try later\x1b]52;c;ZXZpbA==\x07\x1b[2J\x9b31m please"
    emulator.batches.refuse_next = ApiError(400, "InvalidParameter", hostile, "invalid_parameter")
    with pytest.raises(UsageError) as raised:
        ip.run_line_magic("qwencmd", f"job {job.id}")
    said = str(raised.value)
    assert "Could not read the status" in said and "Try later" in said and "please" in said
    assert "\x1b" not in said and "\x07" not in said and "\x9b" not in said
    assert job.status().status == "validating"  # the next call is answered as ever
