"""The README's pictures, taken in a real JupyterLab: each scene (``scenes.py``) asserts that
the screen shows what its picture claims, and saves the picture into a temporary directory
(``scripts/screenshots.py`` regenerates the committed ones in ``docs/images/``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from scenes import PICTURES, play
from test_jupyterlab import Lab, lab  # noqa: F401 - the fixture is used by name

pytestmark = pytest.mark.browser


@pytest.mark.timeout(600)
def test_screenshots(lab: Lab, tmp_path: Path) -> None:  # noqa: F811
    from PIL import Image

    shots = play(lab, tmp_path)

    assert [shot.stem for shot in shots] == list(PICTURES)
    for shot in shots:
        with Image.open(shot) as image:
            width, height = image.size
            assert 600 <= width <= 1000 and height >= 100, (shot.name, image.size)
            assert len(image.getcolors(1 << 16) or range(1 << 16)) > 50, shot.name  # not blank
    print(f"\nscreenshots: {tmp_path}")
