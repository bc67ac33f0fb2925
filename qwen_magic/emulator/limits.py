"""Service-like pacing for the emulator: each answer's latency and token rate, and a rate
limit that answers 429 with ``Retry-After`` beyond N requests per second.

``emu.limits = Limits(latency=0.5)`` makes every answer wait half a second before its first
byte (as a busy model would); ``token_rate=50`` streams 50 frames a second;
``requests_per_second=8`` refuses the ninth request of any one-second window with the
service's own throttling body. ``peak`` is the most answers the server was serving at once
(what a client's concurrency really was), ``throttled`` how many 429s it sent.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from qwen_magic.emulator.faults import ApiError, throttling
from qwen_magic.emulator.replies import Reply


@dataclass
class Limits:
    latency: float = 0.0  # seconds before each answer's first byte
    token_rate: float | None = None  # frames per second, for replies without their own delay
    requests_per_second: int | None = None  # beyond this in any 1 s window: 429
    window: float = 1.0  # seconds (the "per second" of requests_per_second)
    served: int = 0  # generation requests admitted
    throttled: int = 0  # 429s sent
    in_flight: int = 0
    peak: int = 0
    _admitted: deque[float] = field(default_factory=deque, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def admit(self) -> ApiError | None:
        """Count one generation request: the 429 to send, or None (then it is in flight until
        ``leave``)."""
        with self._lock:
            now = time.monotonic()
            rate = self.requests_per_second
            if rate is not None:
                while self._admitted and now - self._admitted[0] >= self.window:
                    self._admitted.popleft()
                if len(self._admitted) >= rate:
                    self.throttled += 1
                    wait = self.window - (now - self._admitted[0])
                    return throttling(str(max(1, math.ceil(wait))))
                self._admitted.append(now)
            self.served += 1
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            return None

    def leave(self) -> None:
        with self._lock:
            self.in_flight = max(0, self.in_flight - 1)

    def paced(self, reply: Reply) -> Reply:
        """The reply with the token rate as its frame delay (a reply's own delay wins)."""
        if self.token_rate and not reply.delay:
            return dataclasses.replace(reply, delay=1.0 / self.token_rate)
        return reply
