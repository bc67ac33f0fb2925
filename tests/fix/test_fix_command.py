"""``%qwencmd fix`` / ``%qwen --fix`` / ``%%qwen --fix``: what is sent about the last error.

Every test fails a cell in the in-process shell, then asks through the magic; the emulator
records the request the SDK really sent.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

from qwen_magic.emulator import Reply
from qwen_magic.ipython import fix, lasterror


def sent(emulator: Any) -> str:
    """The text of the last user message the emulator received."""
    messages = emulator.last.body["messages"]
    content = messages[-1]["content"]
    if isinstance(content, list):
        content = "".join(part.get("text", "") for part in content)
    return str(content)


def fail(ip: Any, cell: str, error: type[BaseException] = ZeroDivisionError) -> None:
    with capture_output(), pytest.raises(error):
        ip.run_cell(cell)


def generation_requests(emulator: Any) -> int:
    return sum(1 for r in emulator.requests if "messages" in (r.body or {}))


def test_sends_the_cell_the_exception_and_a_plain_trimmed_traceback(ip: Any, emulator: Any) -> None:
    ip.run_cell("def ratio(a, b):\n    return a // b\n")
    fail(ip, "n = 0\ntotal = 7\nprint(ratio(total, n))")
    with capture_output():
        ip.run_line_magic("qwencmd", "fix")
    text = sent(emulator)
    assert "n = 0\ntotal = 7\nprint(ratio(total, n))" in text  # the cell, as typed
    assert "ZeroDivisionError: integer division or modulo by zero" in text
    assert "print(ratio(total, n))" in text and "return a // b" in text  # both cells' frames
    assert ", in ratio" in text
    assert "interactiveshell.py" not in text  # IPython's own frames are dropped
    assert "\x1b" not in text  # no ANSI colours
    assert "corrected cell" in text  # what is asked
    # The variables the cell uses, with their types and small values; not IPython's names.
    assert "- n: int = 0" in text and "- total: int = 7" in text
    assert "- ratio: function ratio(a, b)" in text
    assert "print:" not in text and "get_ipython" not in text


def test_no_error_is_a_usage_error_and_sends_nothing(ip: Any, emulator: Any) -> None:
    with pytest.raises(UsageError, match="no error to explain"):
        ip.run_line_magic("qwencmd", "fix")
    with pytest.raises(UsageError, match="no error to explain"):
        ip.run_line_magic("qwen", "--fix")
    assert generation_requests(emulator) == 0


def test_a_magics_usage_error_is_not_the_error_to_explain(ip: Any, emulator: Any) -> None:
    with capture_output(), pytest.raises(UsageError):
        ip.run_cell("%qwen --bogus What?")
    with pytest.raises(UsageError, match="no error to explain"):
        ip.run_line_magic("qwencmd", "fix")
    assert generation_requests(emulator) == 0


def test_extra_words_are_included_and_the_cell_magic_works_too(ip: Any, emulator: Any) -> None:
    fail(ip, "items = [1, 2]\nitems[5]", IndexError)
    with capture_output():
        ip.run_line_magic("qwencmd", "fix answer in French, please")
    assert "Also: answer in French, please" in sent(emulator)
    with capture_output():
        ip.run_cell_magic("qwen", "--fix", "Keep the {braces} as they are.")
    text = sent(emulator)
    assert "Also: Keep the {braces} as they are." in text  # as written, not filled
    assert "IndexError: list index out of range" in text
    assert "- items: list of 2 items" in text


def test_f_code_puts_the_corrected_cell_below(ip: Any, emulator: Any) -> None:
    fail(ip, "values = [3, 0]\nvalues[0] / values[1]")
    answer = (
        "`values[1]` is 0, so the division fails:\n\n```python\nvalues[0] / values[1]\n```\n\n"
        "Corrected cell:\n\n```python\nvalues = [3, 0]\nvalues[0] / values[1] if values[1] "
        "else float('nan')\n```\n"
    )
    emulator.queue(Reply(text=answer, reasoning=""))
    ip.rl_next_input = None
    with capture_output():
        ip.run_line_magic("qwencmd", "fix -f code -o explained")
    assert ip.rl_next_input == (
        "values = [3, 0]\nvalues[0] / values[1] if values[1] else float('nan')"
    )  # the corrected cell (the answer's last python block), not the quoted line
    assert ip.user_ns["explained"].text == answer  # -o works as for any question
    ip.user_ns.pop("explained")


def test_library_frames_are_trimmed_to_the_last_few(
    ip: Any, emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "deeplib.py").write_text(
        "def a(x):\n    return b(x)\n\ndef b(x):\n    return c(x)\n\n"
        "def c(x):\n    return d(x)\n\ndef d(x):\n    return e(x)\n\n"
        "def e(x):\n    raise ValueError(f'\\x1b[31mbad value\\x1b[0m {x!r}')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    fail(ip, "import deeplib\ndeeplib.a(41)", ValueError)
    with capture_output():
        ip.run_line_magic("qwencmd", "fix")
    text = sent(emulator)
    assert "deeplib.a(41)" in text
    assert "... 2 more frames ..." in text  # a and b left out...
    assert ", in c" in text and ", in d" in text and ", in e" in text  # ...the last three kept
    assert ", in a\n" not in text and ", in b\n" not in text
    assert str(tmp_path) not in text  # a short path, not the user's directories
    assert "ValueError: bad value 41" in text and "\x1b" not in text  # colours stripped
    ip.user_ns.pop("deeplib", None)


def test_the_payload_is_bounded(ip: Any, emulator: Any) -> None:
    long_cell = "\n".join(f"value_{i} = {i}" for i in range(3000))
    ip.run_cell(
        "def down(n):\n    if n == 300:\n        raise ValueError('deep enough')\n"
        "    return down(n + 1)\n"
    )
    mode = ip.InteractiveTB.mode  # (IPython's own display of 300 frames is slow; ours isn't
    ip.run_line_magic("xmode", "Minimal")  # affected by the mode the user chose)
    try:
        fail(ip, long_cell + "\ndown(0)", ValueError)
    finally:
        ip.run_line_magic("xmode", mode)
    with capture_output():
        ip.run_line_magic("qwencmd", "fix")
    text = sent(emulator)
    assert len(text) < 16_000  # a 40 KB cell and 300 frames in the cells
    assert "more characters)" in text  # the cell is cut, and says so
    assert "... (cut) ..." in text  # so is the traceback: its head and its end are kept
    assert "ValueError: deep enough" in text
    assert text.count("\n- ") <= lasterror.VARIABLES + 1  # 25 variables, then "... and N more"
    assert "- ... and " in text


def test_shapes_of_arrays_and_dataframes(ip: Any, emulator: Any) -> None:
    pytest.importorskip("pandas")
    ip.run_cell(
        "import numpy as np\nimport pandas as pd\n"
        "frame = pd.DataFrame({'price': [1.5, 2.0], 'city': ['Paris', 'Rome']})\n"
        "grid = np.zeros((3, 4))\n"
    )
    fail(ip, "frame['cost'].sum() + grid.sum()", KeyError)
    with capture_output():
        ip.run_line_magic("qwencmd", "fix")
    text = sent(emulator)
    assert "- frame: pandas.DataFrame, shape (2, 2), columns 'price' (float64), 'city' (" in text
    assert "- grid: numpy.ndarray, shape (3, 4), dtype float64" in text
    assert "KeyError: 'cost'" in text
    for name in ("np", "pd", "frame", "grid"):
        ip.user_ns.pop(name, None)


def test_the_key_never_leaves_in_the_question(ip: Any, emulator: Any, test_key: str) -> None:
    ip.run_cell("import os\nvalue = os.environ['DASHSCOPE_API_KEY']\napi_key = value\n")
    fail(ip, f"note = {test_key!r}\nprint(value, api_key, note)\n1 / 0")
    with capture_output():
        ip.run_line_magic("qwencmd", "fix")
    body = json.dumps(emulator.last.body)
    assert test_key not in body
    text = sent(emulator)
    assert "- api_key: str of" in text and "not shown" in text  # a secret-looking name
    assert "- value: str = 'sk-…" in text  # masked where it shows
    for name in ("os", "value", "api_key", "note"):
        ip.user_ns.pop(name, None)


def test_an_error_from_before_the_extension_was_loaded(
    shell: Any, emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qwen_magic.ipython import magics_of

    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-qwenmagic-TESTKEY-7f3a9c1e5b")
    with capture_output(), pytest.raises(NameError):
        shell.run_cell("print(undefined_thing)")
    shell.run_line_magic("load_ext", "qwen_magic")
    try:
        magics_of(shell).use_emulator(emulator)
        with capture_output():
            shell.run_line_magic("qwencmd", "fix")
        text = sent(emulator)
        assert "print(undefined_thing)" in text
        assert "NameError: name 'undefined_thing' is not defined" in text
    finally:
        shell.run_line_magic("unload_ext", "qwen_magic")


def test_rerunning_the_failed_cell_without_error_forgets_the_error(ip: Any) -> None:
    fail(ip, "1 / 0")
    with capture_output():
        ip.run_cell("1 / 1", cell_id="cell-a")
    assert fix.recorder_of(ip.magics_obj).last is not None  # another cell: kept
    fail_cell = "x = 1 / zero"
    ip.user_ns["zero"] = 0
    with capture_output(), pytest.raises(ZeroDivisionError):
        ip.run_cell(fail_cell, cell_id="cell-b")
    ip.user_ns["zero"] = 1
    with capture_output():
        ip.run_cell(fail_cell, cell_id="cell-b")
    with pytest.raises(UsageError, match="no error to explain"):
        ip.run_line_magic("qwencmd", "fix")
    ip.user_ns.pop("zero")


def test_an_error_raised_inside_qwen_magic_is_not_recorded(ip: Any, emulator: Any) -> None:
    fail(ip, "from qwen_magic.ipython.fix import fenced\nfenced(None)", TypeError)
    with pytest.raises(UsageError, match="no error to explain"):
        ip.run_line_magic("qwencmd", "fix")
    assert generation_requests(emulator) == 0
    ip.user_ns.pop("fenced", None)
