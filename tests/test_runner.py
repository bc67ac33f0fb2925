"""Many runs, one clock: N requests through the runner against the emulator (real SDKs, real
HTTP). Counts and order, never timings."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest

from qwen_magic.render import FinalRenderer, NullRenderer, variant_titles
from qwen_magic.render.terminal import TerminalRenderer
from qwen_magic.request import Request
from qwen_magic.result import Result
from qwen_magic.runner import execute, execute_many, execute_many_async
from qwen_magic.testing import Emulator, Reply, free_port, request_for


class RecordingView:
    """A view that records what the runner gives it, and may act on a refresh."""

    def __init__(self, on_update: Callable[[RecordingView], None] | None = None) -> None:
        self.on_update = on_update
        self.requests: list[Request] = []
        self.updates: list[tuple[list[Result | None], list[bool]]] = []
        self.finished: list[Result] | None = None
        self.stop: Callable[[], None] = lambda: None
        self.updates_after_stop = 0
        self.stopped = False

    def start(self, requests: Sequence[Request], on_stop: Callable[[], None]) -> None:
        self.requests = list(requests)

        def stop() -> None:
            self.stopped = True
            on_stop()

        self.stop = stop

    def update(self, results: Sequence[Result | None], ended: Sequence[bool] = ()) -> None:
        if self.stopped:
            self.updates_after_stop += 1
        self.updates.append((list(results), list(ended)))
        if self.on_update is not None:
            self.on_update(self)

    def finish(self, results: Sequence[Result]) -> None:
        self.finished = list(results)


def prompts(emulator: Emulator, n: int, **overrides: Any) -> list[Request]:
    return [request_for(emulator, prompt=f"question {i}", **overrides) for i in range(n)]


@pytest.fixture
def slow_emulator() -> Iterator[Emulator]:
    """A second emulator whose every answer streams slowly."""
    emu = Emulator().start()
    emu.default_reply = Reply(text="slow " * 20, chunks=20, delay=0.05, reasoning="")
    try:
        yield emu
    finally:
        emu.stop()


def test_results_come_in_input_order_even_when_later_runs_finish_first(
    emulator, slow_emulator
) -> None:
    requests = [request_for(slow_emulator, prompt="question 0")]
    requests += [request_for(emulator, prompt=f"question {i}") for i in range(1, 5)]
    view = RecordingView()
    results = execute_many(requests, view, interval=0.01, concurrency=5)
    assert results[0].text == "slow " * 20
    assert [r.text for r in results[1:]] == [f"Echo: question {i}" for i in range(1, 5)]
    assert view.finished == results and view.requests == requests
    # the fast runs had ended while the first was still streaming
    assert any(ended[1:] == [True] * 4 and not ended[0] for _, ended in view.updates)


def test_at_most_concurrency_requests_reach_the_server_at_once(emulator) -> None:
    emulator.queue(*[Reply(fault="stall", delay=30.0) for _ in range(6)])  # held until stopped

    def stop_once_the_pool_is_full(view: RecordingView) -> None:
        if len(emulator.requests) >= 2 and not view.stopped:
            view.stop()

    view = RecordingView(stop_once_the_pool_is_full)
    results = execute_many(prompts(emulator, 6), view, interval=0.01, concurrency=2)
    assert len(emulator.requests) == 2  # the other four never started
    assert [r.interrupted for r in results] == [True] * 6
    sent = sorted(m.messages[-1]["content"] for m in emulator.requests)
    assert sent == ["question 0", "question 1"]  # the first two, in either order
    assert all(record.finished.wait(5) and record.disconnected for record in emulator.requests)


def test_one_stop_ends_every_run_and_keeps_what_arrived(emulator) -> None:
    n = 4
    emulator.queue(*[Reply(text="w " * 200, chunks=200, delay=0.02, reasoning="")] * n)

    def stop_when_all_have_text(view: RecordingView) -> None:
        results, _ = view.updates[-1]
        if all(r is not None and r.text for r in results) and not view.stopped:
            view.stop()

    view = RecordingView(stop_when_all_have_text)
    results = execute_many(prompts(emulator, n), view, interval=0.01, concurrency=n)
    assert view.stopped and view.updates_after_stop == 0  # the loop ended at that refresh
    for result in results:
        assert result.interrupted and result.error is None
        assert result.text.startswith("w ") and len(result.text) < len("w " * 200)
    assert all(record.finished.wait(5) and record.disconnected for record in emulator.requests)


def test_a_failing_run_does_not_stop_the_others(emulator) -> None:
    requests = prompts(emulator, 3)
    requests[1] = request_for(
        emulator, prompt="question 1", base_url=f"http://127.0.0.1:{free_port()}/v1"
    )
    results = execute_many(requests, NullRenderer(), interval=0.01, concurrency=2)
    assert results[1].error is not None and results[1].error.kind == "connection"
    assert [results[0].text, results[2].text] == ["Echo: question 0", "Echo: question 2"]
    assert results[0].ok and results[2].ok


def test_refreshes_follow_the_clock_not_the_chunks_or_the_runs(emulator) -> None:
    import time

    n = 4
    emulator.queue(*[Reply(text="word " * 1000, chunks=1000, reasoning="")] * n)
    view = RecordingView()
    began = time.perf_counter()
    results = execute_many(prompts(emulator, n), view, interval=0.05, concurrency=n)
    wall = time.perf_counter() - began
    assert all(r.text == "word " * 1000 for r in results)
    assert len(view.updates) <= wall / 0.05 + 2  # one refresh per tick for all runs
    assert len(view.updates) < 4000 / 10  # never one per chunk


def test_the_coroutine_runs_many_and_a_cancel_stops_them_all(emulator) -> None:
    n = 3
    emulator.queue(*[Reply(text="w " * 200, chunks=200, delay=0.02, reasoning="")] * n)

    async def main() -> list[Result]:
        view = RecordingView()
        task = asyncio.ensure_future(
            execute_many_async(prompts(emulator, n), view, interval=0.01, concurrency=n)
        )
        while not (view.updates and all(r is not None and r.text for r in view.updates[-1][0])):
            await asyncio.sleep(0.01)  # the loop's own clock: let the runner refresh
        task.cancel()  # what the kernel's interrupt does
        return await task

    results = asyncio.run(main())
    assert len(results) == n
    assert all(r.interrupted and r.text.startswith("w ") for r in results)


def test_the_coroutine_keeps_input_order(emulator, slow_emulator) -> None:
    requests = [request_for(slow_emulator, prompt="first")]
    requests += [request_for(emulator, prompt="second")]
    results = asyncio.run(execute_many_async(requests, NullRenderer(), 0.01, concurrency=2))
    assert [r.text for r in results] == ["slow " * 20, "Echo: second"]


def test_a_single_request_is_the_n_equals_one_case(emulator) -> None:
    view = RecordingView()
    result = execute(request_for(emulator, prompt="alone"), view, interval=0.01)
    assert result.text == "Echo: alone" and view.finished == [result]
    assert len(view.requests) == 1


def test_a_failing_view_is_recorded_and_every_answer_still_shown_plainly(ip, emulator) -> None:
    from IPython.utils.capture import capture_output

    class Broken(NullRenderer):
        def finish(self, results: Any) -> None:
            raise RuntimeError("the grid broke")

    with capture_output() as cap:
        results = execute_many(prompts(emulator, 2), Broken(), interval=0.01, concurrency=2)
    assert all("the grid broke" in r.error.message for r in results)
    plain = [o.data["text/plain"] for o in cap.outputs]
    assert plain[0].startswith("Echo: question 0") and plain[1].startswith("Echo: question 1")


# -- titles, the static grid and the terminal --------------------------------------------------
def test_titles_name_what_sets_each_variant_apart(emulator) -> None:
    by_model = [request_for(emulator, model=m) for m in ("qwen-plus", "qwen-max")]
    assert variant_titles(by_model) == ["qwen-plus", "qwen-max"]
    by_t = [request_for(emulator, temperature=t) for t in (0.1, 0.9)]
    assert variant_titles(by_t) == ["t=0.1", "t=0.9"]
    same = prompts(emulator, 3)
    assert variant_titles(same) == ["#1", "#2", "#3"]


def test_the_static_grid_holds_every_answer_in_order(ip, emulator) -> None:
    from IPython.utils.capture import capture_output

    models = ["qwen-plus", "qwen-max", "qwen3.5-plus"]
    requests = [request_for(emulator, model=m, prompt=f"to {m}") for m in models]
    with capture_output() as cap:
        results = execute_many(requests, FinalRenderer(), interval=0.01, concurrency=3)
    (output,) = cap.outputs
    html, markdown = output.data["text/html"], output.data["text/markdown"]
    assert html.count("<th ") == 3 and html.count("<td ") == 3
    answers = [f"Echo: to {m}" for m in models]
    assert [html.index(a) for a in answers] == sorted(html.index(a) for a in answers)
    headings = [line for line in markdown.splitlines() if line.startswith("### ")]
    assert headings == [f"### {m}" for m in models]
    positions = [markdown.index(a) for a in answers]
    assert positions == sorted(positions)
    assert [r.text for r in results] == answers


def test_many_answers_are_summed_up_in_a_compact_table(ip, emulator) -> None:
    from IPython.utils.capture import capture_output

    with capture_output() as cap:
        execute_many(prompts(emulator, 12), FinalRenderer(), interval=0.01, concurrency=4)
    markdown = cap.outputs[0].data["text/markdown"]
    assert markdown.startswith("**12/12 done")
    rows = [line for line in markdown.splitlines() if line.startswith("| ")]
    assert len(rows) == 1 + 10  # the header and the first ten
    assert rows[1].startswith("| 1 | Echo: question 0 |") and "Echo: question 9" in rows[-1]
    assert "2 more" in markdown


def test_the_terminal_prints_a_line_per_finished_run_then_the_answers(emulator) -> None:
    stream = io.StringIO()
    requests = [request_for(emulator, model=m) for m in ("qwen-plus", "qwen-max", "qwen-flash")]
    execute_many(requests, TerminalRenderer(stream), interval=0.01, concurrency=3)
    out = stream.getvalue()
    progress = [line for line in out.splitlines() if line.startswith("[") and "done]" in line]
    assert len(progress) == 3
    assert sorted(line.split("] ")[0] for line in progress) == [
        "[1/3 done",
        "[2/3 done",
        "[3/3 done",
    ]
    headings = [line for line in out.splitlines() if line.startswith("== ")]
    assert headings == ["== qwen-plus ==", "== qwen-max ==", "== qwen-flash =="]
    assert out.rstrip().splitlines()[-1].startswith("[3/3 done")


def test_stop_while_the_sdk_loads_returns_without_waiting_for_the_load(emulator, monkeypatch):
    """Stop before the first token of a session's first call, while the SDK is still being
    imported: the runner returns at once (an import cannot be cut short) and nothing is sent.
    However long the runner lets readers close their streams, it never waits for a load."""
    import threading

    import qwen_magic.providers.chat as chat
    from qwen_magic.runner import Runs

    loading, release, loaded = threading.Event(), threading.Event(), threading.Event()
    real_client = chat.openai_client

    def slow_client(*args: Any, **kwargs: Any) -> Any:  # the SDK import of a first call
        loading.set()
        release.wait(30)
        client = real_client(*args, **kwargs)
        loaded.set()
        return client

    monkeypatch.setattr(chat, "openai_client", slow_client)
    monkeypatch.setattr(Runs, "JOIN", 60.0)
    watchdog = threading.Timer(10, release.set)  # ends the load if the runner waits for it
    watchdog.start()

    def stop_while_loading(view: RecordingView) -> None:
        if loading.wait(10) and not view.stopped:
            view.stop()

    try:
        view = RecordingView(stop_while_loading)
        result = execute(request_for(emulator), view, interval=0.01)
        assert not loaded.is_set()  # returned while the load was still going
    finally:
        release.set()
        watchdog.cancel()
    assert result.interrupted and result.text == "" and result.error is None
    assert view.finished == [result]
    loaded.wait(10)
    assert emulator.requests == []  # the stopped call never went out
