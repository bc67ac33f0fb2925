"""Terminal IPython: the answer streams to stdout as text, reasoning first; no widgets."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = r"""
from IPython.testing.globalipapp import start_ipython
ip = start_ipython()
print("shell:", type(ip).__name__)
ip.run_line_magic("load_ext", "qwen_magic")
ip.run_line_magic("qwencmd", "emulator start")
from qwen_magic.ipython import magics_of
from qwen_magic.testing import Reply
magics_of(ip).update_interval = 0.02
magics_of(ip).emulator.queue(
    Reply(text="alpha beta gamma delta", reasoning="first I think", chunks=4, delay=0.03)
)
print("=== cell ===")
ip.run_cell("%%qwen --think -o r\nHello")
print("=== after ===")
print("stored:", ip.user_ns["r"].text)
import sys
print("ipywidgets imported:", "ipywidgets" in sys.modules)
"""


def test_terminal_streams_plain_text_once() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, check=True
    )
    out = proc.stdout
    assert "shell: TerminalInteractiveShell" in out
    cell = out.split("=== cell ===\n", 1)[1].split("=== after ===", 1)[0]
    assert cell.index("── thinking ──") < cell.index("first I think") < cell.index("── answer")
    assert cell.count("alpha beta gamma delta") == 1  # deltas, never a re-print of the whole
    assert cell.count("first I think") == 1
    assert "[qwen3.5-plus · chat · emulator" in cell
    assert "widget" not in cell.lower() and "<details>" not in cell
    assert "stored: alpha beta gamma delta" in out
    assert "ipywidgets imported: False" in out


HOSTILE = r"""
from IPython.testing.globalipapp import start_ipython
ip = start_ipython()
ip.run_line_magic("load_ext", "qwen_magic")
ip.run_line_magic("qwencmd", "emulator start")
from qwen_magic.ipython import magics_of
from qwen_magic.testing import Reply
text = "copy\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGV8c2g=\x07 title\x1b]0;pwned\x1b\\ red\x1b[31m end"
magics_of(ip).emulator.queue(Reply(text=text, reasoning="think\x1b[2J", chunks=len(text)))
ip.run_cell("%%qwen --think -o r\nHello")
print("stored intact:", ip.user_ns["r"].text == text)
"""


def test_terminal_never_prints_escape_sequences_from_the_model() -> None:
    """OSC 52 would write the clipboard, OSC 0 the title: the text prints without them, even
    when each character arrives alone; the Result keeps the text as it came."""
    proc = subprocess.run(
        [sys.executable, "-c", HOSTILE], capture_output=True, text=True, timeout=120, check=True
    )
    assert "\x1b" not in proc.stdout and "\x07" not in proc.stdout
    assert "copy" in proc.stdout and "end" in proc.stdout and "think" in proc.stdout
    assert "stored intact: True" in proc.stdout
