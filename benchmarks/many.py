"""Many answers, measured side by side in one run and printed as a table (asserts nothing).

    .venv/bin/python benchmarks/many.py            # P4, P6, P4b: about 1.5 minutes
    .venv/bin/python benchmarks/many.py --quick    # P4 with 32 prompts, fewer P6 cells
    .venv/bin/python benchmarks/many.py --repeat 5 # P4's cell and its SDK floor, 5 times

P4   64 prompts, each answer 0.5 s late (emulated latency): ``%%qwen --each --concurrency 16``
     vs the same cell with ``--concurrency 1``; the ideal is 64/16 × 0.5 s. Beside it, the
     floor this machine sets: the same prompts through one openai client from 16 threads.
P6   100 short cells one after another: ``%%qwen`` (live view) vs one persistent openai client
     streaming from the same endpoint; the per-cell ratio at 0.1 s latency (faster than the
     service ever answers), and at 0 s the cell's own cost in milliseconds.
P4b  1,000 prompts at concurrency 64: this process's CPU time per prompt, and the widget
     messages per second the progress view sends.

The emulator runs in a child process, so its CPU time is not charged to the kernel measured.
See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from typing import Any

API_KEY = "sk-bench-not-a-real-key"


def serve(latency: float) -> None:
    """Child mode: the emulator with every answer ``latency`` seconds late."""
    from qwen_magic.emulator import Emulator, Reply
    from qwen_magic.emulator.limits import Limits

    emu = Emulator().start()
    emu.default_reply = Reply(text="A short answer of a few words.", reasoning="")
    emu.limits = Limits(latency=latency)
    print(emu.url, flush=True)
    sys.stdin.read()  # until the parent closes it
    emu.stop()


class Child:
    """The emulator in a child process; quacks like ``Emulator`` for ``use_emulator``."""

    def __init__(self, latency: float) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(latency)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()
        self.compat_base = self.url + "/compatible-mode/v1"
        self.native_base = self.url + "/api/v1"
        self.responses_legacy_base = self.url + "/api/v2/apps/protocols/compatible-mode/v1"
        self.running = True

    def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(10)
        self.running = False


def shell(child: Child) -> tuple[Any, Any]:
    from IPython.core.interactiveshell import InteractiveShell

    from qwen_magic.ipython import magics_of

    ip = InteractiveShell.instance()
    os.environ["DASHSCOPE_API_KEY"] = API_KEY
    if magics_of(ip) is None:
        ip.run_line_magic("load_ext", "qwen_magic")
    magics = magics_of(ip)
    magics.use_emulator(child)
    return ip, magics


class Comms:
    """Counts what widgets would send to a browser (as tests/conftest.py's CommRecorder)."""

    def __init__(self) -> None:
        import comm

        self.counts: dict[str, int] = {}
        self._orig = comm.DummyComm.publish_msg
        comm.DummyComm.publish_msg = self.record  # type: ignore[method-assign]

    def record(self, msg_type: str, *args: Any, **kwargs: Any) -> None:
        self.counts[msg_type] = self.counts.get(msg_type, 0) + 1

    def close(self) -> None:
        import comm

        comm.DummyComm.publish_msg = self._orig  # type: ignore[method-assign]


def each(ip: Any, n: int, concurrency: int) -> tuple[float, float, Any]:
    from IPython.utils.capture import capture_output

    ip.user_ns["qs"] = [f"question {k}" for k in range(n)]
    wall, cpu = time.perf_counter(), time.process_time()
    with capture_output():
        line = f"--each qs --concurrency {concurrency} --no-think -o r"
        ip.run_cell_magic("qwen", line, "{item}")
    return time.perf_counter() - wall, time.process_time() - cpu, ip.user_ns["r"]


def sdk_pool(child: Child, n: int, concurrency: int) -> float:
    """The floor: the same prompts through one openai client from a pool of ``concurrency``
    threads, each stream read to its end (no qwen_magic at all); the wall time."""
    import openai

    client = openai.OpenAI(base_url=child.compat_base, api_key=API_KEY, max_retries=0)

    def one(k: int) -> None:
        stream = client.chat.completions.create(  # type: ignore[call-overload]
            model="qwen3.5-plus", messages=[{"role": "user", "content": f"question {k}"}],
            stream=True, stream_options={"include_usage": True},
            extra_body={"enable_thinking": False},
        )  # fmt: skip
        for _chunk in stream:
            pass

    return pooled(one, n, concurrency)


def pooled(one: Any, n: int, concurrency: int) -> float:
    """``one(k)`` for k < n from a pool of ``concurrency`` threads, after a warm-up round
    (connections); the wall time."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(concurrency)))
    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(n)))
    return time.perf_counter() - start


def httpx_pool(child: Child, n: int, concurrency: int) -> float:
    """The rig's own floor: the same requests with plain httpx from ``concurrency`` threads,
    each stream's bytes read to the end and not parsed (what the emulator and the network
    cost); the wall time."""
    import httpx

    url = child.compat_base + "/chat/completions"
    headers = {"Authorization": f"Bearer {API_KEY}"}
    with httpx.Client() as client:

        def one(k: int) -> None:
            body = {"model": "qwen3.5-plus", "stream": True, "enable_thinking": False,
                    "messages": [{"role": "user", "content": f"question {k}"}],
                    "stream_options": {"include_usage": True}}  # fmt: skip
            with client.stream("POST", url, json=body, headers=headers) as response:
                for _piece in response.iter_raw():
                    pass

        return pooled(one, n, concurrency)


def p4(n: int, latency: float, concurrency: int) -> list[tuple[str, str, str, str, str]]:
    child = Child(latency)
    try:
        ip, _ = shell(child)
        each(ip, 4, 4)  # warm-up: SDK import, client, widgets
        fast, _, r_fast = each(ip, n, concurrency)
        floor = sdk_pool(child, n, concurrency)
        rig = httpx_pool(child, n, concurrency)
        slow, _, r_slow = each(ip, n, 1)
    finally:
        child.stop()
    assert r_fast.ok and r_slow.ok, (r_fast.errors, r_slow.errors)
    ideal = n / concurrency * latency
    speedup, overhead = slow / fast, fast / ideal
    return [
        (f"P4 {n} prompts, {latency} s latency: sequential / c={concurrency}",
         f"{slow:.2f} s / {fast:.2f} s", f"{speedup:.1f}x", ">= 13x" if n == 64 else "info",
         _verdict(speedup >= 13) if n == 64 else "info"),
        (f"P4 c={concurrency} / ideal {n}/{concurrency} x {latency} s",
         f"{fast:.2f} s / {ideal:.2f} s", f"{overhead:.2f}x", "<= 1.15x",
         _verdict(overhead <= 1.15)),
        (f"P4 floor: one openai client, {concurrency} threads, no qwen_magic / ideal",
         f"{floor:.2f} s / {ideal:.2f} s", f"{floor / ideal:.2f}x", "info", "info"),
        (f"P4 c={concurrency} / that floor", f"{fast:.2f} s / {floor:.2f} s",
         f"{fast / floor:.2f}x", "info", "info"),
        ("P4 the emulator's floor: plain httpx, bytes not parsed / ideal",
         f"{rig:.2f} s / {ideal:.2f} s", f"{rig / ideal:.2f}x", "info", "info"),
    ]  # fmt: skip


def p6(cells: int, latency: float) -> list[tuple[str, str, str, str, str]]:
    import openai
    from IPython.utils.capture import capture_output

    child = Child(latency)
    try:
        ip, _ = shell(child)
        client = openai.OpenAI(base_url=child.compat_base, api_key=API_KEY, max_retries=0)
        messages = [{"role": "user", "content": "hi"}]

        def sdk() -> None:
            stream = client.chat.completions.create(
                model="qwen3.5-plus", messages=messages, stream=True,  # type: ignore[arg-type]
                stream_options={"include_usage": True}, extra_body={"enable_thinking": False},
            )  # fmt: skip
            for _chunk in stream:
                pass

        def magic() -> None:
            with capture_output():
                ip.run_cell_magic("qwen", "--no-think", "hi")

        sdk(), magic()  # warm-up
        times = {"sdk": 0.0, "magic": 0.0}
        for _ in range(cells):  # interleaved, so load changes hit both alike
            for name, call in (("sdk", sdk), ("magic", magic)):
                start = time.perf_counter()
                call()
                times[name] += time.perf_counter() - start
    finally:
        child.stop()
    a, b = times["magic"] / cells, times["sdk"] / cells
    if not latency:  # the emulator answers at once: the cell's fixed cost, in milliseconds
        return [
            (f"P6 {cells} cells, 0 s latency: %%qwen / one SDK client, per cell",
             f"{a * 1000:.1f} ms / {b * 1000:.1f} ms", f"{a / b:.2f}x", "info", "info"),
            ("P6 the cell's own cost (no latency)", f"{(a - b) * 1000:.1f} ms", "", "info",
             "info"),
        ]  # fmt: skip
    return [
        (f"P6 {cells} cells, {latency} s latency: %%qwen / one SDK client, per cell",
         f"{a * 1000:.1f} ms / {b * 1000:.1f} ms", f"{a / b:.2f}x", "<= 1.2x",
         _verdict(a / b <= 1.2)),
    ]  # fmt: skip


def p4b(n: int, latency: float, concurrency: int) -> list[tuple[str, str, str, str, str]]:
    child = Child(latency)
    comms = None
    try:
        ip, _ = shell(child)
        each(ip, 8, 8)  # warm-up
        comms = Comms()
        wall, cpu, r = each(ip, n, concurrency)
    finally:
        if comms is not None:
            comms.close()
        child.stop()
    assert r.ok, r.errors
    msgs = comms.counts.get("comm_msg", 0)
    opened = comms.counts.get("comm_open", 0)
    return [
        (f"P4b {n} prompts, c={concurrency}, {latency} s latency: wall",
         f"{wall:.2f} s", f"ideal {n / concurrency * latency:.2f} s", "info", "info"),
        ("P4b kernel CPU per prompt", f"{cpu:.2f} s CPU", f"{cpu / n * 1000:.2f} ms", "info",
         "info"),
        ("P4b widget comm_msg per s", f"{msgs} msgs ({opened} opened)", f"{msgs / wall:.1f}/s",
         "<= 20/s", _verdict(msgs / wall <= 20)),
    ]  # fmt: skip


def repeat(times: int, n: int, latency: float, concurrency: int) -> None:
    """P4's concurrent cell and the bare SDK pool side by side, ``times`` times (the spread)."""
    child = Child(latency)
    try:
        ip, _ = shell(child)
        each(ip, 4, 4)
        ideal = n / concurrency * latency
        print("run  %%qwen --each / ideal  bare SDK / ideal  %%qwen / SDK")
        for k in range(times):
            fast, _, _r = each(ip, n, concurrency)
            floor = sdk_pool(child, n, concurrency)
            print(f"{k + 1:<4} {fast / ideal:<19.2f} {floor / ideal:<16.2f} {fast / floor:.2f}")
    finally:
        child.stop()


def _verdict(ok: bool) -> str:
    return "pass" if ok else "FAIL"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve", type=float)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeat", type=int, help="only P4's cell and floor, this many times")
    args = parser.parse_args()
    if args.serve is not None:
        serve(args.serve)
        return
    if args.repeat:
        repeat(args.repeat, 64, 0.5, 16)
        return
    import platform

    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"python {platform.python_version()} · {os.cpu_count()} cpu · load {load}")
    rows = []
    rows += p4(32 if args.quick else 64, 0.5, 16)
    rows += p6(30 if args.quick else 100, 0.0)
    rows += p6(30 if args.quick else 100, 0.1)
    rows += p4b(300 if args.quick else 1000, 0.2, 64)
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    head = ("figure", "measured", "ratio/value", "goal", "result")
    widths = [max(w, len(h)) for w, h in zip(widths, head, strict=True)]
    print("  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
