"""The voice journal: what the webhooks answered while the database could not be written.

A voice webhook that answers from the cached roster, or whose bookkeeping the database refused,
appends what it did (a rung dialled, a rung ended, an acceptance, a voicemail, a call status) to
a local file before it returns its answer: one JSON line per event, written with O_APPEND and
fsynced. Replaying the file applies each call's events in order through the same services the
webhooks use; every one of them is idempotent by CallSid, so a replay may run twice, in two
processes, or be cut short by a crash, and still records each call once.

Files: `<path>` takes new events; a replay first renames it to `<path>.<ns>.replay` (so events
written meanwhile go to a new file), applies it, then deletes it. A replay file left by a crash
is applied by the next replay. Caller numbers and recording URLs are sealed in the file.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

log = logging.getLogger("sigurna.hotline.journal")

Event = dict[str, Any]


class VoiceJournal:
    """Thread- and process-safe; every process of a deployment may share one path."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    # --- writing ---------------------------------------------------------------------------

    def append(self, *events: Event) -> None:
        """Write the events durably (one write, one fsync) before the caller answers Twilio."""
        data = b"".join(
            json.dumps(e, separators=(",", ":"), sort_keys=True).encode() + b"\n" for e in events
        )
        with self._exclusive():
            created = not self.path.exists()
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    data = b"\n" + data  # a crash tore the last line: keep ours whole
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            if created:
                self._sync_folder()

    # --- reading ---------------------------------------------------------------------------

    def pending(self) -> bool:
        """Whether any event waits to be applied (two stat calls when there is none)."""
        try:
            if self.path.stat().st_size > 0:
                return True
        except FileNotFoundError:
            pass
        return bool(self._replay_files())

    def events_for(self, call_sid: str) -> list[Event]:
        """Every event of one call still in the journal, oldest first."""
        if not call_sid or not self.pending():
            return []
        found: list[Event] = []
        for path in [*self._replay_files(), self.path]:
            found.extend(e for e in read_events(path) if e.get("sid") == call_sid)
        return found

    # --- replaying -------------------------------------------------------------------------

    def take(self) -> list[Path]:
        """Set the current file aside; returns every file waiting to be replayed, oldest first."""
        with self._exclusive():
            try:
                if self.path.stat().st_size > 0:
                    os.replace(self.path, self._replay_name())
                    self._sync_folder()
            except FileNotFoundError:
                pass
        return self._replay_files()

    def discard(self, path: Path) -> None:
        """A replayed file is gone (another process may have removed it first)."""
        try:
            path.unlink()
        except FileNotFoundError:
            return
        self._sync_folder()

    # --- plumbing --------------------------------------------------------------------------

    def _replay_name(self) -> Path:
        return self.path.with_name(f"{self.path.name}.{time.time_ns():020d}.replay")

    def _replay_files(self) -> list[Path]:
        folder = self.path.parent
        prefix = self.path.name + "."
        try:
            names = os.listdir(folder)
        except FileNotFoundError:
            return []
        return sorted(folder / n for n in names if n.startswith(prefix) and n.endswith(".replay"))

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """This process's threads, then other processes (flock on a lock file beside it)."""
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(
                self.path.with_name(self.path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600
            )
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)  # closing releases the lock

    def _sync_folder(self) -> None:
        """Make a file's creation, renaming or removal itself durable."""
        fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def read_events(path: Path) -> list[Event]:
    """The events of one file; a line torn by a crash mid-write is skipped."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return []
    events: list[Event] = []
    torn = 0
    for line in raw.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            torn += 1
            continue
        if isinstance(event, dict) and isinstance(event.get("sid"), str):
            events.append(event)
        else:
            torn += 1
    if torn:
        log.warning("voice journal lines skipped", extra={"count": torn})
    return events
