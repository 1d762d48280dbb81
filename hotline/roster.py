"""The last known roster, kept in memory and in a local file, for when the database fails.

Refreshed every minute from the database. When a voice webhook cannot reach the database in
time, it dials from here, then the last-resort numbers from settings: a call always reaches a
human if anyone is reachable at all.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session, select

from core.config import Settings
from hotline.models import Hotline, RungKind
from hotline.routing import Rung
from hotline.service import ladder_for

log = logging.getLogger("sigurna.hotline.roster")


@dataclass
class CachedHotline:
    twilio_number: str
    language: str
    plan: list[dict[str, Any]]


@dataclass
class RosterCache:
    """Thread-safe; one per process."""

    path: Path
    last_resort: tuple[str, ...]
    _hotlines: dict[str, CachedHotline] = field(default_factory=dict)
    _refreshed_at: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def load_file(self) -> None:
        """Start from the file a previous process wrote, if any (the database may be down now)."""
        try:
            data = json.loads(self.path.read_text("utf-8"))
        except (OSError, ValueError):
            return
        hotlines = {
            h["twilio_number"]: CachedHotline(h["twilio_number"], h["language"], h["plan"])
            for h in data.get("hotlines", [])
        }
        with self._lock:
            self._hotlines = hotlines
            self._refreshed_at = data.get("refreshed_at")

    def refresh(self, session: Session, *, settings: Settings, now: datetime) -> int:
        """Recompute every hotline's duty ladder for `now`; write memory, then the file."""
        hotlines: dict[str, CachedHotline] = {}
        for hotline in session.exec(select(Hotline)).all():
            # The duty ladder, never the office: if the database is down, the office may be too.
            _, plan = ladder_for(session, settings=settings, hotline=hotline, at=now)
            duty = [r.to_json() for r in plan if r.kind is not RungKind.OFFICE]
            hotlines[hotline.twilio_number] = CachedHotline(
                hotline.twilio_number, str(hotline.language), duty
            )
        with self._lock:
            self._hotlines = hotlines
            self._refreshed_at = now.isoformat()
        self._write()
        return len(hotlines)

    def _write(self) -> None:
        with self._lock:
            payload = {
                "refreshed_at": self._refreshed_at,
                "hotlines": [vars(h) for h in self._hotlines.values()],
            }
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Staff duty numbers: readable by the service account only; replaced atomically.
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".roster-")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(payload, handle)
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except OSError as exc:
            log.warning("roster cache file not written", extra={"error_type": type(exc).__name__})

    def language(self, twilio_number: str) -> str:
        with self._lock:
            cached = self._hotlines.get(twilio_number)
        return cached.language if cached else "en"

    def fallback_plan(self, twilio_number: str) -> tuple[Rung, ...]:
        """The cached duty ladder for a number, then the settings' last-resort numbers."""
        with self._lock:
            cached = self._hotlines.get(twilio_number)
        rungs = [Rung.from_json(r) for r in cached.plan] if cached else []
        tried = {n for r in rungs for n in r.numbers}
        extra = tuple(n for n in self.last_resort if n not in tried)
        if extra:
            rungs.append(Rung(RungKind.LAST_RESORT, extra, (None,) * len(extra), 25))
        return tuple(rungs)

    @property
    def refreshed_at(self) -> str | None:
        return self._refreshed_at


def make_cache(settings: Settings) -> RosterCache:
    cache = RosterCache(settings.roster_cache_path, tuple(settings.hotline_last_resort_numbers))
    cache.load_file()
    return cache
