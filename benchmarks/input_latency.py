"""P7: the browser's input latency while an answer streams (issue 11, item 10).

JupyterLab and Chromium start exactly as the browser tests start them (the ``lab`` and
``page`` fixtures of ``tests/browser/test_jupyterlab.py``, called here as plain generators):
pip playwright driving Debian's ``/usr/bin/chromium``, everything on 127.0.0.1. A notebook
has one ``%%qwen`` cell that streams a long answer from the emulator (20,000 words in
paragraphs of 60, one frame per word, 1 ms apart: about 20-25 s; the default
``update_interval``) and, below it, a code cell a user types into.

Per key, ``page.keyboard.press`` sends a real (trusted) key to the editor, one every
``--pace`` seconds as a person types. In the page, a capturing ``keydown`` listener notes the
event's ``timeStamp`` (when the browser received the key, before the page's main thread got to
it); a ``MutationObserver`` on the editor sees the character land; the figure is the time from
the key to the next animation frame after that (``requestAnimationFrame``), i.e. the first frame
that can show the character. Three phases in one run, side by side: typing before anything runs
(idle), typing while the answer streams (only keys whose keydown came while the Stop button was
on screen count), and typing after the answer is done (its 110 kB static output on the page).
Prints median and p95 of each and the ratios to idle. Asserts nothing; always exits 0.

    .venv/bin/python benchmarks/input_latency.py [--keys 60] [--pace 0.12] [--words 20000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "browser"))

import test_jupyterlab as lab_tests  # noqa: E402 - the browser tests' own start-up

NAME = "latency.ipynb"
TYPING = "# typed while it streams: "

# In the page: record, per key, keydown timeStamp → the first frame after the character landed.
JS_INSTALL = """
(cellIndex) => {
  const cell = document.querySelectorAll('.jp-NotebookPanel .jp-Notebook .jp-Cell')[cellIndex];
  const editor = cell.querySelector('.cm-content');
  const qwenCell = cell.previousElementSibling;
  window.__lat = [];
  let pending = null;
  document.addEventListener('keydown', (e) => {
    const streaming = [...qwenCell.querySelectorAll('button')]
      .some((b) => b.textContent.includes('Stop'));
    pending = {t0: e.timeStamp, len: editor.textContent.length, streaming};
  }, true);
  new MutationObserver(() => {
    if (!pending || editor.textContent.length === pending.len) return;
    const p = pending;
    pending = null;
    const landed = performance.now();
    requestAnimationFrame(() => {
      const frame = performance.now();
      window.__lat.push({dom: landed - p.t0, frame: frame - p.t0, streaming: p.streaming});
    });
  }).observe(editor, {childList: true, subtree: true, characterData: true});
  return true;
}
"""


class _Factory:
    """What the ``lab`` fixture asks of pytest's ``tmp_path_factory``: fresh directories."""

    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="qwen_input_latency_"))

    def mktemp(self, name: str) -> Path:
        return Path(tempfile.mkdtemp(prefix=name, dir=self.base))


def cells(words: int) -> list[str]:
    """The notebook: set-up, the emulator's long answer queued, the %%qwen cell, the typing."""
    return [
        lab_tests.KERNEL_CELL,
        "%load_ext qwen_magic",
        "%qwencmd emulator start",
        "from qwen_magic.ipython import magics_of\n"
        "from qwen_magic.testing import Reply\n"
        f"_w = [f'w{{i % 1000}}' for i in range({words})]\n"
        "_text = '\\n\\n'.join(' '.join(_w[i : i + 60]) for i in range(0, len(_w), 60))\n"
        "magics_of(get_ipython()).emulator.queue(\n"
        f"    Reply(text=_text, reasoning='', chunks={words}, delay=0.001)\n"
        ")",
        "%%qwen\nWrite a very long answer.",
        TYPING,
    ]


def type_keys(page: Any, keys: int, pace: float, until: Any = None) -> None:
    """Press ``keys`` letters (or until ``until()``), one per ``pace`` s, each waited for."""
    for n in range(keys):
        if until is not None and until():
            return
        start = time.perf_counter()
        seen = page.evaluate("window.__lat.length")
        page.keyboard.press("abcdefghijklmnopqrstuvwxyz"[n % 26])
        page.wait_for_function("(n) => window.__lat.length > n", arg=seen)
        time.sleep(max(0.0, pace - (time.perf_counter() - start)))


def focus_end(page: Any, cell: Any) -> None:
    cell.locator(".cm-content").click()
    page.keyboard.press("Control+End")


def summary(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--keys", type=int, default=60, help="keys typed when idle (each phase)")
    parser.add_argument("--pace", type=float, default=0.12, help="seconds between keys")
    parser.add_argument("--words", type=int, default=20_000, help="words in the answer")
    args = parser.parse_args()

    factory = _Factory()
    lab_gen = lab_tests.lab.__wrapped__(factory)
    lab = next(lab_gen)
    page_gen = lab_tests.page.__wrapped__(lab)
    page = next(page_gen)
    phases: dict[str, list[dict[str, Any]]] = {}
    try:
        lab_tests.open_notebook(lab, page, NAME, cells(args.words))
        notebook_cells = lab_tests.cells(page)
        typing = notebook_cells.nth(5)
        page.evaluate(JS_INSTALL, 5)

        focus_end(page, typing)  # idle: nothing runs yet
        type_keys(page, args.keys, args.pace)
        phases["idle"] = page.evaluate("window.__lat.splice(0)")

        lab_tests.run_all(page, NAME)
        qwen = notebook_cells.nth(4)
        stop = qwen.locator("button.jupyter-button", has_text="Stop")
        stop.wait_for(state="visible", timeout=lab_tests.LONG)
        started = time.perf_counter()
        focus_end(page, typing)
        type_keys(page, 10_000, args.pace, until=lambda: not stop.is_visible())
        streamed_for = time.perf_counter() - started
        lab_tests.wait_done(qwen)
        phases["streaming"] = [s for s in page.evaluate("window.__lat.splice(0)") if s["streaming"]]
        first = notebook_cells.nth(0)
        first.scroll_into_view_if_needed()  # a windowed notebook renders only what is in view
        lab_tests.check_kernel(lab, first)

        focus_end(page, typing)  # done: the static answer is on the page
        type_keys(page, args.keys, args.pace)
        phases["after"] = page.evaluate("window.__lat.splice(0)")
    finally:
        for gen in (page_gen, lab_gen):
            for _ in gen:  # runs the fixture's teardown
                pass
        shutil.rmtree(factory.base, ignore_errors=True)

    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"chromium · {os.cpu_count()} cpu · load {load} · answer {args.words:,} words streamed "
        f"for {streamed_for:.1f} s while typing · one key per {args.pace:g} s"
    )
    print(f"{'figure':<52} {'keys':>5} {'median':>8} {'p95':>8} {'/ idle':>13}")
    base = summary([s["frame"] for s in phases["idle"]])
    labels = {
        "idle": "P7 key → next frame, nothing running",
        "streaming": "P7 key → next frame, while the answer streams",
        "after": "P7 key → next frame, after (long static answer)",
    }
    for phase, label in labels.items():
        samples = phases[phase]
        if not samples:
            print(f"{label:<52} {0:>5}")
            continue
        med, p95 = summary([s["frame"] for s in samples])
        ratio = f"{med / base[0]:.2f}x {p95 / base[1]:.2f}x"
        print(f"{label:<52} {len(samples):>5} {med:>6.1f}ms {p95:>6.1f}ms {ratio:>13}")
        dmed, dp95 = summary([s["dom"] for s in samples])
        print(
            f"{'P7   key → character in the editor DOM':<52} {'':>5} {dmed:>6.1f}ms {dp95:>6.1f}ms"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
