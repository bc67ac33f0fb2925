"""P4: how fast Stop and the kernel interrupt end a streaming %%qwen cell (goal ≤ 0.5 s).

Runs a real ipykernel with the extension and the offline emulator, streams a slow answer,
then clicks Stop (the comm message a browser sends) or interrupts the kernel, and times
until the cell's execute_reply. Prints a table; always exits 0.

    .venv/bin/python benchmarks/stop_latency.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import time

from qwen_magic.testing.kernel import (
    SLOW_REPLY,
    Kernel,
    click_stop_mid_answer,
    wait_for_answer_text,
)

GOAL = 0.5


def one(kernel: Kernel, how: str) -> float:
    kernel.run(SLOW_REPLY)
    msg_id = kernel.send("%%qwen\nWrite a lot.")
    if how == "stop":
        click_stop_mid_answer(kernel, msg_id)  # the clock starts as the click is sent
        t0 = time.perf_counter()
    else:
        wait_for_answer_text(kernel, msg_id)
        t0 = time.perf_counter()
        kernel.km.interrupt_kernel()
    kernel.reply(msg_id)
    return time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    kernel = Kernel()
    try:
        kernel.run("%load_ext qwen_magic\n%qwencmd emulator start")
        rows = []
        for how, label in (("stop", "Stop button click"), ("interrupt", "kernel interrupt")):
            times = [one(kernel, how) for _ in range(args.runs)]
            median, worst = statistics.median(times), max(times)
            rows.append((f"P4 {label} → cell ends", median, worst))
    finally:
        kernel.shutdown()
    print(f"{'figure':<34} {'median':>8} {'worst':>8} {'goal':>8} result")
    for label, median, worst in rows:
        verdict = "pass" if worst <= GOAL else "FAIL"
        print(f"{label:<34} {median:>7.3f}s {worst:>7.3f}s {GOAL:>7.1f}s {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
