"""Fixtures of the tool tests: tools in the user namespace that record their calls."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tool_helpers import Calls, install


@pytest.fixture
def calls(ip: Any) -> Iterator[Calls]:
    """``get_weather`` and ``get_time`` in the user namespace, recording their calls."""
    yield install(ip)
    for name in ("get_weather", "get_time"):
        ip.user_ns.pop(name, None)
