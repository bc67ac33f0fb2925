"""P5: the first %%qwen after %load_ext vs the second, with and without the background warm-up.

For each mode a fresh ipykernel (driven like a browser: the client takes input, so the live
view is used) runs `%load_ext qwen_magic` and `%qwencmd emulator start`, waits as a user would
while typing a question (`--pause`, 5 s), then asks twice. The figure is the first answer's
time to first token over the second's, both as the footer shows them (`Result.ttft`, counted
from when the cell ran, the SDK import included). Goal: ≤ 1.5×. Also shown: how long
`%load_ext` took as seen by the client, and the cell's whole wall time. Prints a table;
always exits 0 (a shared, noisy machine: run it again before believing a close call).

    .venv/bin/python benchmarks/first_call.py [--pause 5] [--rounds 1] [--api chat]
"""

from __future__ import annotations

import argparse
import statistics
import time

from qwen_magic.testing.kernel import Kernel

GOAL = 1.5
ASK = "%%qwen\nIn one sentence: why is the sky blue?"  # the configured api (--api)
REPORT = "print(_qwen.ttft, _qwen.elapsed, _qwen.error)"
STILL_WARMING = (
    "import threading\nprint(any(t.name == 'qwen-warm-up' for t in threading.enumerate()))"
)


def timed(kernel: Kernel, code: str) -> tuple[float, str]:
    t0 = time.perf_counter()
    reply, out = kernel.run(code)
    assert reply["content"]["status"] == "ok", reply["content"]
    return time.perf_counter() - t0, out


def ask(kernel: Kernel) -> tuple[float, float, float]:
    """(ttft, elapsed) as the Result says, and the cell's wall time at the client."""
    wall, _ = timed(kernel, ASK)
    _, out = timed(kernel, REPORT)
    ttft, elapsed, error = out.split()
    assert error == "None", out
    return float(ttft), float(elapsed), wall


def one_round(warm: bool, pause: float, api: str) -> dict[str, float]:
    kernel = Kernel()
    try:
        config = "get_ipython().config.QwenMagics"
        timed(kernel, f"{config}.warm_up = {warm}\n{config}.api = {api!r}")
        load, _ = timed(kernel, "%load_ext qwen_magic\n%qwencmd emulator start")
        time.sleep(pause)  # the user types a question
        _, busy = timed(kernel, STILL_WARMING)
        first = ask(kernel)
        second = ask(kernel)
    finally:
        kernel.shutdown()
    return {
        "load": load,
        "still_warming": float(busy.strip() == "True"),
        "ttft1": first[0],
        "ttft2": second[0],
        "elapsed1": first[1],
        "elapsed2": second[1],
        "wall1": first[2],
        "wall2": second[2],
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pause", type=float, default=5.0, help="seconds after %%load_ext")
    parser.add_argument("--rounds", type=int, default=1, help="fresh kernels per mode")
    parser.add_argument("--api", default="chat", choices=("chat", "responses", "dashscope"))
    args = parser.parse_args()
    rows = {}
    for _ in range(args.rounds):  # interleaved: warm, cold, warm, cold ...
        for warm in (True, False):
            rows.setdefault(warm, []).append(one_round(warm, args.pause, args.api))

    def med(warm: bool, key: str) -> float:
        return statistics.median(r[key] for r in rows[warm])

    print(f"api {args.api} · pause {args.pause:g} s after %load_ext · {args.rounds} round(s)")
    head = f"{'figure':<44} {'first':>8} {'second':>8} {'ratio':>7} {'goal':>6} result"
    print(head)
    for warm, label in ((True, "warm-up on (default)"), (False, "warm-up off")):
        ratio = med(warm, "ttft1") / med(warm, "ttft2")
        verdict = "pass" if ratio <= GOAL else "FAIL"
        goal = f"{GOAL:.1f}x" if warm else "info"
        verdict = verdict if warm else "info"
        print(
            f"{'P5 first token, ' + label:<44} {med(warm, 'ttft1'):>7.3f}s "
            f"{med(warm, 'ttft2'):>7.3f}s {ratio:>6.2f}x {goal:>6} {verdict}"
        )
        print(
            f"{'P5   cell wall time at the client':<44} {med(warm, 'wall1'):>7.3f}s "
            f"{med(warm, 'wall2'):>7.3f}s {med(warm, 'wall1') / med(warm, 'wall2'):>6.2f}x"
        )
        warming = sum(r["still_warming"] for r in rows[warm])
        print(
            f"{'P5   %load_ext (+ emulator start), client':<44} {med(warm, 'load'):>7.3f}s"
            f"   warm-up still running at the first call: {warming:g}/{len(rows[warm])}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
