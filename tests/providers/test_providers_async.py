"""The async twins (``aevents``): AsyncOpenAI and the dashscope Aio* calls against the
emulator give the same Events as the sync path, and leave nothing open behind them."""

from __future__ import annotations

import asyncio
import gc
import socket
import warnings
from collections.abc import Callable
from typing import Any

import pytest

from qwen_magic.events import Failed, Finished, ReasoningDelta, Started, TextDelta, Usage
from qwen_magic.providers import aio, make_provider
from qwen_magic.providers.dashscope import DashScopeProvider
from qwen_magic.request import Request
from qwen_magic.testing import Reply, request_for

APIS = ("chat", "responses", "dashscope")


def make_request(emulator, api: str, **overrides) -> Request:
    return request_for(emulator, api, **overrides)


async def collect(provider: Any) -> list[Any]:
    return [event async for event in provider.aevents()]


def run_clean(main: Callable[[], Any]) -> Any:
    """Run a coroutine on a fresh loop; fail on any warning left behind (unclosed sessions,
    sockets, transports) once the loop is closed and garbage collected."""
    with warnings.catch_warnings():  # what earlier tests left for the collector is not ours
        warnings.simplefilter("ignore")
        gc.collect()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = asyncio.run(main())
        gc.collect()
    messages = [str(w.message) for w in caught]
    assert not [m for m in messages if "nclosed" in m or "never awaited" in m], messages
    assert not aio._pools or all(not entries for entries in aio._pools.values())
    return value


def answer(events: list[Any]) -> tuple[str, str]:
    reasoning = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    return reasoning, "".join(e.text for e in events if isinstance(e, TextDelta))


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("stream", [True, False])
def test_same_events_as_the_sync_path(emulator, api, stream) -> None:
    request = make_request(emulator, api, thinking=True, stream=stream)
    emulator.queue(Reply(text="A B C", reasoning="x y"))
    sync_events = list(make_provider(request).events())
    emulator.queue(Reply(text="A B C", reasoning="x y"))
    async_events = run_clean(lambda: collect(make_provider(request)))
    assert [type(e) for e in async_events] == [type(e) for e in sync_events]
    assert answer(async_events) == answer(sync_events) == ("x y", "A B C")
    assert isinstance(async_events[0], Started) and isinstance(async_events[-1], Finished)
    assert async_events[-1].finish_reason == "stop"
    usage = [e for e in async_events if isinstance(e, Usage)][-1]
    assert (usage.output_tokens, usage.reasoning_tokens) == (5, 2)
    assert emulator.last.api_key == f"sk-test-{api}" and emulator.last.stream is stream


def test_dashscope_async_request_body_and_headers(emulator) -> None:
    request = make_request(emulator, "dashscope", model="qwen-plus", temperature=0.2)
    run_clean(lambda: collect(DashScopeProvider(request)))
    record = emulator.last
    assert record.protocol == "native-text" and record.headers["x-dashscope-sse"] == "enable"
    assert record.body["parameters"] == {
        "result_format": "message",
        "incremental_output": True,
        "temperature": 0.2,
    }


def test_dashscope_async_cumulative_chunks_are_not_duplicated(emulator) -> None:
    emulator.queue(Reply(text="one two three four", chunks=4))
    provider = DashScopeProvider(
        make_request(emulator, "dashscope", model="qwen-plus"), incremental_output=None
    )
    events = run_clean(lambda: collect(provider))
    deltas = [e.text for e in events if isinstance(e, TextDelta)]
    assert "".join(deltas) == "one two three four" and len(deltas) == 4
    assert "incremental_output" not in emulator.last.body["parameters"]


@pytest.mark.parametrize("api", APIS)
def test_http_error(emulator, api) -> None:
    emulator.queue(Reply(fault="http_401", request_id="req-async"))
    (failed,) = run_clean(lambda: collect(make_provider(make_request(emulator, api))))
    assert isinstance(failed, Failed)
    err = failed.error
    assert (err.kind, err.status, err.request_id) == ("http", 401, "req-async")


def test_dashscope_async_mislabelled_error_body(emulator) -> None:
    emulator.queue(Reply(fault="http_400_mislabelled"))
    (failed,) = run_clean(lambda: collect(make_provider(make_request(emulator, "dashscope"))))
    err = failed.error
    assert (err.kind, err.status, err.code) == ("http", 400, "InvalidParameter")


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("fault", ["error_frame", "cut"])
def test_broken_stream_keeps_what_arrived(emulator, api, fault) -> None:
    emulator.queue(Reply(text="one two three four five six", reasoning="", fault=fault))
    request = make_request(emulator, api, thinking=False)
    events = run_clean(lambda: collect(make_provider(request)))
    text = answer(events)[1]
    assert text and "one two three four five six".startswith(text)
    assert text != "one two three four five six"
    assert isinstance(events[-1], Failed) and events[-1].error.kind == "stream"


@pytest.mark.parametrize("api", APIS)
def test_timeout_and_connection_refused(emulator, api) -> None:
    # dashscope's aio transport resends once when the first read times out (it takes
    # aiohttp's ServerTimeoutError for a dropped pooled connection): two stalls are needed.
    emulator.queue(Reply(fault="stall", delay=2.0), Reply(fault="stall", delay=2.0))
    request = make_request(emulator, api, timeout=0.3)
    (failed,) = run_clean(lambda: collect(make_provider(request)))
    assert failed.error.kind == "timeout"
    assert len(emulator.requests) == (2 if api == "dashscope" else 1)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    request = make_request(emulator, api, base_url=f"http://127.0.0.1:{port}/v1")
    (failed,) = run_clean(lambda: collect(make_provider(request)))
    assert failed.error.kind == "connection"


def test_dashscope_async_retries_before_the_first_token(emulator) -> None:
    emulator.queue(Reply(fault="http_503", retry_after="0"), Reply(text="fine", reasoning=""))
    request = make_request(emulator, "dashscope", max_retries=1)
    events = run_clean(lambda: collect(make_provider(request)))
    assert answer(events)[1] == "fine" and len(emulator.requests) == 2


@pytest.mark.parametrize("api", APIS)
def test_concurrent_calls_share_one_client_and_close_it(emulator, api) -> None:
    async def main() -> list[list[Any]]:
        providers = [
            make_provider(make_request(emulator, api, prompt=f"Q{i}", thinking=False))
            for i in range(4)
        ]
        results = await asyncio.gather(*(collect(p) for p in providers))
        return results

    for i in range(4):
        emulator.queue(Reply(text=f"answer {i}", delay=0.01))
    results = run_clean(main)
    assert sorted(answer(events)[1] for events in results) == [f"answer {i}" for i in range(4)]


@pytest.mark.parametrize("api", APIS)
def test_cancelling_the_task_closes_the_stream(emulator, api) -> None:
    emulator.queue(Reply(text="w " * 100, reasoning="", chunks=100, delay=0.05))
    request = make_request(emulator, api, thinking=False)
    seen: list[Any] = []

    async def consume() -> None:
        async for event in make_provider(request).aevents():
            seen.append(event)

    async def main() -> None:
        task = asyncio.create_task(consume())
        while not any(isinstance(e, TextDelta) for e in seen):
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run_clean(main)
    record = emulator.last
    assert record.finished.wait(5) and record.disconnected
    assert record.frames_sent < 100


def test_run_clean_does_catch_a_leaked_session() -> None:
    """The check above is not vacuous: a session left open is reported."""
    import aiohttp

    async def leak() -> None:
        aiohttp.ClientSession()

    with pytest.raises(AssertionError, match="Unclosed client session"):
        run_clean(leak)


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize(
    ("fault", "words"),
    [("null_choice", "null"), ("invalid_utf8", "not valid UTF-8"), ("huge_frame", "passed"),
     ("empty_stream", "before its first event"), ("html_502", "HTML page from a proxy")],
)  # fmt: skip
def test_hostile_replies_name_the_server(emulator, api, fault, words) -> None:
    emulator.queue(Reply(text="one two three four", reasoning="", fault=fault, fault_after=2))
    request = make_request(emulator, api, thinking=False)
    events = run_clean(lambda: collect(make_provider(request)))
    assert isinstance(events[-1], Failed) and words in str(events[-1].error)
    assert events[-1].error.kind in ("server", "proxy")
    assert answer(events)[1] == ("one two " if fault in ("null_choice", "invalid_utf8",
                                                         "huge_frame") else "")  # fmt: skip
