"""Shared fixtures: an in-process IPython shell with the extension loaded, on the emulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from qwen_magic.testing.shell import TestingShell

pytest_plugins = ["qwen_magic.testing.pytest_plugin"]

TEST_KEY = "sk-qwenmagic-TESTKEY-7f3a9c1e5b"  # recognisable, scanned for in outputs


def pytest_configure(config: pytest.Config) -> None:
    """Batch jobs are recorded in a store under the user's data directory: during the tests
    (in-process, and in the kernels nbval and nbclient start) it is a fresh temporary one."""
    import os
    import tempfile

    if "QWEN_MAGIC_DATA_DIR" not in os.environ:
        os.environ["QWEN_MAGIC_DATA_DIR"] = tempfile.mkdtemp(prefix="qwen-magic-data-")


@pytest.fixture(scope="session")
def shell() -> TestingShell:
    """One shell for the session; ``run_cell`` re-raises what the cell raised."""
    ip = TestingShell.instance()
    ip.history_manager.enabled = False
    return ip


@pytest.fixture
def ip(shell: TestingShell, emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The shell with a fresh QwenMagics whose every call goes to the test emulator."""
    from qwen_magic.ipython import magics_of

    monkeypatch.setenv("DASHSCOPE_API_KEY", TEST_KEY)
    shell.run_line_magic("load_ext", "qwen_magic")
    magics = magics_of(shell)
    magics.use_emulator(emulator)
    magics.update_interval = 0.05
    shell.magics_obj = magics
    yield shell
    shell.run_line_magic("unload_ext", "qwen_magic")
    shell.config.pop("QwenMagics", None)  # %config in one test must not leak into the next
    for name in ("_qwen", "r"):
        shell.user_ns.pop(name, None)


@pytest.fixture
def magics(ip: Any) -> Any:
    return ip.magics_obj


class CommRecorder:
    """Counts what widgets would send to a browser (the comm is a dummy without a kernel)."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, dict[str, Any]]] = []

    def record(self, msg_type: str, data: Any = None, *args: Any, **kw: Any) -> None:
        self.messages.append((msg_type, data or {}))

    @property
    def updates(self) -> list[dict[str, Any]]:
        return [d for t, d in self.messages if t == "comm_msg" and d.get("method") == "update"]

    @property
    def bytes_sent(self) -> int:
        return sum(len(json.dumps(d, default=str)) for _, d in self.messages)


@pytest.fixture
def comms(monkeypatch: pytest.MonkeyPatch) -> CommRecorder:
    import comm

    recorder = CommRecorder()
    monkeypatch.setattr(comm.DummyComm, "publish_msg", recorder.record, raising=True)
    return recorder


@pytest.fixture
def test_key() -> str:
    """The key the `ip` fixture puts in DASHSCOPE_API_KEY: it must never be shown."""
    return TEST_KEY
