"""What the voice routes keep in the process: the circuit breaker in front of the database,
counters, acceptances seen while degraded, the journal and the key of the number tags."""

from __future__ import annotations

import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable

import anyio

from hotline.journal import VoiceJournal
from hotline.roster import RosterCache
from hotline.routing import number_tag


class Breaker:
    """Stops calls waiting on a database that just failed: after 3 failures in a row, calls are
    answered from the roster at once for 5 seconds; then one call at a time tries again."""

    def __init__(
        self,
        *,
        threshold: int = 3,
        cooldown: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._threshold = threshold
        self._cooldown = cooldown
        self._monotonic = monotonic
        self._failures = 0
        self._open_until = 0.0
        self._probing = False
        self._lock = threading.Lock()

    def allow(self) -> bool:
        with self._lock:
            if self._failures < self._threshold:
                return True
            if self._monotonic() < self._open_until or self._probing:
                return False
            self._probing = True  # half-open: this request alone tries the database
            return True

    def succeeded(self) -> None:
        with self._lock:
            self._failures = 0
            self._probing = False

    def failed(self) -> None:
        with self._lock:
            self._failures += 1
            self._probing = False
            if self._failures >= self._threshold:
                self._open_until = self._monotonic() + self._cooldown

    def done(self) -> None:
        """The attempt ended for a reason that says nothing about the database."""
        with self._lock:
            self._probing = False


class VoiceState:
    """What the voice routes keep in the process: counters, acceptances seen while degraded, the
    journal of what was answered without the database, and the key of the number tags."""

    def __init__(
        self,
        roster: RosterCache,
        journal: VoiceJournal,
        *,
        threads: int,
        tag_key: bytes,
    ) -> None:
        self.roster = roster
        self.journal = journal
        self.counters: Counter[str] = Counter()
        self._accepted: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.Lock()
        self.limiter = anyio.CapacityLimiter(threads)
        self.breaker = Breaker()
        self._tag_key = tag_key

    def count(self, name: str) -> int:
        with self._lock:
            self.counters[name] += 1
            return self.counters[name]

    def remember_acceptance(self, call_sid: str, rung: int) -> None:
        with self._lock:
            self._accepted[call_sid] = rung
            while len(self._accepted) > 10_000:
                self._accepted.popitem(last=False)

    def accepted_rung(self, call_sid: str) -> int | None:
        with self._lock:
            return self._accepted.get(call_sid)

    def tag(self, number: str) -> str:
        return number_tag(self._tag_key, number)

    def tags(self, numbers: tuple[str, ...]) -> frozenset[str]:
        return frozenset(self.tag(n) for n in numbers)
