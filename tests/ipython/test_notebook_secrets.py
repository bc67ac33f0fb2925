"""The quickstart notebook run with a real-looking key (from the environment, config from
ipython_config.py) saves no trace of the key."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]


def test_quickstart_with_a_key_saves_no_trace_of_it(emulator, test_key, tmp_path, monkeypatch):
    profile = tmp_path / "ipython" / "profile_default"
    profile.mkdir(parents=True)
    # c.QwenMagics in ipython_config.py works like %config: point the kernel at the emulator.
    (profile / "ipython_config.py").write_text(
        f"c.QwenMagics.base_url = {emulator.compat_base!r}\n"
        "c.QwenMagics.send_key_to_base_url = True\n"
    )
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.setenv("DASHSCOPE_API_KEY", test_key)
    nb = nbformat.read(ROOT / "notebooks" / "quickstart.ipynb", as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()

    saved = nbformat.writes(nb)
    assert "Online: answers come from Alibaba Cloud Model Studio" in saved  # the key path
    calls = [r for r in emulator.requests if r.protocol == "chat"]
    assert len(calls) >= 3 and all(r.api_key == test_key for r in calls)
    assert "Echo: In two sentences: why is the sky blue?" in saved
    assert test_key not in saved and test_key[8:] not in saved
    (tmp_path / "out.ipynb").write_text(saved)
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert test_key not in path.read_text(errors="ignore"), path


pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
