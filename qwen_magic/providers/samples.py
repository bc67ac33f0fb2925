"""``-n K`` in one request: the chat API's ``n`` gives K choices in one reply, each shown as
its own run.

The runner gives every run a provider of its own, so a request of K samples becomes K
providers: the first (``SamplesProvider``) sends the request and folds each choice with its
own ``ChatStream``; it yields the first choice's Events and hands the others' to
``Follower`` providers through queues. A failure of the request (an HTTP error, a broken
connection) and a retry notice reach every sample. The request's tokens and cost are the
first sample's: the service counts them once for all K.

Where the service refuses ``n`` (an HTTP 400 before any answer) or ignores it (fewer choices
come back), the samples left out are asked one request each, as without ``n``.
"""

from __future__ import annotations

import queue
from collections.abc import Generator, Iterable, Iterator, Sequence
from typing import Any

from qwen_magic.events import Event, Failed
from qwen_magic.providers import Provider
from qwen_magic.providers.chat import SHAPE_ERRORS, ChatProvider, ChatStream, explain
from qwen_magic.providers.wire import NO_EVENTS, BadReply, describe
from qwen_magic.request import Request

_END = object()  # the request is over: a follower's events end
_ALONE = object()  # the reply has no choice for this sample: it asks on its own


class Lanes:
    """One queue per sample after the first: what the first sample's provider hands on."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.queues: list[queue.SimpleQueue[Any]] = [queue.SimpleQueue() for _ in range(count)]

    def put(self, lane: int, event: Any) -> None:
        self.queues[lane].put(event)

    def broadcast(self, event: Event) -> None:
        for lane in range(1, self.count):
            self.put(lane, event)

    def end(self) -> None:
        self.broadcast(_END)  # type: ignore[arg-type]


class FanOut:
    """Folds a reply of K choices: one ``ChatStream`` per choice ``index``. Stands where a
    ``ChatStream`` stands in ``ChatProvider`` (``feed``, ``finish``, ``whole``, ``started``)."""

    def __init__(self, request_id: str | None, lanes: Lanes, request: Request) -> None:
        self.lanes = lanes
        self.request = request
        self.folds = [ChatStream(request_id) for _ in range(lanes.count)]
        self.own: Event | None = None  # the last Event yielded: the first sample's

    @property
    def started(self) -> bool:
        return any(fold.started for fold in self.folds)

    def _lane(self, choice: Any, where: str) -> int:
        index = getattr(choice, "index", None)
        count = self.lanes.count
        if type(index) is not int or not 0 <= index < count:
            raise BadReply(
                f"{where}.index is {describe(index)}, not one of the {count} samples asked for"
            )
        return index

    def _route(self, lane: int, events: Iterable[Event]) -> Iterator[Event]:
        for event in events:
            if lane == 0:
                self.own = event
                yield event
            else:
                self.lanes.put(lane, event)

    def feed(self, chunk: Any) -> Iterator[Event]:
        try:
            choices = list(chunk.choices or [])
            usage = chunk.usage
            parts = [
                (self._lane(choice, f"choices[{number}]"), choice)
                for number, choice in enumerate(choices)
            ]
        except SHAPE_ERRORS as exc:
            raise BadReply(explain(chunk, "choices[0].delta")) from exc
        if not parts or (usage is not None and all(lane for lane, _ in parts)):
            yield from self._route(0, self.folds[0].feed(chunk.model_copy(update={"choices": []})))
            usage = None  # counted once, by the first sample
        for lane, choice in parts:
            update = {"choices": [choice], "usage": usage if lane == 0 else None}
            yield from self._route(lane, self.folds[lane].feed(chunk.model_copy(update=update)))

    def finish(self, *, streamed: bool = True) -> Iterator[Event]:
        if not any(fold.announced for fold in self.folds):
            raise BadReply(NO_EVENTS)  # one failure, for every sample
        for lane in range(1, self.lanes.count):
            fold = self.folds[lane]
            if fold.announced:
                self._route_all(lane, fold.finish(streamed=streamed))
            else:
                self.lanes.put(lane, _ALONE)
        if not any(fold.announced for fold in self.folds[1:]):
            self.request.samples = 1  # n was ignored: this request gave this sample alone
        yield from self._route(0, self.folds[0].finish(streamed=streamed))

    def _route_all(self, lane: int, events: Iterable[Event]) -> None:
        for _ in self._route(lane, events):
            pass

    def whole(self, completion: Any) -> Iterator[Event]:
        """A non-streamed reply: its K choices."""
        try:
            choices = completion.choices
            if not choices or not isinstance(choices, list):
                raise BadReply(f"its reply has no choices (choices is {describe(choices)})")
            parts = {
                self._lane(choice, f"choices[{number}]"): choice
                for number, choice in enumerate(choices)
            }
        except SHAPE_ERRORS as exc:
            raise BadReply(explain(completion, "choices[0].message")) from exc
        if 0 not in parts:
            raise BadReply("its reply has no choice with index 0")
        for lane in range(1, self.lanes.count):
            if lane in parts:
                part = completion.model_copy(update={"choices": [parts[lane]], "usage": None})
                self._route_all(lane, self.folds[lane].whole(part))
            else:
                self.lanes.put(lane, _ALONE)
        if len(parts) == 1:
            self.request.samples = 1  # n was ignored: this request gave this sample alone
        part = completion.model_copy(update={"choices": [parts[0]]})
        yield from self._route(0, self.folds[0].whole(part))


class SamplesProvider(ChatProvider):
    """Sends the request with ``n``; yields the first sample's Events, hands on the rest."""

    def __init__(self, request: Request, lanes: Lanes) -> None:
        super().__init__(request)
        self.lanes = lanes
        self.fan: FanOut | None = None

    def _fold(self, request_id: str | None) -> Any:
        if self.request.samples == 1:  # asking alone (the service refused n)
            self.fan = None
            return ChatStream(request_id)
        self.fan = FanOut(request_id, self.lanes, self.request)  # a new one per attempt
        return self.fan

    def events(self) -> Generator[Event, None, None]:
        try:
            events = super().events()
            refused = False
            for event in events:
                fan = self.fan
                if fan is not None and event is fan.own:
                    yield event
                    continue
                if _refused(event, fan):
                    refused = True
                    break
                self.lanes.broadcast(event)  # a retry notice, the request's failure
                yield event
            events.close()
            if refused:  # the service refused n: each sample asks on its own
                self.request.samples = 1
                self.lanes.broadcast(_ALONE)  # type: ignore[arg-type]
                yield from super().events()
        finally:
            self.lanes.end()


def _refused(event: Event, fan: FanOut | None) -> bool:
    """An HTTP 400 before any answer: the request as sent was refused (n, for this model)."""
    error = getattr(event, "error", None)
    return (
        isinstance(event, Failed)
        and getattr(error, "status", None) == 400
        and not (fan is not None and fan.started)
    )


class Follower:
    """Sample ``lane`` of a request another provider sends: its Events come through a queue;
    if the reply has none for it, it asks on its own."""

    def __init__(self, request: Request, lanes: Lanes, lane: int) -> None:
        self.request = request
        self.lanes = lanes
        self.lane = lane
        self.alone: ChatProvider | None = None
        self.stopped = False

    def events(self) -> Generator[Event, None, None]:
        lane = self.lanes.queues[self.lane]
        while True:
            event = lane.get()
            if event is _END:
                return
            if event is _ALONE:
                yield from self._alone()
                return
            yield event

    def _alone(self) -> Generator[Event, None, None]:
        self.request.samples, self.request.sample = 1, 0
        self.alone = ChatProvider(self.request)
        if not self.stopped:
            yield from self.alone.events()

    def abort(self) -> None:
        self.stopped = True
        self.lanes.put(self.lane, _END)
        if self.alone is not None:
            self.alone.abort()


def sample_providers(requests: Sequence[Request]) -> list[Provider | None]:
    """The providers of requests that share one request (``Request.samples`` > 1, the first
    with ``sample`` 0 and the rest right after it); None for the others (the runner makes
    theirs)."""
    providers: list[Provider | None] = [None] * len(requests)
    index = 0
    while index < len(requests):
        request = requests[index]
        if request.samples > 1 and request.sample == 0:
            lanes = Lanes(request.samples)
            providers[index] = SamplesProvider(request, lanes)
            for lane in range(1, request.samples):
                providers[index + lane] = Follower(requests[index + lane], lanes, lane)
            index += request.samples
        else:
            index += 1
    return providers
