"""Adaptive concurrency: fewer at once while the service answers 429, more again as requests
succeed; the progress view says how many run at once; UI messages stay bounded."""

from __future__ import annotations

import html
import re
import threading
from types import SimpleNamespace

from qwen_magic.emulator.limits import Limits
from qwen_magic.errors import ServiceError
from qwen_magic.events import Failed, TextDelta
from qwen_magic.pacing import Pacer
from qwen_magic.testing import Reply

OK = SimpleNamespace(error=None, interrupted=False)


class FakeProvider:
    def __init__(self, events: list) -> None:
        self._events = events
        self.aborted = False

    def events(self):
        yield from self._events

    def abort(self) -> None:
        self.aborted = True


def throttled() -> Failed:
    return Failed(ServiceError("http", "Requests rate limit exceeded", status=429))


def test_a_429_halves_once_per_wave_and_successes_grow_it_back() -> None:
    pacer = Pacer(8)
    for _ in range(8):
        assert pacer.enter()
    watched = [pacer.watch(FakeProvider([throttled()])) for _ in range(3)]
    for provider in watched:  # three 429s of the same wave: one cut
        list(provider.events())
    assert pacer.limit == 4 and pacer.throttled == 3
    for _ in range(8):
        pacer.leave(OK)
    assert pacer.in_flight == 0
    assert pacer.enter()  # a request of the next wave...
    list(pacer.watch(FakeProvider([throttled()])).events())
    assert pacer.limit == 2  # ...cuts again
    pacer.leave(OK)
    for _ in range(2 + 3 + 4 + 5 + 6 + 7):  # `limit` successes in a row add one
        assert pacer.enter()
        pacer.leave(OK)
    assert pacer.limit == 8 and pacer.history == [8, 4, 2, 3, 4, 5, 6, 7, 8]


def test_a_worker_waits_for_a_slot_and_stop_wakes_it() -> None:
    pacer = Pacer(1)
    assert pacer.enter()
    got: list[bool] = []
    waiter = threading.Thread(target=lambda: got.append(pacer.enter()))
    waiter.start()
    waiter.join(0.05)
    assert waiter.is_alive() and pacer.in_flight == 1  # no slot: it waits
    pacer.close()
    waiter.join(5)
    assert got == [False]


def test_the_watched_provider_passes_everything_through() -> None:
    inner = FakeProvider([TextDelta("a"), TextDelta("b")])
    watched = Pacer(2).watch(inner)
    assert [e.text for e in watched.events()] == ["a", "b"]
    watched.abort()
    assert inner.aborted


def test_the_emulator_refuses_beyond_n_requests_a_second() -> None:
    limits = Limits(requests_per_second=2)
    assert limits.admit() is None and limits.admit() is None
    refused = limits.admit()
    assert refused is not None and refused.status == 429 and refused.headers["Retry-After"] == "1"
    assert (limits.served, limits.throttled, limits.in_flight, limits.peak) == (2, 1, 2, 2)
    assert limits.paced(Reply()).delay == 0.0
    assert Limits(token_rate=50).paced(Reply()).delay == 0.02
    assert Limits(token_rate=50).paced(Reply(delay=0.5)).delay == 0.5  # the reply's own wins


def test_the_level_drops_under_429s_that_are_retried(ip, magics, emulator, comms):
    emulator.limits = Limits(requests_per_second=4, latency=0.2)
    ip.user_ns["qs"] = [f"q{n}" for n in range(12)]
    magics.max_retries = 6
    ip.run_cell_magic("qwen", "--each qs --concurrency 8 --no-think -o r", "{item}")
    r = ip.user_ns["r"]
    assert r.ok and r.texts == [f"Echo: q{n}" for n in range(12)]  # every item survived
    assert emulator.limits.throttled > 0
    assert any(re.search(r"\b[1-4] at once \(of 8: rate-limited\)", s) for s in statuses(comms))


def statuses(comms) -> list[str]:
    return [
        html.unescape(re.sub(r"<[^>]+>", "", d["state"]["value"]))
        for t, d in comms.messages
        if t == "comm_msg" and " done" in str(d.get("state", {}).get("value", ""))
    ]


def test_the_progress_view_shows_the_level_dropping_under_429s(ip, magics, emulator, comms):
    magics.max_retries = 0  # each 429 ends its item: counted, recorded, the rest go on
    emulator.limits = Limits(requests_per_second=4, latency=0.3)
    ip.user_ns["qs"] = [f"q{n}" for n in range(16)]
    ip.run_cell_magic("qwen", "--each qs --concurrency 8 --no-think -o r", "{item}")
    r = ip.user_ns["r"]
    assert len(r) == 16 and r.errors and all(e.status == 429 for e in r.errors.values())
    assert len(r.errors) == emulator.limits.throttled < 16  # some got through
    seen = statuses(comms)
    assert seen  # (the first refresh may come after the first 429s on a busy machine)
    assert any(re.search(r"\b[1-4] at once \(of 8: rate-limited\)", s) for s in seen)


def test_progress_refreshes_are_bounded_whatever_the_count(ip, magics, emulator, comms):
    ip.user_ns["qs"] = list(range(60))
    emulator.default_reply = Reply(reasoning="", chunks=20, delay=0.005)
    ip.run_cell_magic("qwen", "--each qs --concurrency 16 -o r", "Count {item}")
    assert ip.user_ns["r"].ok
    updates = [d for t, d in comms.messages if t == "comm_msg"]
    opens = [d for t, d in comms.messages if t == "comm_open"]
    # one view (a few widgets), three of them refreshed per tick, never a widget per answer
    assert len(opens) < 20
    assert len(updates) <= 3 * (len(statuses(comms)) + 1) + 10
    assert len(updates) < 60  # fewer messages than answers
