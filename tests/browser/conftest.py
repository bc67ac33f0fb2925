"""Registers the ``browser`` marker (``pytest -m browser`` / ``-m "not browser"``)."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "browser: drives Debian's /usr/bin/chromium against a real JupyterLab server "
        "(run scripts/install-browser.sh first; skipped when chromium/playwright/jupyterlab "
        "are missing)",
    )
