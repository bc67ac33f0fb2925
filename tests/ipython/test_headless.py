"""Headless means static: a notebook executed by nbclient / papermill / ``nbconvert --execute``
with their defaults saves no widget (state or view), and its HTML export loads no widget script;
a frontend where a person runs the cell (JupyterLab, Notebook 7, VS Code) keeps the live view.

The kernel tells them apart by the execute_request's ``allow_stdin``: nbclient sends False,
the browser frontends send True.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("jupyter_client")
nbformat = pytest.importorskip("nbformat")

from nbclient import NotebookClient  # noqa: E402 - after the skip

from qwen_magic.testing.kernel import Kernel  # noqa: E402

QUICKSTART = Path(__file__).resolve().parents[2] / "notebooks" / "quickstart.ipynb"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

CELLS = [
    "%load_ext qwen_magic\n%qwencmd emulator start",
    "%%qwen --think\nWhy is the sky blue?",
    "%qwen -o short One line, please.",
    "print(_qwen.error, short.error, bool(short.text))",
]


def notebook(cells: list[str]) -> Any:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    return nb


def widget_traces(nb: Any) -> list[str]:
    """Everything widget-related a saved notebook holds."""
    found = []
    if "widgets" in nb.metadata:
        found.append(f"metadata.widgets ({len(json.dumps(nb.metadata.widgets))} bytes)")
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            for mime in output.get("data", {}):
                if mime in (WIDGET_VIEW, WIDGET_STATE):
                    found.append(f"{mime} output in {cell.source.splitlines()[0]!r}")
    return found


def assert_answered_statically(nb: Any) -> None:
    answer = [o for o in nb.cells[1].outputs if o.get("output_type") == "display_data"]
    assert len(answer) == 1  # one static output, nothing else
    assert "Echo: Why is the sky blue?" in answer[0]["data"]["text/markdown"]
    assert "<details>" in answer[0]["data"]["text/markdown"]  # the reasoning, folded
    assert nb.cells[3].outputs[0]["text"].strip() == "None None True"


def assert_html_loads_no_widget_script(nb: Any, answer: str = "Echo: Why is the sky blue?") -> None:
    from nbconvert import HTMLExporter

    html, _ = HTMLExporter().from_notebook_node(nb)
    assert "@jupyter-widgets/html-manager" not in html
    assert WIDGET_STATE not in html and WIDGET_VIEW not in html
    assert answer in html


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_nbclient_with_its_defaults_saves_no_widgets(tmp_path: Path) -> None:
    nb = notebook(CELLS)
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()

    assert widget_traces(nb) == []
    assert_answered_statically(nb)
    assert_html_loads_no_widget_script(nb)
    (tmp_path / "run.ipynb").write_text(nbformat.writes(nb))
    assert (tmp_path / "run.ipynb").stat().st_size < 20_000


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_papermill_run_of_the_quickstart_saves_no_widgets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    papermill = pytest.importorskip("papermill")
    monkeypatch.delenv("DASHSCOPE_API_KEY", raising=False)  # the quickstart's emulator path
    executed = tmp_path / "quickstart.ipynb"
    papermill.execute_notebook(  # from the notebook's folder, as a user runs it
        str(QUICKSTART), str(executed), kernel_name="python3", progress_bar=False,
        cwd=str(QUICKSTART.parent),
    )  # fmt: skip

    nb = nbformat.read(executed, as_version=4)
    assert widget_traces(nb) == []
    assert_html_loads_no_widget_script(nb, "an effect called Rayleigh scattering")  # replayed


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_display_live_forces_the_live_view_in_a_headless_run() -> None:
    """For Voilà (it executes through nbclient too, and renders widgets live)."""
    nb = notebook(['%config QwenMagics.display = "live"\n' + CELLS[0], *CELLS[1:]])
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()

    state = nb.metadata["widgets"][WIDGET_STATE]["state"]
    assert any(model["model_name"] == "ButtonModel" for model in state.values())  # Stop
    assert_answered_statically(nb)  # the live view still ends in the static output


@pytest.fixture(scope="module")
def kernel() -> Iterator[Kernel]:
    k = Kernel()
    reply, _ = k.run(CELLS[0])
    assert reply["content"]["status"] == "ok"
    yield k
    k.shutdown()


def widgets_opened(kernel: Kernel, code: str, *, allow_stdin: bool) -> int:
    """Run ``code`` as a client that can (or cannot) take input; the widgets it opened."""
    msg_id = kernel.kc.execute(code, allow_stdin=allow_stdin)
    assert kernel.reply(msg_id)["content"]["status"] == "ok"
    kernel.wait_idle(msg_id)
    return sum(m["msg_type"] == "comm_open" for m in kernel.messages(msg_id))


def test_a_frontend_that_takes_input_gets_the_live_view(kernel: Kernel) -> None:
    """What JupyterLab, Notebook 7 and VS Code send (allow_stdin true), as nbclient does not."""
    assert widgets_opened(kernel, "%%qwen\nHello", allow_stdin=True) > 0
    assert widgets_opened(kernel, "%%qwen\nHello", allow_stdin=False) == 0
    assert widgets_opened(kernel, "%qwen Hello", allow_stdin=True) > 0
    assert widgets_opened(kernel, "%qwen Hello", allow_stdin=False) == 0
