"""Rebuild the lessons' recordings and store each lesson's outputs by running it offline.

    .venv/bin/python scripts/build_lessons.py                  # every lesson with a recording
    .venv/bin/python scripts/build_lessons.py chats quickstart # just these
    .venv/bin/python scripts/build_lessons.py --recordings-only chats
    .venv/bin/python scripts/build_lessons.py --capture /tmp/cap.jsonl images-and-video

For each lesson: ``notebooks/recordings/<lesson>.yaml`` (the hand-written answers) becomes
``notebooks/recordings/<lesson>.jsonl`` with scripts/make_recording.py, then the notebook runs
in its own directory (as nbval and ``./run demo`` run it) without ``DASHSCOPE_API_KEY``, so it
replays the recording, and is saved with its outputs. A request the recording does not cover
is answered with the emulator's marked echo: the script lists those cells, so the answers can
be written before the notebook is committed. ``--capture PATH`` runs a lesson without saving it,
recording every call into PATH (``%qwencmd record start``): the requests exactly as the
emulator will match them (media hashes, tool results), to copy into the answers file.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
RECORDINGS = NOTEBOOKS / "recordings"
MARKER = "[no recording for this request]"


def build_recording(lesson: str) -> Path | None:
    """``recordings/<lesson>.yaml`` → ``.jsonl`` (None when the lesson has no answers file).

    The items are scripts/make_recording.py's; an item may also have ``after``: messages that
    follow the prompt (a tool loop's later rounds: the assistant's calls and the results)."""
    source = RECORDINGS / f"{lesson}.yaml"
    if not source.exists():
        return None
    sys.path.insert(0, str(ROOT / "scripts"))
    import make_recording

    from qwen_magic.emulator import replay

    entries = []
    for item in make_recording.read_items(source):
        entry = make_recording.entry_of(item, 0.6, 60.0)
        if item.get("after"):
            entry["request"]["messages"] += replay.normalize_messages(item["after"])
        entries.append(entry)
    target = source.with_suffix(".jsonl")
    target.unlink(missing_ok=True)
    replay.append_entries(target, entries)
    replay.read_entries(target)  # as the emulator will read it
    print(f"{target.relative_to(ROOT)}: {len(entries)} answer(s)")
    return target


def execute(lesson: str, capture: Path | None = None) -> list[str]:
    """Run the lesson offline and save it with its outputs; the cells answered by the echo.

    With ``capture``, record the calls there instead and save nothing."""
    path = NOTEBOOKS / f"{lesson}.ipynb"
    nb = nbformat.read(path, as_version=4)
    if capture is not None:
        chooser = next(n for n, c in enumerate(nb.cells) if "emulator start" in c.source)
        record = nbformat.v4.new_code_cell(f"%qwencmd record start {capture.resolve()}")
        nb.cells.insert(chooser + 1, record)
    key = os.environ.pop("DASHSCOPE_API_KEY", None)  # record the offline outputs
    try:
        NotebookClient(
            nb,
            timeout=300,
            kernel_name="python3",
            store_widget_state=False,
            resources={"metadata": {"path": str(NOTEBOOKS)}},
        ).execute()
    finally:
        if key is not None:
            os.environ["DASHSCOPE_API_KEY"] = key
    unanswered = []
    for number, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        cell.metadata.pop("execution", None)
        shown = [o for o in cell.get("outputs", []) if o.get("output_type") != "stream"]
        if MARKER in str(shown):
            unanswered.append(f"cell {number}: {cell.source.splitlines()[0][:70]}")
    if capture is None:
        nbformat.write(nb, path)
    return unanswered


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("lessons", nargs="*", help="lesson names (default: all with answers)")
    parser.add_argument("--recordings-only", action="store_true", help="don't run notebooks")
    parser.add_argument("--capture", type=Path, help="record the calls there; save nothing")
    args = parser.parse_args(argv)
    lessons = args.lessons or sorted(p.stem for p in RECORDINGS.glob("*.yaml"))
    missing = 0
    for lesson in lessons:
        build_recording(lesson)
        if args.recordings_only:
            continue
        unanswered = execute(lesson, args.capture)
        print(
            f"{lesson}.ipynb: "
            + (f"calls recorded in {args.capture}" if args.capture else "executed and saved")
        )
        for line in unanswered:
            print(f"  no recorded answer for {line}")
        missing += len(unanswered)
    return 1 if missing else 0


if __name__ == "__main__":
    raise SystemExit(main())
