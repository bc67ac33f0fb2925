"""The history's cost per call: what appending one call to the local log adds to a cell.

(1) The insert alone (``log_call``: masking, the row, one short WAL transaction with the
full-text index), for answers of 100, 1,000 and 5,000 words of English prose, median of N.
(2) ``%%qwen -q`` against the offline emulator (in this process) with the history on and off,
interleaved on / off / on / off …, medians and their ratio. Goal: the insert is a few ms and
the ratio ≤ 1.05. Prints a table; always exits 0 (a shared, noisy machine: run it again
before believing a close call). The log goes to a temporary directory.

    .venv/bin/python benchmarks/history_overhead.py [--rounds 20]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time

WORDS = [
    *(
        [
            "the",
            "light",
            "of",
            "plants",
            "water",
            "sugar",
            "leaf",
            "energy",
            "green",
            "chlorophyll",
            "carbon",
            "oxygen",
            "cell",
        ]
    ),
    *(
        [
            "makes",
            "from",
            "into",
            "and",
            "with",
            "which",
            "sun",
            "air",
            "root",
            "grows",
            "food",
            "a",
            "an",
            "is",
            "are",
            "in",
            "on",
            "of",
            "to",
        ]
    ),
]


def prose(words: int, rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20)
    rounds = parser.parse_args().rounds
    os.environ["QWEN_MAGIC_DATA_DIR"] = tempfile.mkdtemp(prefix="qwen-history-bench-")

    from IPython.core.interactiveshell import InteractiveShell

    from qwen_magic.emulator import Emulator, Reply
    from qwen_magic.events import Usage
    from qwen_magic.ipython import magics_of
    from qwen_magic.ipython.logbook import log_call
    from qwen_magic.result import Result

    rng = random.Random(7)
    shell = InteractiveShell.instance()
    shell.history_manager.enabled = False
    shell.run_line_magic("load_ext", "qwen_magic")
    magics = magics_of(shell)
    emulator = Emulator().start()
    magics.use_emulator(emulator)

    print(f"load average {os.getloadavg()[0]:.2f} · {os.cpu_count()} CPUs · {rounds} rounds")
    print(f"{'figure':<44} {'median':>10}")
    for words in (100, 1000, 5000):
        times = []
        for i in range(rounds):
            result = Result(
                text=prose(words, rng),
                model="qwen-plus",
                api="chat",
                usage=Usage(20, words),
                messages=[{"role": "user", "content": f"question {i}: {prose(20, rng)}"}],
            )
            t0 = time.perf_counter()
            log_call(magics, result)
            times.append(time.perf_counter() - t0)
        print(
            f"{f'insert, answer of {words:,} words':<44} {statistics.median(times) * 1000:>7.2f} ms"
        )

    answer = prose(300, rng)
    cell: dict[bool, list[float]] = {True: [], False: []}
    for i in range(rounds * 2 + 2):
        on = i % 2 == 0
        magics.history = on
        emulator.queue(Reply(text=answer, chunks=60))
        t0 = time.perf_counter()
        shell.run_cell_magic("qwen", "-q", f"Explain photosynthesis ({i})")
        if i >= 2:  # one warm-up of each
            cell[on].append(time.perf_counter() - t0)
    on, off = statistics.median(cell[True]), statistics.median(cell[False])
    print(f"{'%%qwen -q, 300 words, history on':<44} {on * 1000:>7.1f} ms")
    print(f"{'%%qwen -q, 300 words, history off':<44} {off * 1000:>7.1f} ms")
    ratio = on / off
    verdict = "ok" if ratio <= 1.05 else "look at this"
    print(f"{'on / off (goal <= 1.05)':<44} {ratio:>9.3f}x  {verdict}")
    emulator.stop()


if __name__ == "__main__":
    main()
