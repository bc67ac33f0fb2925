"""A Batch job outlives its kernel: the local job store lets a new process list it and get its
results; the store never holds the key."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from IPython.core.error import UsageError

import qwen_magic
from qwen_magic.batch.store import JobStore
from tests.batch.conftest import age

ITEMS = [f"item {i}" for i in range(5)]


def submit(ip, line: str = "--no-think"):
    ip.user_ns["qs"] = list(ITEMS)
    ip.run_cell_magic("qwen", f"--each qs --batch -o job {line}", "Answer {item}")
    return ip.user_ns["job"]


def test_a_new_kernel_lists_the_job_and_gets_its_results_in_order(ip, emulator, job_store):
    emulator.batches.duration = 100
    emulator.batches.shuffle = True
    job = submit(ip)
    age(emulator, job, 200)  # done by the time the new kernel asks
    script = textwrap.dedent(
        f"""
        import json
        from IPython.core.interactiveshell import InteractiveShell
        import qwen_magic
        shell = InteractiveShell.instance()
        shell.run_line_magic("load_ext", "qwen_magic")
        table = shell.run_line_magic("qwencmd", "jobs")
        job = qwen_magic.job({job.id!r})
        results = job.results()
        print(json.dumps({{"table": table.rows, "texts": results.texts,
                          "items": results.items, "status": job.snapshot().status}}))
        """
    )
    env = {**os.environ, "QWEN_MAGIC_DATA_DIR": str(job_store.parent)}
    env.pop("DASHSCOPE_API_KEY", None)  # the emulator's job needs no key, the store has none
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    header, row = seen["table"]
    assert header[:5] == ["id", "created", "status", "done / total (failed)", "model"]
    assert row[0] == job.id and row[2] == "completed" and row[3] == "5 / 5"
    assert row[4] == "qwen3.5-plus"
    assert seen["texts"] == [f"Echo: Answer item {i}" for i in range(5)]
    assert seen["items"] == ITEMS
    assert seen["status"] == "completed"


def test_after_a_reload_the_job_is_found_by_its_id_or_a_batch_id(ip, emulator):
    job = submit(ip)
    ip.run_line_magic("unload_ext", "qwen_magic")
    ip.run_line_magic("load_ext", "qwen_magic")
    from qwen_magic.ipython import magics_of

    magics_of(ip).use_emulator(emulator)
    again = qwen_magic.job(job.id)
    assert again is not job and again.results().texts == job.results().texts
    assert qwen_magic.job(job.batch_ids[0]).id == job.id
    shown = ip.run_line_magic("qwencmd", f"job {job.id}")
    assert shown.id == job.id and "completed" in repr(shown)
    with pytest.raises(UsageError, match="No Batch job 'job-nope'.*%qwencmd jobs"):
        qwen_magic.job("job-nope")


def test_jobs_lists_newest_first_with_their_counts(ip, emulator):
    emulator.batches.duration = 100
    first = submit(ip)
    emulator.batches.fail = {"1"}
    emulator.batches.duration = 0
    second = submit(ip)
    table = ip.run_line_magic("qwencmd", "jobs")
    rows = table.rows[1:]
    assert [row[0] for row in rows] == [second.id, first.id]
    assert rows[0][2:4] == ["completed", "5 / 5 (1)"]
    assert rows[1][2:4] == ["validating", "0 / 5"]
    assert second.id in table._repr_markdown_() and second.id in repr(table)


def allow_key_for_emulator(ip, emulator) -> None:
    """A --base-url the user allowed the key for: the real key is sent (to the emulator)."""
    ip.run_line_magic("config", "QwenMagics.send_key_to_base_url = True")
    ip.run_line_magic("config", f"QwenMagics.base_url = {emulator.compat_base!r}")


def test_the_key_never_reaches_the_store(ip, emulator, job_store, test_key, monkeypatch):
    allow_key_for_emulator(ip, emulator)
    ip.user_ns["qs"] = [f"my key is {test_key}", "two"]
    ip.run_cell_magic("qwen", "--each qs --batch -o job --no-think", "{item}")
    job = ip.user_ns["job"]
    create = next(r for r in emulator.requests if r.protocol == "batches-create")
    assert create.api_key == test_key  # it did go where the user allowed it
    data = job_store.read_bytes()
    assert test_key.encode() not in data and test_key[-12:].encode() not in data
    record = JobStore(job_store).get(job.id)
    assert record.key_env == "DASHSCOPE_API_KEY" and record.region is None
    assert test_key not in repr(job) and test_key not in job._repr_markdown_()
    # A new kernel reads the key from the environment again, for that same base URL only.
    again = qwen_magic.job(job.id)
    assert again.results().texts[1] == "Echo: two"
    assert emulator.requests[-1].api_key == test_key
    # A job on Model Studio asked from a kernel without the key: told what to do, nothing sent.
    store = JobStore(job_store)
    record.base_url, record.region = "https://dashscope-intl.aliyuncs.com/compatible-mode/v1", "sg"
    store.save(record)
    monkeypatch.delenv("DASHSCOPE_API_KEY")
    with pytest.raises(UsageError, match=r"No API key .*\$DASHSCOPE_API_KEY"):
        qwen_magic.job(job.id).results()


def test_a_stored_job_elsewhere_gets_no_key(ip, emulator, job_store, test_key):
    """A job whose URL is no longer the one the key is allowed for (the configuration
    changed, or the store was edited) is asked without the key."""
    allow_key_for_emulator(ip, emulator)
    emulator.batches.duration = 100  # still running: every status() asks the service
    ip.user_ns["qs"] = ["one"]
    ip.run_cell_magic("qwen", "--each qs --batch -o job --no-think", "{item}")
    store = JobStore(job_store)
    record = store.get(ip.user_ns["job"].id)
    record.base_url = emulator.compat_base.replace("127.0.0.1", "localhost")
    store.save(record)
    qwen_magic.job(record.id).status()
    assert emulator.requests[-1].protocol == "batches-get"
    assert emulator.requests[-1].api_key == "not-needed"
    ip.run_line_magic("config", "QwenMagics.base_url = None")
    record.base_url = emulator.compat_base
    store.save(record)
    qwen_magic.job(record.id).status()
    assert emulator.requests[-1].protocol == "batches-get"
    assert emulator.requests[-1].api_key == "not-needed"
