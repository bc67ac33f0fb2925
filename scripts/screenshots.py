"""Regenerate the README's pictures in docs/images/ from a real JupyterLab and Chromium.

The scenes are the browser test's (``tests/browser/scenes.py``: the emulator answering with
scripted English text), played in the browser tests' own JupyterLab start-up (pip playwright
driving Debian's ``/usr/bin/chromium``, everything on 127.0.0.1). Each picture is an element
screenshot of the ``%%qwen`` cell, light theme, reduced to a 256-colour PNG with Pillow.

    .venv/bin/python scripts/screenshots.py [--out docs/images]

Needs ``bash scripts/install-browser.sh`` first; the 🔧 of the tool row needs an emoji font
(Debian: ``apt-get install fonts-noto-color-emoji``).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "browser"))

import scenes  # noqa: E402 - the browser test's scenes
import test_jupyterlab as lab_tests  # noqa: E402 - the browser tests' own start-up


class _Factory:
    """What the ``lab`` fixture asks of pytest's ``tmp_path_factory``: fresh directories."""

    def __init__(self, base: Path) -> None:
        self.base = base

    def mktemp(self, name: str) -> Path:
        return Path(tempfile.mkdtemp(prefix=name, dir=self.base))


def optimize(source: Path, target: Path) -> int:
    """A 256-colour PNG (screenshots of text have few colours): its size in bytes."""
    with Image.open(source) as image:
        small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
        small.save(target, optimize=True)
    return target.stat().st_size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    args = parser.parse_args()
    fonts = subprocess.run(["fc-list"], capture_output=True, text=True, check=False).stdout
    if "emoji" not in fonts.lower():
        print("No emoji font: the tool row's 🔧 shows as a box (fonts-noto-color-emoji).")
    args.out.mkdir(parents=True, exist_ok=True)
    base = Path(tempfile.mkdtemp(prefix="qwen_screenshots_"))
    lab_gen = lab_tests.lab.__wrapped__(_Factory(base))  # type: ignore[attr-defined]
    lab = next(lab_gen)
    try:
        shots = scenes.play(lab, base)
    finally:
        for _ in lab_gen:  # runs the fixture's teardown
            pass
    for shot in shots:
        target = args.out / shot.name
        size = optimize(shot, target)
        with Image.open(target) as image:
            width, height = image.size
        shown = target.relative_to(ROOT) if target.is_relative_to(ROOT) else target
        print(f"{shown}  {width}×{height}  {size / 1024:.0f} KB")
    shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
