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

from qwen_magic.errors import ServiceError
from qwen_magic.events import Event, Failed, Finished, ReasoningDelta, TextDelta
from qwen_magic.providers import Provider
from qwen_magic.providers.chat import SHAPE_ERRORS, ChatProvider, ChatStream, explain
from qwen_magic.providers.guard import ReadGuard
from qwen_magic.providers.wire import NO_EVENTS, BadReply, describe
from qwen_magic.request import Request

_END = object()  # the request is over: a follower's events end
UNANSWERED = "the request it shares with the first sample ended without its answer (see there)"
_ALONE = object()  # the reply has no choice for this sample: it asks on its own


class Lanes:
    """One queue per sample after the first: what the first sample's provider hands on; and
    the samples' Requests."""

    def __init__(self, requests: Sequence[Request]) -> None:
        self.requests = list(requests)
        self.count = len(self.requests)
        self.queues: list[queue.SimpleQueue[Any]] = [queue.SimpleQueue() for _ in self.requests]

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

    def __init__(self, request_id: str | None, lanes: Lanes, guard: ReadGuard) -> None:
        self.lanes = lanes
        self.guard = guard
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
                if isinstance(event, TextDelta | ReasoningDelta):
                    self.guard.first_token_by = None  # an answer began: no deadline now
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
        first, has_first = self.folds[0], any(lane == 0 for lane, _ in parts)
        if not first.announced or not has_first and (usage is not None or not parts):
            # The first sample starts with the reply, whichever choice comes first (a failure
            # after it is not sent again), and takes the request's usage.
            bare: dict[str, Any] = {"choices": [], "usage": None if has_first else usage}
            yield from self._route(0, first.feed(chunk.model_copy(update=bare)))
            if not has_first:
                usage = None  # counted once, by the first sample
        for lane, choice in parts:
            update = {"choices": [choice], "usage": usage if lane == 0 else None}
            yield from self._route(lane, self.folds[lane].feed(chunk.model_copy(update=update)))

    def finish(self, *, streamed: bool = True) -> Iterator[Event]:
        if not self.folds[0].announced:
            raise BadReply(NO_EVENTS)  # one failure, for every sample
        # The first sample first: should its end be malformed, the failure reaches the
        # others before they are finished.
        yield from self._route(0, self.folds[0].finish(streamed=streamed))
        got = [lane for lane in range(1, self.lanes.count) if self.folds[lane].announced]
        for lane in range(1, self.lanes.count):
            if lane in got:
                self._route_all(lane, self.folds[lane].finish(streamed=streamed))
            else:
                self.lanes.put(lane, _ALONE)
        self._answered(1 + len(got))

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
        if len(parts) < len(choices):
            raise BadReply("two of its choices have the same index")
        part = completion.model_copy(update={"choices": [parts[0]]})
        yield from self._route(0, self.folds[0].whole(part))  # first: see finish()
        for lane in range(1, self.lanes.count):
            if lane in parts:
                part = completion.model_copy(update={"choices": [parts[lane]], "usage": None})
                self._route_all(lane, self.folds[lane].whole(part))
            else:
                self.lanes.put(lane, _ALONE)
        self._answered(len(parts))

    def _answered(self, count: int) -> None:
        """The reply held ``count`` of the samples (the rest ask on their own): the footers
        count only those."""
        if count < self.lanes.count:
            for lane, request in enumerate(self.lanes.requests):
                if lane == 0 or self.folds[lane].announced:
                    request.samples = count


class SamplesProvider(ChatProvider):
    """Sends the request with ``n``; yields the first sample's Events, hands on the rest."""

    def __init__(self, request: Request, lanes: Lanes) -> None:
        super().__init__(request)
        self.lanes = lanes
        self.fan: FanOut | None = None
        self.alone = False  # the service refused n: this sample asks on its own

    def _fold(self, request_id: str | None) -> Any:
        if self.alone:  # asking alone (the service refused n)
            self.fan = None
            return ChatStream(request_id)
        self.fan = FanOut(request_id, self.lanes, self.guard)  # a new one per attempt
        return self.fan

    def prepare(self) -> None:
        try:
            super().prepare()
        except BaseException:
            self.lanes.end()  # the request will not be sent: the others must not wait for it
            raise

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
                self.alone = True
                self.request.samples = 1
                self.lanes.broadcast(_ALONE)  # type: ignore[arg-type]
                yield from super().events()
        finally:
            self.lanes.end()


def _refused(event: Event, fan: FanOut | None) -> bool:
    """An HTTP 400 for a parameter, before any answer: the request as sent was refused (n,
    for this model). Not a refused prompt (data inspection): that would be refused alone too."""
    error = getattr(event, "error", None)
    code = str(getattr(error, "code", None) or "").lower().replace("_", "")
    return (
        isinstance(event, Failed)
        and getattr(error, "status", None) == 400
        and "invalidparameter" in code
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
        ended = False  # its Finished or Failed came: anything after it is not its own
        while True:
            event = lane.get()
            if event is _END:
                if not (ended or self.stopped):
                    yield Failed(ServiceError("internal", UNANSWERED))
                return
            if event is _ALONE:
                yield from self._alone()
                return
            if not ended:
                ended = isinstance(event, Finished | Failed)
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
            lanes = Lanes(requests[index : index + request.samples])
            providers[index] = SamplesProvider(request, lanes)
            for lane in range(1, request.samples):
                providers[index + lane] = Follower(requests[index + lane], lanes, lane)
            index += request.samples
        else:
            index += 1
    return providers
