"""Bytes sent to the browser per byte of answer, for five answer shapes, through ``%%qwen``.

    .venv/bin/python benchmarks/bytes_per_byte.py           # all five shapes, firehose + paced
    .venv/bin/python benchmarks/bytes_per_byte.py --quick   # firehose only

Each shape is streamed by the offline emulator through ``%%qwen`` in an in-process shell with
the live widget view. Every message the widgets would send to a browser is recorded (as
``tests/conftest.py``'s ``CommRecorder`` does, by replacing ``comm.DummyComm.publish_msg``),
and so is every display message (the live view's display, the static output that replaces
it). The figure is the JSON size of all of them divided by the answer's size in bytes.
Goal: at most 10 for every shape (issue 11, item 10). It asserts nothing and exits 0.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

GOAL = 10.0
VOCAB = ("the", "model", "streams", "a", "short", "answer", "in", "small", "chunks", "here")


def words(n: int, start: int = 0) -> list[str]:
    return [VOCAB[(start + i) % len(VOCAB)] for i in range(n)]


def sentences(n: int, every: int = 15) -> str:
    """``n`` words in sentences of ``every`` words, one paragraph."""
    out = []
    for i, word in enumerate(words(n)):
        first = i % every == 0
        last = i % every == every - 1 or i == n - 1
        out.append((word.capitalize() if first else word) + ("." if last else ""))
    return " ".join(out)


def paragraphs(n: int = 20_000, size: int = 60) -> str:
    return "\n\n".join(sentences(size) for _ in range(n // size))


def table(rows: int = 300) -> str:
    head = "| # | name | value | note |\n|---|------|------:|------|\n"
    body = "".join(
        f"| {i} | item {i} | {i * 3.25:.2f} | {' '.join(words(6, i))} |\n" for i in range(rows)
    )
    return "Here is the table:\n\n" + head + body + "\nThat is all."


def bullet_list(items: int = 200) -> str:
    body = "".join(f"- Item {i}: {' '.join(words(12, i))}.\n" for i in range(items))
    return "The items:\n\n" + body + "\nDone."


def code_block(lines: int = 500) -> str:
    body = "".join(
        f"    total_{i} = compute({i}, factor={i % 7})  # step {i}\n" for i in range(lines)
    )
    return "The code:\n\n```python\ndef main():\n" + body + "```\n\nRun it."


SHAPES = {
    "paragraphs (20,000 words, 60 a paragraph)": paragraphs,
    "one paragraph of 20,000 words": lambda: sentences(20_000),
    "a 300-row table": table,
    "a 200-item list": bullet_list,
    "a 500-line code block": code_block,
}


def chunk_count(text: str) -> int:
    return max(1, len(text.split()))  # about one frame per word, like a real model's tokens


class Recorder:
    def __init__(self) -> None:
        self.active = False
        self.bytes = 0
        self.messages = 0

    def install(self) -> None:
        import comm

        recorder = self

        def publish_msg(self: Any, msg_type: str, data: Any = None, *args: Any, **kw: Any) -> None:
            if recorder.active:
                recorder.bytes += len(json.dumps(data or {}, default=str))
                recorder.messages += 1

        comm.DummyComm.publish_msg = publish_msg  # type: ignore[method-assign]


def measure(ip: Any, emulator: Any, recorder: Recorder, text: str, delay: float) -> float:
    from IPython.utils.capture import capture_output

    from qwen_magic.testing import Reply

    emulator.queue(Reply(text=text, reasoning="", chunks=chunk_count(text), delay=delay))
    recorder.bytes = recorder.messages = 0
    with capture_output():
        recorder.active = True
        ip.run_cell_magic("qwen", "", "Write a long answer.")
        recorder.active = False
        outputs = list(ip.display_pub.outputs)
    result = ip.user_ns["_qwen"]
    if result.text != text or result.error is not None:
        print(f"warning: the answer came back different ({result.error})", file=sys.stderr)
    shown = sum(
        len(json.dumps({k: o.get(k) for k in ("data", "metadata", "transient")}, default=str))
        for o in outputs
    )
    return (recorder.bytes + shown) / len(text.encode())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="firehose only")
    args = parser.parse_args()

    from qwen_magic.ipython import magics_of
    from qwen_magic.testing import Emulator
    from qwen_magic.testing.shell import TestingShell

    recorder = Recorder()
    recorder.install()
    emulator = Emulator()
    emulator.start()
    ip = TestingShell.instance()
    ip.history_manager.enabled = False
    ip.run_line_magic("load_ext", "qwen_magic")
    magics = magics_of(ip)
    magics.use_emulator(emulator)
    paces = [("firehose", 0.0)] if args.quick else [("firehose", 0.0), ("paced 1 ms", 0.001)]
    interval = magics.update_interval
    print(f"%%qwen live view, update_interval {interval} s; one emulator frame per word")
    header = f"{'answer shape':44} {'bytes':>9} " + " ".join(f"{p:>12}" for p, _ in paces)
    print(header + f" {'goal':>6}")
    print("-" * len(header + "       "))
    try:
        for name, make in SHAPES.items():
            text = make()
            ratios = []
            for _pace, delay in paces:
                start = time.perf_counter()
                ratios.append(measure(ip, emulator, recorder, text, delay))
                del start
            cells = " ".join(f"{r:12.1f}" for r in ratios)
            verdict = "pass" if max(ratios) <= GOAL else "FAIL"
            print(f"{name:44} {len(text.encode()):9,} {cells} {f'<= {GOAL:.0f}':>6} {verdict}")
    finally:
        magics.use_emulator(None)
        ip.run_line_magic("unload_ext", "qwen_magic")
        emulator.stop()


if __name__ == "__main__":
    main()
