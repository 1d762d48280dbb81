"""Group commit for new calls: one writer thread inserts the calls of many requests per
transaction and wakes each request once its row is durable.

The voice webhook's cost is then its TwiML and a queue hand-off, not a thread and a
transaction of its own: under load many calls share one INSERT and one COMMIT.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from concurrent.futures import Future
from typing import Any

from core.db import UnitOfWork
from hotline.service import record_calls

log = logging.getLogger("sigurna.hotline.writer")

MAX_BATCH = 128
MAX_WAITING = 5_000
_STOP: Any = object()


class WriterBusy(RuntimeError):
    """Too many calls are waiting for the database: answer this one from the roster."""


class CallWriter:
    def __init__(self, unit_of_work: UnitOfWork) -> None:
        self._unit_of_work = unit_of_work
        self._queue: queue.Queue[tuple[dict[str, Any], Future[list[dict[str, Any]]]]] = queue.Queue(
            MAX_WAITING
        )
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    async def record(self, values: dict[str, Any]) -> list[dict[str, Any]]:
        """Insert a call (or find the one with the same CallSid); returns its plan."""
        self._ensure_thread()
        future: Future[list[dict[str, Any]]] = Future()
        try:
            self._queue.put_nowait((values, future))
        except queue.Full as exc:
            raise WriterBusy from exc
        return await asyncio.wrap_future(future)

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="call-writer", daemon=True)
                self._thread.start()

    def close(self) -> None:
        """Stop the writer thread once the calls already handed over are written."""
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            batch = [item]
            while len(batch) < MAX_BATCH:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is _STOP:
                    self._queue.put(more)
                    break
                batch.append(more)
            live = [(values, future) for values, future in batch if not future.cancelled()]
            if not live:
                continue
            try:
                with self._unit_of_work() as session:
                    plans = record_calls(session, [values for values, _ in live])
            except Exception as exc:  # each waiter answers from the roster instead
                log.warning(
                    "call batch not written",
                    extra={"error_type": type(exc).__name__, "count": len(live)},
                )
                for _, future in live:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for values, future in live:
                if not future.done():
                    future.set_result(plans[values["call_sid"]])
