"""P4: how fast Stop and the kernel interrupt end a %%qwen cell (goal ≤ 0.5 s), and Stop
before the first token next to Stop mid-answer (goal: about as fast).

Runs a real ipykernel with the extension and the offline emulator, then clicks Stop (the comm
message a browser sends) or interrupts the kernel, and times until the cell's execute_reply:

- mid-answer: a slow answer is streaming;
- before the first token, waiting for the service: the SDK is loaded, the request was sent and
  the emulator holds its reply back (``fault="stall"``);
- before the first token, SDK loading: a fresh kernel's first call, clicked as soon as the
  Stop button shows (the SDK import, about 1–2 s, cannot be cut short).

Prints a table with each before-the-first-token case as a ratio to mid-answer; always exits 0.

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
    stop_button_comm,
    wait_for_answer_text,
)

GOAL = 0.5
SETUP = "%load_ext qwen_magic\n%qwencmd emulator start"
STALLED_REPLY = (
    "from qwen_magic.ipython import magics_of\n"
    "from qwen_magic.testing import Reply\n"
    "_m = magics_of(get_ipython())\n"
    "_m.emulator.clear()\n"
    "_m.emulator.queue(Reply(text='never', fault='stall', delay=30))\n"
)


def click(kernel: Kernel, msg_id: str) -> float:
    """Click Stop now; seconds until the cell's reply."""
    comm_id = stop_button_comm(kernel, msg_id)
    msg = kernel.kc.session.msg(
        "comm_msg",
        {"comm_id": comm_id, "data": {"method": "custom", "content": {"event": "click"}}},
    )
    t0 = time.perf_counter()
    kernel.kc.shell_channel.send(msg)
    kernel.reply(msg_id)
    elapsed = time.perf_counter() - t0
    kernel.wait_idle(msg_id)
    return elapsed


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
    elapsed = time.perf_counter() - t0
    kernel.wait_idle(msg_id)
    return elapsed


def stalled(kernel: Kernel) -> float:
    """Stop while the request waits for the service's first byte (the SDK already loaded)."""
    kernel.run(STALLED_REPLY)
    msg_id = kernel.send("%%qwen\nWrite a lot.")
    stop_button_comm(kernel, msg_id)
    time.sleep(0.3)  # the request is out, its reply held back
    return click(kernel, msg_id)


def loading() -> float:
    """Stop a fresh kernel's first call as soon as its Stop button shows (the SDK loads)."""
    kernel = Kernel()
    try:
        kernel.run(SETUP)
        kernel.run(STALLED_REPLY)
        return click(kernel, kernel.send("%%qwen\nWrite a lot."))
    finally:
        kernel.shutdown()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    kernel = Kernel()
    times: dict[str, list[float]] = {}
    try:
        kernel.run(SETUP)
        kernel.run("%%qwen\nwarm up")  # the SDK is loaded from here on
        for _ in range(args.runs):  # interleaved, so both see the same machine
            times.setdefault("stop", []).append(one(kernel, "stop"))
            times.setdefault("stalled", []).append(stalled(kernel))
        times["interrupt"] = [one(kernel, "interrupt") for _ in range(args.runs)]
    finally:
        kernel.shutdown()
    times["loading"] = [loading() for _ in range(args.runs)]
    labels = {
        "stop": "P4 Stop mid-answer → cell ends",
        "interrupt": "P4 kernel interrupt → cell ends",
        "stalled": "P4 Stop before 1st token (waiting)",
        "loading": "P4 Stop before 1st token (SDK loads)",
    }
    mid = statistics.median(times["stop"])
    print(f"{'figure':<38} {'median':>8} {'worst':>8} {'goal':>6} {'/ mid':>7} result")
    for key in ("stop", "interrupt", "stalled", "loading"):
        median, worst = statistics.median(times[key]), max(times[key])
        verdict = "pass" if worst <= GOAL else "FAIL"
        ratio = f"{median / mid:6.1f}x" if key in ("stalled", "loading") else ""
        figures = f"{median:>7.3f}s {worst:>7.3f}s {GOAL:>5.1f}s {ratio:>7}"
        print(f"{labels[key]:<38} {figures} {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
