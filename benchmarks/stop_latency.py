"""P4: how fast Stop and the kernel interrupt end a streaming %%qwen cell (goal ≤ 0.5 s).

Runs a real ipykernel with the extension and the offline emulator, streams a slow answer,
then clicks Stop (the comm message a browser sends) or interrupts the kernel, and times
until the cell's execute_reply. Prints a table; always exits 0.

    .venv/bin/python benchmarks/stop_latency.py [--runs N]
"""

from __future__ import annotations

import argparse
import queue
import statistics
import threading
import time
from typing import Any

from jupyter_client import KernelManager

GOAL = 0.5
SLOW = (
    "from qwen_magic import _loaded\nfrom qwen_magic.testing import Reply\n"
    "_m = _loaded[id(get_ipython())]\n"
    "_m.emulator.queue(Reply(text='word ' * 400, reasoning='', chunks=400, delay=0.02))\n"
)


class Kernel:
    def __init__(self) -> None:
        self.km = KernelManager(kernel_name="python3")
        self.km.start_kernel()
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)
        self.iopub: list[dict[str, Any]] = []
        self._stop = False
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while not self._stop:
            try:
                self.iopub.append(self.kc.get_iopub_msg(timeout=0.1))
            except queue.Empty:
                continue
            except Exception:
                return

    def reply(self, msg_id: str) -> dict[str, Any]:
        while True:
            msg = self.kc.get_shell_msg(timeout=60)
            if msg["parent_header"].get("msg_id") == msg_id:
                return msg

    def run(self, code: str) -> None:
        self.reply(self.kc.execute(code))

    def wait_for(self, msg_id: str, predicate: Any) -> dict[str, Any]:
        while True:
            for msg in list(self.iopub):
                if msg["parent_header"].get("msg_id") == msg_id and predicate(msg):
                    return msg
            time.sleep(0.005)

    def close(self) -> None:
        self._stop = True
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


def streaming_text(msg: dict[str, Any]) -> bool:
    state = msg["content"].get("data", {}).get("state", {})
    return msg["msg_type"] == "comm_msg" and "word" in str(state.get("outputs", ""))


def one(kernel: Kernel, how: str) -> float:
    kernel.run(SLOW)
    msg_id = kernel.kc.execute("%%qwen\nWrite a lot.")
    button = kernel.wait_for(
        msg_id,
        lambda m: (
            m["msg_type"] == "comm_open"
            and m["content"]["data"]["state"].get("_model_name") == "ButtonModel"
        ),
    )
    kernel.wait_for(msg_id, streaming_text)
    t0 = time.perf_counter()
    if how == "stop":
        click = {"method": "custom", "content": {"event": "click"}}
        msg = kernel.kc.session.msg(
            "comm_msg", {"comm_id": button["content"]["comm_id"], "data": click}
        )
        kernel.kc.shell_channel.send(msg)
    else:
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
        kernel.close()
    print(f"{'figure':<34} {'median':>8} {'worst':>8} {'goal':>8} result")
    for label, median, worst in rows:
        verdict = "pass" if worst <= GOAL else "FAIL"
        print(f"{label:<34} {median:>7.3f}s {worst:>7.3f}s {GOAL:>7.1f}s {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
