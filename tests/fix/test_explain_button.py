"""``%config QwenMagics.explain_errors = True``: an "Explain with Qwen" button under each
uncaught exception; nothing is sent until it is clicked."""

from __future__ import annotations

from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

from qwen_magic.emulator import Reply
from qwen_magic.ipython import fix

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def generation_requests(emulator: Any) -> int:
    return sum(1 for r in emulator.requests if "messages" in (r.body or {}))


def widgets_shown(outputs: Any) -> list[Any]:
    """The explain boxes among the widgets displayed (a live answer view is closed by now)."""
    import ipywidgets as w
    from ipywidgets.widgets.widget import _instances

    shown = []
    for output in outputs:
        view = output.data.get(WIDGET_VIEW)
        widget = _instances.get(view["model_id"]) if view is not None else None
        children = getattr(widget, "children", ())
        if children and isinstance(children[0], w.Button) and "Qwen" in children[0].description:
            shown.append(widget)
    return shown


def explain_button(outputs: Any) -> Any:
    """The button (and its answer area) shown under a traceback."""
    import ipywidgets as w

    boxes = widgets_shown(outputs)
    assert len(boxes) == 1
    assert len([o for o in outputs if WIDGET_VIEW in o.data]) == 1  # and nothing else
    button, area = boxes[0].children
    assert isinstance(button, w.Button) and isinstance(area, w.Output)
    return button


def fail_with_capture(ip: Any, cell: str, error: type[BaseException]) -> Any:
    with capture_output() as captured, pytest.raises(error):
        ip.run_cell(cell)
    return captured


def test_a_button_under_the_error_and_nothing_sent_until_clicked(ip: Any, emulator: Any) -> None:
    ip.run_line_magic("config", "QwenMagics.explain_errors = True")
    captured = fail_with_capture(ip, "scores = {'a': 1}\nscores['b']", KeyError)
    button = explain_button(captured.outputs)
    assert button.description == "Explain with Qwen"
    assert generation_requests(emulator) == 0  # shown, not sent
    emulator.queue(Reply(text="The key 'b' is missing.\n\n```python\nscores.get('b')\n```"))
    ip.rl_next_input = None
    with capture_output() as answer:
        button.click()
    assert generation_requests(emulator) == 1
    text = emulator.last.body["messages"][-1]["content"]
    assert "scores['b']" in text and "KeyError: 'b'" in text and "- scores: dict of 1 keys" in text
    shown = "".join(o.data.get("text/markdown", "") for o in answer.outputs)
    assert "The key 'b' is missing." in shown  # the answer, as a %%qwen answer shows
    assert ip.rl_next_input is None  # a click never makes a new cell (no execute reply)
    assert button.layout.display == "none"  # answered: the button gives way to the answer


def test_the_click_explains_its_own_cell_even_after_another_error(ip: Any, emulator: Any) -> None:
    ip.run_line_magic("config", "QwenMagics.explain_errors = True")
    first = explain_button(fail_with_capture(ip, "int('seven')", ValueError).outputs)
    fail_with_capture(ip, "[][0]", IndexError)
    with capture_output():
        first.click()
    text = emulator.last.body["messages"][-1]["content"]
    assert "int('seven')" in text and "IndexError" not in text
    assert "[][0]" in _fix_text(ip, emulator)  # ...while %qwencmd fix means the last one


def _fix_text(ip: Any, emulator: Any) -> str:
    with capture_output():
        ip.run_line_magic("qwencmd", "fix")
    return str(emulator.last.body["messages"][-1]["content"])


def test_a_failed_click_says_why_and_can_be_clicked_again(
    ip: Any, emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ip.run_line_magic("config", "QwenMagics.explain_errors = True")
    button = explain_button(fail_with_capture(ip, "1 / 0", ZeroDivisionError).outputs)
    monkeypatch.delenv("DASHSCOPE_API_KEY")
    magics = ip.magics_obj
    magics.use_emulator(None)  # the real service, and no key: a UsageError before any request
    with capture_output() as captured:
        button.click()
    assert "UsageError" in captured.stderr and "key" in captured.stderr.lower()
    assert not button.disabled and button.description == "Explain with Qwen"
    assert generation_requests(emulator) == 0


def test_no_button_for_qwens_own_errors(ip: Any, emulator: Any) -> None:
    ip.run_line_magic("config", "QwenMagics.explain_errors = True")
    for cell in ("%qwen --bogus What?", "%qwencmd nonsense", "%%qwen -t 9\nHi"):
        captured = fail_with_capture(ip, cell, UsageError)
        assert widgets_shown(captured.outputs) == []
    emulator.queue(Reply(fault="http_401"))
    with capture_output() as captured:
        ip.run_cell("%qwen -o failed Hello")  # a service error: shown in its box, not raised
    assert ip.user_ns.pop("failed").error is not None
    assert widgets_shown(captured.outputs) == []


def test_off_by_default_and_nothing_without_a_live_view(ip: Any, emulator: Any) -> None:
    assert widgets_shown(fail_with_capture(ip, "1 / 0", ZeroDivisionError).outputs) == []
    ip.run_line_magic("config", "QwenMagics.explain_errors = True")
    for display in ("final", "none"):  # documentation notebooks, -q style sessions
        ip.run_line_magic("config", f"QwenMagics.display = {display!r}")
        captured = fail_with_capture(ip, "1 / 0", ZeroDivisionError)
        assert widgets_shown(captured.outputs) == [] and captured.outputs == []
    assert generation_requests(emulator) == 0


def test_unload_removes_the_hook(
    shell: Any, emulator: Any, monkeypatch: pytest.MonkeyPatch, test_key: str
) -> None:
    import gc
    import weakref

    from qwen_magic.ipython import magics_of

    monkeypatch.setenv("DASHSCOPE_API_KEY", test_key)
    shell.run_line_magic("load_ext", "qwen_magic")
    magics_of(shell).use_emulator(emulator)
    shell.run_line_magic("config", "QwenMagics.explain_errors = True")
    magics = weakref.ref(magics_of(shell))

    def hooked() -> bool:
        return any(
            isinstance(c, fix.ErrorRecorder) for c in shell.events.callbacks["post_run_cell"]
        )

    assert hooked()
    button = explain_button(fail_with_capture(shell, "1 / 0", ZeroDivisionError).outputs)
    shell.run_line_magic("unload_ext", "qwen_magic")
    shell.config.pop("QwenMagics", None)

    assert not hooked()
    assert fix.transform not in shell.input_transformers_cleanup
    captured = fail_with_capture(shell, "1 / 0", ZeroDivisionError)
    assert widgets_shown(captured.outputs) == []
    gc.collect()
    assert magics() is None  # the button left on screen does not keep the extension alive
    with capture_output() as clicked:
        button.click()  # ...and says what to do when clicked
    assert "not loaded" in clicked.stderr
    assert generation_requests(emulator) == 0
