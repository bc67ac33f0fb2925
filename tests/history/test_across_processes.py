"""The log outlives the kernel and is shared by all of them: two processes writing at once
lose and corrupt nothing; two live kernels see each other's calls; after a restart a new
kernel finds yesterday's answer with `%qwencmd log search`."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

from nbformat.v4 import new_code_cell, new_notebook

from tests.history.conftest import age, rows
from tests.ipython.test_notebook_chats import LabLikeClient

WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from qwen_magic.events import Usage
    from qwen_magic.ipython.logbook import log_call
    from qwen_magic.ipython.magics import QwenMagics
    from qwen_magic.result import Result

    name, go, count = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    magics = QwenMagics(shell=None)
    print("ready", flush=True)
    while not go.exists():
        time.sleep(0.002)
    for i in range(count):
        prompt = f"prompt {name} {i}"
        result = Result(text=f"answer {name} {i} zebra", model="qwen-plus", api="chat",
                        usage=Usage(5, 7), messages=[{"role": "user", "content": prompt}])
        log_call(magics, result)
    """
)


def test_two_processes_writing_at_once_lose_and_corrupt_nothing(log_file, tmp_path):
    go, count = tmp_path / "go", 200
    env = {**os.environ, "QWEN_MAGIC_DATA_DIR": str(log_file.parent)}
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, name, str(go), str(count)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("a", "b")
    ]
    for writer in writers:  # both have opened the log before either writes
        assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
    go.touch()
    for writer in writers:
        out, err = writer.communicate(timeout=300)
        assert writer.returncode == 0 and err == "", err  # nothing "not added to the history"
    logged = rows(log_file)
    assert len(logged) == 2 * count
    for name in ("a", "b"):
        prompts = [r["prompt"] for r in logged if r["prompt"].startswith(f"prompt {name} ")]
        assert prompts == [f"prompt {name} {i}" for i in range(count)]  # each in its order
    assert len({r["id"] for r in logged}) == 2 * count
    interleaved = [r["prompt"].split()[1] for r in logged]
    assert interleaved.count("a") == interleaved.count("b") == count
    with sqlite3.connect(log_file) as db:
        assert db.execute("pragma integrity_check").fetchone()[0] == "ok"
        assert db.execute("pragma journal_mode").fetchone()[0] == "wal"
        db.execute("insert into calls_fts(calls_fts) values ('integrity-check')")  # raises if bad
        found = db.execute("select count(*) from calls_fts where calls_fts match 'zebra'")
        assert found.fetchone()[0] == 2 * count


NAMES = ("a", "b", "c", "d")
# The writer, its modules loaded before "ready" (as a warmed-up kernel has them), so that the
# first calls of the kernels really come together.
FIRST_CALL = WRITER.replace(
    "from qwen_magic.result import Result\n",
    "from qwen_magic.result import Result\nimport qwen_magic.logbook.record, "
    "qwen_magic.logbook.store, qwen_magic.options.keys, qwen_magic.ipython.kernel\n",
)


def test_kernels_that_start_a_new_history_at_once_all_write_theirs(tmp_path):
    """Four kernels whose first calls come together on a machine with no history yet: each
    one's call is written (the switch to WAL could answer "database is locked" at once)."""
    for round_ in range(12):
        data = tmp_path / f"round{round_}"
        go = data / "go"
        data.mkdir()
        env = {**os.environ, "QWEN_MAGIC_DATA_DIR": str(data)}
        writers = [
            subprocess.Popen(
                [sys.executable, "-c", FIRST_CALL, name, str(go), "1"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for name in NAMES
        ]
        for writer in writers:
            assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
        go.touch()
        for writer in writers:
            out, err = writer.communicate(timeout=120)
            assert writer.returncode == 0 and err == "", err  # no "not added to the history"
        logged = sorted(r["prompt"] for r in rows(data / "history.sqlite3"))
        assert logged == [f"prompt {name} 0" for name in NAMES]


def _notebook(*sources: str) -> Any:
    nb = new_notebook(cells=[new_code_cell(source) for source in sources])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


def _run(client: LabLikeClient, nb: Any, index: int) -> Any:
    cell = nb.cells[index]
    client.execute_cell(cell, index)
    return cell


def _shown(cell: Any) -> str:
    texts = []
    for output in cell.outputs:
        if output.output_type == "stream":
            texts.append(output.text)
        elif "data" in output:
            texts.append(output.data.get("text/markdown") or output.data.get("text/plain", ""))
    return "\n".join(texts)


START = "%load_ext qwen_magic\n%qwencmd emulator start"


def test_two_kernels_share_the_log_and_a_restarted_kernel_finds_yesterdays_answer(
    log_file, monkeypatch
):
    monkeypatch.setenv("JPY_SESSION_NAME", "/home/ann/biology.ipynb")  # as Jupyter starts it
    first = _notebook(START, "%%qwen -m qwen-plus\nWhat is photosynthesis?", "")
    second = _notebook(
        START,
        "%%qwen -m qwen-max\nWhy do volcanoes erupt?",
        "%qwencmd log search photosynthesis",
    )
    kernel_a = LabLikeClient(first, timeout=120, kernel_name="python3")
    kernel_b = LabLikeClient(second, timeout=120, kernel_name="python3")
    with kernel_a.setup_kernel(), kernel_b.setup_kernel():  # two live kernels
        kernel_a.send_cell_ids()
        kernel_b.send_cell_ids()
        _run(kernel_a, first, 0)
        _run(kernel_b, second, 0)
        _run(kernel_a, first, 1)
        _run(kernel_b, second, 1)
        seen = _shown(_run(kernel_b, second, 2))  # b finds a's call
        assert "What is photosynthesis?" in seen and "volcanoes" not in seen
    logged = rows(log_file)
    assert [(r["model"], r["prompt"]) for r in logged] == [
        ("qwen-plus", "What is photosynthesis?"),
        ("qwen-max", "Why do volcanoes erupt?"),
    ]
    photosynthesis = logged[0]
    assert photosynthesis["notebook"] == "/home/ann/biology.ipynb"
    assert photosynthesis["cell_id"] == first.cells[1].id  # the cell JupyterLab names
    assert photosynthesis["answer"] == "Echo: What is photosynthesis?"

    age(log_file, photosynthesis["id"], 1)  # it was asked yesterday; both kernels are gone
    restarted = _notebook(
        "%load_ext qwen_magic",
        "%qwencmd log search photosynthesis --since 2d",
        "import qwen_magic, json\n"
        "e = qwen_magic.history('photosynthesis')[0]\n"
        "print(json.dumps([e.answer, e.notebook, (e.when.date().isoformat())]))",
    )
    kernel_c = LabLikeClient(restarted, timeout=120, kernel_name="python3")
    with kernel_c.setup_kernel():
        kernel_c.send_cell_ids()
        _run(kernel_c, restarted, 0)
        table = _shown(_run(kernel_c, restarted, 1))
        printed = _shown(_run(kernel_c, restarted, 2))
    assert "What is photosynthesis?" in table and "Echo: What is photosynthesis?" in table
    yesterday = time.strftime("%Y-%m-%d", time.localtime(time.time() - 86400))
    assert yesterday in table
    assert json.loads(printed) == ["Echo: What is photosynthesis?", "/home/ann/biology.ipynb",
                                   yesterday]  # fmt: skip
    assert Path(photosynthesis["notebook"]).name == "biology.ipynb"
