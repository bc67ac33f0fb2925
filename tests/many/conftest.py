"""Many answers are checked on their saved output: the cells show it as the final view."""

from __future__ import annotations

import pytest


@pytest.fixture
def final(magics):
    """The magics, showing each cell's static output only (no live widgets)."""
    magics.display = "final"
    return magics
