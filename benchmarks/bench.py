"""Speed figures for qwen_magic, measured side by side in one run and printed as a table.

    .venv/bin/python benchmarks/bench.py            # full run, about a minute
    .venv/bin/python benchmarks/bench.py --quick    # fewer repetitions, under ~30 s

P1  what ``%load_ext qwen_magic`` costs a fresh IPython process, next to ``import openai``.
P2  one emulator stream of 20,000 chunks read by ``%%qwen`` with its live view, by the bare
    openai SDK loop, and by the seeds' print-every-chunk loop (interleaved, medians).
P3  what the live view sends to the frontend: widget messages per second and bytes per byte
    of answer, for the P2 stream and for a paced stream.

Goals are printed, never asserted (see shared/design/testing.md, "Benchmarks are not tests"):
the script always exits 0. See benchmarks/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MODEL = "qwen3.5-plus"
PROMPT = "Write a long answer, please."
MESSAGES = [{"role": "user", "content": PROMPT}]
API_KEY = "sk-bench-not-a-real-key"

WORDS = 20_000
CHUNKS = 20_000
PARAGRAPH = 60  # words per paragraph (a blank line between), like a real Markdown answer
PACED_CHUNKS = 2_000
PACED_DELAY = 0.001
SLOW_CHUNKS = 600  # full run only: about a real model's speed (~60 tokens/s for ~6 s)
SLOW_DELAY = 0.01

GOAL_LOAD = 0.15  # s, P1
GOAL_RATIO = 1.10  # (a)/(b), P2
GOAL_RATE = 20.0  # widget comm_msg per second, P3

SHELL = (
    "from IPython.core.interactiveshell import InteractiveShell\nip = InteractiveShell.instance()\n"
)
LOAD_EXT = "import qwen_magic\nip.run_line_magic('load_ext', 'qwen_magic')\n"
IMPORT_OPENAI = "import openai\n"
WATCHED = ("openai", "dashscope", "httpx", "pydantic", "ipywidgets")


# ---------------------------------------------------------------------------------- emulator
def serve_emulator() -> None:
    """Child mode: run the emulator; each stdin line is a JSON ``Reply`` to queue."""
    from qwen_magic.testing import Emulator, Reply

    emu = Emulator().start()
    print(emu.url, flush=True)
    try:
        for line in sys.stdin:
            emu.queue(Reply(**json.loads(line)))
            print("ok", flush=True)
    finally:
        emu.stop()


class EmulatorProcess:
    """The emulator in a child process: its CPU time is not charged to the reader measured.

    Quacks like ``Emulator`` where the magic needs it (``compat_base``, ``native_base``).
    """

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve-emulator"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()
        if not self.url.startswith("http"):
            raise RuntimeError("the emulator child process did not start")
        self.compat_base = self.url + "/compatible-mode/v1"
        self.native_base = self.url + "/api/v1"

    def queue(self, **reply: Any) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(reply) + "\n")
        self.proc.stdin.flush()
        self.proc.stdout.readline()

    def stop(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class EmulatorThread:
    """The emulator in this process (``--in-process``): shares the GIL with the reader."""

    def __init__(self) -> None:
        from qwen_magic.testing import Emulator

        self.emu = Emulator().start()
        self.url = self.emu.url
        self.compat_base = self.emu.compat_base
        self.native_base = self.emu.native_base

    def queue(self, **reply: Any) -> None:
        from qwen_magic.testing import Reply

        self.emu.queue(Reply(**reply))

    def stop(self) -> None:
        self.emu.stop()


def answer_text(words: int = WORDS, paragraph: int | None = PARAGRAPH) -> str:
    vocab = ("the", "model", "streams", "a", "short", "answer", "in", "small", "chunks", "here")
    parts = []
    for i in range(words):
        parts.append(vocab[i % len(vocab)])
        if i + 1 < words:
            parts.append("\n\n" if paragraph and (i + 1) % paragraph == 0 else " ")
    return "".join(parts)


# ---------------------------------------------------------------------------------- P1
def p1(runs: int) -> dict[str, Any]:
    """Whole-process wall times; pyc files warm in a private cache (the tree is untouched)."""
    tmp = Path(tempfile.gettempdir())
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(tmp / "qwen_magic_bench_pycache")
    env["IPYTHONDIR"] = str(tmp / "qwen_magic_bench_ipython")
    variants = {"shell": SHELL, "ext": SHELL + LOAD_EXT, "openai": SHELL + IMPORT_OPENAI}

    def wall(code: str) -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp, check=True)
        return time.perf_counter() - start

    for code in variants.values():  # warm-up: compile pyc files, create the IPython dir
        wall(code)
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(runs):
        for name, code in variants.items():
            times[name].append(wall(code))
    report = f"import json, sys\nprint(json.dumps({{m: m in sys.modules for m in {WATCHED!r}}}))\n"
    check = SHELL + LOAD_EXT + report
    out = subprocess.run(
        [sys.executable, "-c", check], env=env, cwd=tmp, check=True, capture_output=True, text=True
    )
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    med = {name: statistics.median(values) for name, values in times.items()}
    # The cost is the median of per-round differences: each round runs the three variants
    # back to back, so a slow moment on a shared machine hits a pair, not one side.
    shell = times["shell"]
    cost = {
        name: statistics.median(x - y for x, y in zip(times[name], shell, strict=True))
        for name in ("ext", "openai")
    }
    return {"median": med, "cost": cost, "times": times, "loaded": loaded}


# ---------------------------------------------------------------------------------- P2 / P3
@dataclass
class Timing:
    elapsed: float  # wall seconds
    cpu: float  # CPU seconds of this process (all its threads; the emulator is elsewhere)


@dataclass
class UiStats:
    elapsed: float = 0.0
    cpu: float = 0.0
    streaming: float = 0.0  # until the renderer's finish() began
    comm: Counter = field(default_factory=Counter)  # msg_type -> count
    comm_msg_streaming: int = 0
    displays: int = 0
    updates: int = 0
    bytes_sent: int = 0
    by_trait: Counter = field(default_factory=Counter)
    bytes_by_kind: Counter = field(default_factory=Counter)
    text_ok: bool = False

    @property
    def rate(self) -> float:
        return self.comm["comm_msg"] / self.elapsed if self.elapsed else 0.0

    @property
    def streaming_rate(self) -> float:
        return self.comm_msg_streaming / self.streaming if self.streaming else 0.0


class Recorder:
    """Replaces ``comm.DummyComm.publish_msg`` (like tests/conftest.py's CommRecorder)."""

    def __init__(self) -> None:
        self.active = False
        self.messages: list[tuple[float, str, dict[str, Any]]] = []
        self.finish_at: float | None = None

    def install(self) -> None:
        import comm

        recorder = self

        def publish_msg(self: Any, msg_type: str, data: Any = None, *args: Any, **kw: Any) -> None:
            if recorder.active:
                recorder.messages.append((time.perf_counter(), msg_type, data or {}))

        comm.DummyComm.publish_msg = publish_msg  # type: ignore[method-assign]
        try:  # mark when the live view starts stepping aside (finish phase)
            from qwen_magic.render import live

            original = live.LiveRenderer.finish

            def finish(self: Any, result: Any) -> None:
                if recorder.active and recorder.finish_at is None:
                    recorder.finish_at = time.perf_counter()
                original(self, result)

            live.LiveRenderer.finish = finish  # type: ignore[method-assign]
        except (ImportError, AttributeError):  # the package moved on: whole-run figures only
            pass


class Bench:
    def __init__(self, emu: Any) -> None:
        import openai
        from IPython.core.interactiveshell import InteractiveShell

        import qwen_magic

        self.emu = emu
        self.recorder = Recorder()
        self.recorder.install()
        self.ip = InteractiveShell.instance()
        self.ip.history_manager.enabled = False
        self.ip.run_line_magic("load_ext", "qwen_magic")
        self.magics = qwen_magic.ipython.magics_of(self.ip)
        self.magics.use_emulator(emu)
        self.client = openai.OpenAI(
            base_url=emu.compat_base,
            api_key=API_KEY,
            timeout=self.magics.timeout,
            max_retries=self.magics.max_retries,
        )
        self.devnull = open(os.devnull, "w")  # noqa: SIM115 - closed in close()

    def close(self) -> None:
        self.devnull.close()
        self.magics.use_emulator(None)
        self.ip.run_line_magic("unload_ext", "qwen_magic")

    def _stream(self) -> Any:
        return self.client.chat.completions.create(
            model=MODEL, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )

    def bare(self, reply: dict[str, Any], text: str) -> Timing:
        """(b) the bare SDK loop: accumulate ``delta.content``, nothing else."""
        self.emu.queue(**reply)
        gc.collect()
        start, cpu = time.perf_counter(), time.process_time()
        parts = []
        for chunk in self._stream():
            if chunk.choices and chunk.choices[0].delta.content:
                parts.append(chunk.choices[0].delta.content)
        timing = Timing(time.perf_counter() - start, time.process_time() - cpu)
        if "".join(parts) != text:
            print("warning: (b) read a different answer", file=sys.stderr)
        return timing

    def seeds(self, reply: dict[str, Any]) -> Timing:
        """(c) the seeds' loop: print every chunk, flushed (to /dev/null)."""
        self.emu.queue(**reply)
        gc.collect()
        start, cpu = time.perf_counter(), time.process_time()
        with contextlib.redirect_stdout(self.devnull):
            for chunk in self._stream():
                if chunk.choices:  # the include_usage chunk has no choices
                    print(chunk.choices[0].delta.content, end="", flush=True)
        return Timing(time.perf_counter() - start, time.process_time() - cpu)

    def magic(self, reply: dict[str, Any], text: str) -> UiStats:
        """(a) ``%%qwen`` with the live view, its widget and display traffic recorded."""
        from IPython.utils.capture import capture_output

        self.emu.queue(**reply)
        gc.collect()
        rec = self.recorder
        rec.messages, rec.finish_at = [], None
        with capture_output():
            pub = self.ip.display_pub
            rec.active = True
            start, cpu = time.perf_counter(), time.process_time()
            self.ip.run_cell_magic("qwen", "", PROMPT)
            end, cpu = time.perf_counter(), time.process_time() - cpu
            rec.active = False
            outputs = list(pub.outputs)
        result = self.ip.user_ns.get("_qwen")
        stats = UiStats(elapsed=end - start, cpu=cpu)
        stats.text_ok = result is not None and result.text == text and result.error is None
        finish_at = rec.finish_at or end
        stats.streaming = finish_at - start
        for at, msg_type, data in rec.messages:
            size = len(json.dumps(data, default=str))
            stats.comm[msg_type] += 1
            stats.bytes_sent += size
            stats.bytes_by_kind[msg_type] += size
            if msg_type == "comm_msg":
                stats.comm_msg_streaming += at < finish_at
                for key in (data.get("state") or {}) if isinstance(data, dict) else ():
                    stats.by_trait[key] += 1
        for out in outputs:
            stats.updates += bool(out.get("update"))
            stats.displays += not out.get("update")
            payload = {k: out.get(k) for k in ("data", "metadata", "transient")}
            size = len(json.dumps(payload, default=str))
            stats.bytes_sent += size
            stats.bytes_by_kind["update_display" if out.get("update") else "display"] += size
        return stats


def median_stats(runs: list[UiStats]) -> dict[str, float]:
    def med(values: list[float]) -> float:
        return statistics.median(values)

    return {
        "elapsed": med([s.elapsed for s in runs]),
        "cpu": med([s.cpu for s in runs]),
        "rate": med([s.rate for s in runs]),
        "streaming_rate": med([s.streaming_rate for s in runs]),
        "comm_msg": med([s.comm["comm_msg"] for s in runs]),
        "comm_all": med([sum(s.comm.values()) for s in runs]),
        "comm_open": med([s.comm["comm_open"] for s in runs]),
        "comm_close": med([s.comm["comm_close"] for s in runs]),
        "comm_msg_streaming": med([s.comm_msg_streaming for s in runs]),
        "displays": med([s.displays for s in runs]),
        "updates": med([s.updates for s in runs]),
        "bytes": med([s.bytes_sent for s in runs]),
    }


# ---------------------------------------------------------------------------------- table
Row = tuple[str, str, str, str, str, str]


def verdict(ok: bool) -> str:
    return "pass" if ok else "FAIL"


def num(x: float) -> str:
    return f"{x:g}" if float(x).is_integer() else f"{x:.1f}"


def print_table(rows: list[Row]) -> None:
    head: Row = ("figure", "measured", "baseline", "ratio/value", "goal", "result")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    line = "  ".join("-" * w for w in widths)
    print(line)
    print("  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)))
    print(line)
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    print(line)


def environment(in_process: bool) -> str:
    from importlib.metadata import version

    def v(name: str) -> str:
        try:
            return version(name)
        except Exception:
            return "?"

    load = ""
    with contextlib.suppress(OSError):
        load = " · load " + " ".join(Path("/proc/loadavg").read_text().split()[:3])
    where = "in-process thread" if in_process else "child process"
    return (
        f"python {platform.python_version()} · openai {v('openai')} · ipywidgets "
        f"{v('ipywidgets')} · ipython {v('ipython')} · qwen-magic {v('qwen-magic')} · "
        f"{os.cpu_count()} cpu{load} · emulator: {where}"
    )


# ---------------------------------------------------------------------------------- main
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (~30 s)")
    parser.add_argument(
        "--in-process", action="store_true", help="run the emulator as a thread of this process"
    )
    parser.add_argument("--serve-emulator", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_emulator:
        serve_emulator()
        return 0

    began = time.perf_counter()
    p1_runs, p2_reps = (3, 2) if args.quick else (7, 5)
    print(environment(args.in_process))
    print(
        f"P1: {p1_runs} runs per variant · P2: {p2_reps} interleaved repetitions · "
        f"{'quick' if args.quick else 'full'} run",
        flush=True,
    )

    load = p1(p1_runs)
    print(f"P1 done ({time.perf_counter() - began:.0f} s)", flush=True)

    text = answer_text()
    reply = {"text": text, "reasoning": "", "chunks": CHUNKS, "delay": 0}
    warm = {"text": answer_text(2_000), "reasoning": "", "chunks": 2_000, "delay": 0}
    emu: Any = EmulatorThread() if args.in_process else EmulatorProcess()
    try:
        bench = Bench(emu)
        interval = bench.magics.update_interval
        bench.bare(warm, warm["text"])
        bench.magic(warm, warm["text"])
        bench.seeds(warm)
        a_runs: list[UiStats] = []
        b_runs: list[Timing] = []
        c_runs: list[Timing] = []
        for _ in range(p2_reps):
            b_runs.append(bench.bare(reply, text))
            a_runs.append(bench.magic(reply, text))
            c_runs.append(bench.seeds(reply))
        print(f"P2 done ({time.perf_counter() - began:.0f} s)", flush=True)

        worst: UiStats | None = None
        if not args.quick:  # one paragraph of 20,000 words: no block can be frozen
            flat = answer_text(paragraph=None)
            worst = bench.magic({**reply, "text": flat}, flat)

        paced_text = answer_text(PACED_CHUNKS)
        paced = {"text": paced_text, "reasoning": "", "chunks": PACED_CHUNKS, "delay": PACED_DELAY}
        paced_runs = [bench.magic(paced, paced_text) for _ in range(1 if args.quick else 2)]
        paced_bare = None if args.quick else bench.bare(paced, paced_text)
        slow: UiStats | None = None
        if not args.quick:
            slow_text = answer_text(SLOW_CHUNKS)
            slow_reply = {"text": slow_text, "reasoning": "", "chunks": SLOW_CHUNKS}
            slow = bench.magic({**slow_reply, "delay": SLOW_DELAY}, slow_text)
        print(f"P3 done ({time.perf_counter() - began:.0f} s)", flush=True)
        bench.close()
    finally:
        emu.stop()

    a = median_stats(a_runs)
    b = statistics.median(t.elapsed for t in b_runs)
    c = statistics.median(t.elapsed for t in c_runs)
    b_cpu = statistics.median(t.cpu for t in b_runs)
    c_cpu = statistics.median(t.cpu for t in c_runs)
    pa = median_stats(paced_runs)
    ratio = a["elapsed"] / b
    shell, ext, oai = (load["median"][k] for k in ("shell", "ext", "openai"))
    cost, openai_cost = load["cost"]["ext"], load["cost"]["openai"]
    sdk_loaded = [m for m in ("openai", "dashscope") if load["loaded"].get(m)]

    rows: list[Row] = [
        (
            "P1 %load_ext qwen_magic cost",
            f"{ext:.3f} s",
            f"{shell:.3f} s shell",
            f"{cost:+.3f} s",
            f"<= {GOAL_LOAD} s",
            verdict(cost <= GOAL_LOAD),
        ),
        (
            "P1 import openai (same way)",
            f"{oai:.3f} s",
            f"{shell:.3f} s shell",
            f"{openai_cost:+.3f} s",
            "info",
            "info",
        ),
        (
            "P1 SDKs in sys.modules after load",
            ", ".join(sdk_loaded) or "none",
            "",
            "",
            "none",
            verdict(not sdk_loaded),
        ),
        (
            f"P2 (a) %%qwen live / (b) bare SDK, {CHUNKS:,} chunks",
            f"{a['elapsed']:.2f} s",
            f"{b:.2f} s",
            f"{ratio:.2f}x",
            f"<= {GOAL_RATIO:.2f}x",
            verdict(ratio <= GOAL_RATIO),
        ),
        (
            "P2   same, CPU time of the process",
            f"{a['cpu']:.2f} s",
            f"{b_cpu:.2f} s",
            f"{a['cpu'] / b_cpu:.2f}x",
            "info",
            "info",
        ),
        (
            "P2 (c) seeds' print loop / (b)",
            f"{c:.2f} s",
            f"{b:.2f} s",
            f"{c / b:.2f}x",
            "info",
            "info",
        ),
        (
            "P2   same, CPU time of the process",
            f"{c_cpu:.2f} s",
            f"{b_cpu:.2f} s",
            f"{c_cpu / b_cpu:.2f}x",
            "info",
            "info",
        ),
        (
            "P3 widget comm_msg per s (P2 a)",
            f"{num(a['comm_msg'])} msgs",
            f"{a['elapsed']:.2f} s",
            f"{a['rate']:.1f}/s",
            f"<= {GOAL_RATE:g}/s",
            verdict(a["rate"] <= GOAL_RATE),
        ),
        (
            "P3   of which while streaming",
            f"{num(a['comm_msg_streaming'])} msgs",
            "",
            f"{a['streaming_rate']:.1f}/s",
            "info",
            "info",
        ),
        (
            "P3   all UI msgs (open/msg/close)",
            f"{num(a['comm_all'])}",
            "",
            f"{num(a['comm_open'])}/{num(a['comm_msg'])}/{num(a['comm_close'])}",
            "info",
            "info",
        ),
        (
            "P3   display / update_display msgs",
            f"{num(a['displays'])} / {num(a['updates'])}",
            "",
            "",
            "info",
            "info",
        ),
        (
            "P3   bytes to frontend per answer byte",
            f"{a['bytes'] / 1e3:,.0f} kB",
            f"{len(text.encode()) / 1e3:,.0f} kB",
            f"{a['bytes'] / len(text.encode()):.1f}",
            "info",
            "info",
        ),
    ]
    if worst is not None:
        rows.append(
            (
                "P3   same, one paragraph (no freeze)",
                f"{worst.bytes_sent / 1e3:,.0f} kB",
                f"{len(flat.encode()) / 1e3:,.0f} kB",
                f"{worst.bytes_sent / len(flat.encode()):.1f}",
                "info",
                "info",
            )
        )
    rows += [
        (
            f"P3 paced {PACED_CHUNKS:,} chunks x {PACED_DELAY * 1e3:g} ms: comm_msg/s",
            f"{num(pa['comm_msg'])} msgs",
            f"{pa['elapsed']:.2f} s",
            f"{pa['rate']:.1f}/s",
            f"<= {GOAL_RATE:g}/s",
            verdict(pa["rate"] <= GOAL_RATE),
        ),
        (
            "P3   paced: while streaming",
            f"{num(pa['comm_msg_streaming'])} msgs",
            "",
            f"{pa['streaming_rate']:.1f}/s",
            "info",
            "info",
        ),
        (
            "P3   paced: bytes per answer byte",
            f"{pa['bytes'] / 1e3:,.0f} kB",
            f"{len(paced_text.encode()) / 1e3:,.0f} kB",
            f"{pa['bytes'] / len(paced_text.encode()):.1f}",
            "info",
            "info",
        ),
    ]
    if paced_bare is not None:
        rows.append(
            (
                "P3   paced: (a) / (b) wall time",
                f"{pa['elapsed']:.2f} s",
                f"{paced_bare.elapsed:.2f} s",
                f"{pa['elapsed'] / paced_bare.elapsed:.2f}x",
                "info",
                "info",
            )
        )
    if slow is not None:
        rows += [
            (
                f"P3 slow {SLOW_CHUNKS} chunks x {SLOW_DELAY * 1e3:g} ms: comm_msg/s",
                f"{slow.comm['comm_msg']} msgs",
                f"{slow.elapsed:.2f} s",
                f"{slow.rate:.1f}/s",
                f"<= {GOAL_RATE:g}/s",
                verdict(slow.rate <= GOAL_RATE),
            ),
            (
                "P3   slow: bytes per answer byte",
                f"{slow.bytes_sent / 1e3:,.0f} kB",
                f"{len(slow_text.encode()) / 1e3:,.0f} kB",
                f"{slow.bytes_sent / len(slow_text.encode()):.1f}",
                "info",
                "info",
            ),
        ]
    print()
    print_table(rows)
    print()
    traits = Counter()
    for s in a_runs:
        traits.update(s.by_trait)
    per_run = ", ".join(f"{k} {v / len(a_runs):g}" for k, v in traits.most_common())
    print(f"P3 widget updates by trait, per (a) run: {per_run}")
    for label, runs in (("P2 (a)", a_runs), ("paced", paced_runs)):
        kinds = Counter()
        for s in runs:
            kinds.update(s.bytes_by_kind)
        split = ", ".join(f"{k} {v / len(runs) / 1e3:,.0f}" for k, v in kinds.most_common())
        print(f"P3 kB to the frontend by message kind, per {label} run: {split}")
    print(f"update_interval = {interval} s (QwenMagics default) · model {MODEL}")
    print(
        f"P2 wall (s): a {fmt(s.elapsed for s in a_runs)} · b {fmt(t.elapsed for t in b_runs)}"
        f" · c {fmt(t.elapsed for t in c_runs)}"
    )
    print(
        f"P2 CPU  (s): a {fmt(s.cpu for s in a_runs)} · b {fmt(t.cpu for t in b_runs)}"
        f" · c {fmt(t.cpu for t in c_runs)}"
    )
    shell_runs, ext_runs, oai_runs = (load["times"][k] for k in ("shell", "ext", "openai"))
    modules = ", ".join(f"{m} {'yes' if v else 'no'}" for m, v in load["loaded"].items())
    print(f"P1 in sys.modules after %load_ext: {modules}")
    print(f"P1 wall (s): shell {fmt(shell_runs)} · +ext {fmt(ext_runs)} · +openai {fmt(oai_runs)}")
    best_a = min(s.elapsed for s in a_runs) / min(t.elapsed for t in b_runs)
    best_cpu = min(s.cpu for s in a_runs) / min(t.cpu for t in b_runs)
    print(f"P2 best-of-{p2_reps} (a)/(b): wall {best_a:.2f}x · CPU {best_cpu:.2f}x")
    extra = [x for x in (worst, slow) if x is not None]
    bad = [s for s in [*a_runs, *paced_runs, *extra] if not s.text_ok]
    if bad:
        print(f"warning: {len(bad)} %%qwen run(s) did not return the whole answer without error")
    print(f"total {time.perf_counter() - began:.0f} s")
    return 0


def fmt(values: Any) -> str:
    return " ".join(f"{v:.2f}" for v in values)


if __name__ == "__main__":
    try:
        main()
    except Exception as exc:  # a benchmark reports; it never fails the build
        import traceback

        traceback.print_exc()
        print(f"benchmark error: {type(exc).__name__}: {exc}", file=sys.stderr)
    sys.exit(0)
