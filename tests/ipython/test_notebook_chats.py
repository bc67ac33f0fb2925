"""A notebook executed by nbclient, whose cells are edited and re-run like a user would:
the chat follows the cells on screen.

nbclient itself sends no cell id (JupyterLab does, in the execute request's metadata), so this
client adds the one JupyterLab would send: the cell's own ``id``.
"""

from __future__ import annotations

from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook


class LabLikeClient(NotebookClient):
    """Sends ``metadata.cellId`` with every execute request, as JupyterLab does."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, on_cell_execute=self._remember, **kw)
        self.cell_id: str | None = None

    def _remember(self, cell: Any, cell_index: int) -> None:
        self.cell_id = cell.id

    def send_cell_ids(self) -> None:
        """After ``setup_kernel``: execute requests carry the running cell's id."""

        def execute(code: str, store_history: bool = True, stop_on_error: bool = True) -> str:
            content = {
                "code": code,
                "silent": False,
                "store_history": store_history,
                "user_expressions": {},
                "allow_stdin": False,
                "stop_on_error": stop_on_error,
            }
            metadata = {"cellId": self.cell_id}
            msg = self.kc.session.msg("execute_request", content, metadata=metadata)
            self.kc.shell_channel.send(msg)
            return msg["header"]["msg_id"]

        self.kc.execute = execute


def text_of(cell: Any) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


def test_rerunning_an_edited_cell_replaces_its_turn_and_drops_the_later_ones() -> None:
    nb = new_notebook(
        cells=[
            new_code_cell("%load_ext qwen_magic\n%qwencmd emulator start"),
            new_code_cell("%%qwen -c demo -q\nMy name is Ann."),
            new_code_cell("%%qwen -c demo -q\nI live in Hangzhou."),
            new_code_cell("%%qwen -c demo -q\nWhat do you know about me?"),
            new_code_cell(
                "from qwen_magic.ipython import magics_of\n"
                "chat = magics_of(get_ipython()).chats.get('demo')\n"
                "print([t.user['content'] for t in chat.turns])\n"
                "print([m['content'] for m in _qwen.messages if m['role'] == 'user'])"
            ),
        ]
    )
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    client = LabLikeClient(nb, timeout=60, kernel_name="python3")
    with client.setup_kernel():
        client.send_cell_ids()
        for index, cell in enumerate(nb.cells):
            client.execute_cell(cell, index)
        assert text_of(nb.cells[4]).splitlines() == [
            "['My name is Ann.', 'I live in Hangzhou.', 'What do you know about me?']",
            "['My name is Ann.', 'I live in Hangzhou.', 'What do you know about me?']",
        ]
        nb.cells[2].source = "%%qwen -c demo -q\nI live in Singapore."  # the user edits cell 2
        client.execute_cell(nb.cells[2], 2)  # ... and re-runs it
        client.execute_cell(nb.cells[4], 4)
        assert text_of(nb.cells[4]).splitlines() == [
            "['My name is Ann.', 'I live in Singapore.']",  # cell 3's turn is dropped
            "['My name is Ann.', 'I live in Singapore.']",  # ... and was not sent
        ]
        client.execute_cell(nb.cells[3], 3)  # re-running cell 3 asks again, after the edit
        client.execute_cell(nb.cells[4], 4)
        assert text_of(nb.cells[4]).splitlines()[0] == (
            "['My name is Ann.', 'I live in Singapore.', 'What do you know about me?']"
        )
    assert nbformat.validate(nb) is None


# ------------------------------------------------------------------ outputs of dropped turns
@pytest.mark.parametrize("display", ["live", "final"])
def test_a_turn_dropped_by_a_rerun_is_marked_in_its_cell(ip, magics, display) -> None:
    """Re-running cell 2 drops turn 3: cell 3's output is updated in place (through its display
    id) to say so, still showing its answer; cell 1's output is left alone."""
    from IPython.utils.capture import capture_output

    magics.display = display
    with capture_output() as cap:
        for cell_id, prompt in [
            ("c1", "My name is Ann."),
            ("c2", "I live in Hangzhou."),
            ("c3", "What do you know about me?"),
            ("c2", "I live in Singapore."),  # the user edits cell 2 and re-runs it
        ]:
            ip.run_cell(f"%%qwen -c demo\n{prompt}", cell_id=cell_id)
    ids = []  # the display id of each cell's output, in order
    for output in cap.outputs:
        display_id = (output.transient or {}).get("display_id")
        if display_id and not output.update and display_id not in ids:
            ids.append(display_id)
    assert len(ids) == 4
    marked = [o for o in cap.outputs if o.update and "No longer part of chat" in str(o.data)]
    assert [o.transient["display_id"] for o in marked] == [ids[2]]  # cell 3's, only
    (update,) = marked
    markdown, plain = update.data["text/markdown"], update.data["text/plain"]
    assert "Echo: What do you know about me?" in markdown and plain  # the same answer
    assert "No longer part of chat 'demo': turn 2 was asked again" in markdown
    assert "Re-run this cell to ask again." in plain
    chat = magics.chats.get("demo")
    assert [t.user["content"] for t in chat.turns] == ["My name is Ann.", "I live in Singapore."]
