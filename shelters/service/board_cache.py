"""Bed boards and the network's free beds, kept in this process while what they were read from
stands.

Every night shift opens the bed board and the network's free beds, over and over, and they seldom
change: a board read at an instant is kept with the shelter's board version then
(`shelter.board_version`, drawn anew by every flush that changes what the board is read from:
`shelters.models.free_beds`) and the first instant after it at which a hold in force ends (or a
period begins: one written by a process whose clock runs ahead). A
later request gets the kept board when the version it reads is the same and its instant lies in
that window; otherwise the board is read again. The network's answer is kept the same way, under
the number of shelters and the sum of their versions (any committed change draws a new version,
so the sum moves) and the first end (or start) of any period of the network after it.

Nothing is kept from a session that has written a board's rows in its transaction (its reads are
not yet anyone else's: `free_beds.WROTE_BOARD`), and nothing for longer than `MAX_AGE`, whatever
the versions say (a database restored under a running process). Names stay sealed in what is kept:
they are opened for each answer, as before. Each process keeps its own (a few hundred kilobytes
for a network of 500 shelters); a write in one process is seen by the others at their next read
of the version, which every request makes.

`window_until` and `still_good` are the rule, pure; `Kept` is the store, safe across threads.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from sqlmodel import Session

from shelters.models.free_beds import WROTE_BOARD

# However sure the versions are, a kept answer is read again after this long.
MAX_AGE = timedelta(minutes=1)
BOARDS = 4096  # shelters whose board a process keeps (the least recently read go first)
ANSWERS = 512  # distinct questions to the network a process keeps the answer to

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


# --- the rule (pure) --------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """What a kept answer was read at: the version, the instant, and the first instant at which
    it may no longer be the answer."""

    version: Hashable
    read_at: datetime
    until: datetime


def window_until(read_at: datetime, changes: Iterable[datetime | None]) -> datetime:
    """The first instant after `read_at` at which an answer read then may change with nothing
    written: the earliest of `changes` after it (a hold's end; a period's start, which only a
    writer's clock ahead of the reader's puts after it); at most `MAX_AGE` after it."""
    later = [change for change in changes if change is not None and change > read_at]
    return min([read_at + MAX_AGE, *later])


def still_good(window: Window, *, version: Hashable, now: datetime) -> bool:
    """Whether an answer kept with `window` is the answer at `now`, at `version`."""
    return window.version == version and window.read_at <= now < window.until


def may_keep(session: Session) -> bool:
    """Whether what this session reads may be kept or taken from what is kept: not when its own
    transaction has written rows a board is read from."""
    return not session.info.get(WROTE_BOARD, False)


# --- the store --------------------------------------------------------------------------------


class Kept(Generic[K, V]):
    """Answers by key, each with its window, the `size` most recently read."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._items: OrderedDict[K, tuple[Window, V]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: K, *, version: Hashable, now: datetime) -> V | None:
        with self._lock:
            found = self._items.get(key)
            if found is None or not still_good(found[0], version=version, now=now):
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return found[1]

    def put(self, key: K, window: Window, value: V) -> None:
        with self._lock:
            self._items[key] = (window, value)
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)
