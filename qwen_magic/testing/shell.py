"""An IPython shell for tests whose ``run_cell`` fails when the cell failed.

``InteractiveShell.run_cell`` prints a cell's traceback and returns normally, so a test that runs
a cell would pass over a broken cell. This shell re-raises the cell's error, as jupysql's
``TestingShell`` does; a test that expects a failure says so with ``pytest.raises``.
"""

from __future__ import annotations

from typing import Any

from IPython.core.interactiveshell import ExecutionResult, InteractiveShell


class TestingShell(InteractiveShell):
    """An ``InteractiveShell`` whose ``run_cell`` raises the error the cell raised."""

    __test__ = False  # not a pytest test class, despite the name

    def run_cell(self, *args: Any, **kwargs: Any) -> ExecutionResult:
        result = super().run_cell(*args, **kwargs)
        result.raise_error()
        return result
