"""Dependency aliases shared by every router: `SessionDep`, `ClockDep`, `SettingsDep`.

The dependencies that only read the app's state are `async def`: FastAPI runs a plain `def`
dependency in a worker thread, and each such hop costs a request about a quarter of a
millisecond of waiting for nothing. Those that touch the database stay in a worker thread.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated

import anyio
import anyio.to_thread
from fastapi import Depends, Request
from pwdlib import PasswordHash
from sqlmodel import Session

from core.clock import Clock
from core.config import Settings
from core.crypto import FieldCipher
from core.db import READ_METHODS
from core.logs import current_request_id


async def get_session(request: Request) -> AsyncIterator[Session]:
    """The request's unit of work: committed before the response is sent, or rolled back.

    Opening it only builds a `Session` (it takes a connection at its first query, in the worker
    thread of the dependency or route that queries), so it is opened here; closing it commits
    or rolls back, which waits on the database, so that runs in a worker thread."""
    state = request.app.state
    open_unit = state.unit_of_work
    if (
        request.method in READ_METHODS
        and state.read_unit_of_work is not None
        and open_unit is state.own_unit_of_work
    ):
        open_unit = state.read_unit_of_work  # autocommit until it writes (`read_engine`)
    unit = open_unit()
    session: Session = unit.__enter__()
    # As FastAPI closes a plain generator dependency: shielded from the request's cancellation
    # (a client gone, a server shutting down), so the session is always closed and its
    # connection returned, and on a limiter of its own, so the close never waits for a worker
    # thread that may itself be waiting for a connection.
    limiter = anyio.CapacityLimiter(1)
    try:
        yield session
    except BaseException as exc:
        with anyio.CancelScope(shield=True):
            kept = await anyio.to_thread.run_sync(
                unit.__exit__, type(exc), exc, exc.__traceback__, limiter=limiter
            )
        if not kept:
            raise
    else:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(unit.__exit__, None, None, None, limiter=limiter)


async def get_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


async def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_hasher(request: Request) -> PasswordHash:
    hasher: PasswordHash = request.app.state.hasher
    return hasher


async def get_cipher(request: Request) -> FieldCipher:
    cipher: FieldCipher = request.app.state.cipher
    return cipher


async def get_request_id() -> str | None:
    return current_request_id()


async def get_now(request: Request) -> datetime:
    """The request's instant: the clock read once, so every rule in the request agrees."""
    now: datetime = request.app.state.clock.now()
    return now


# scope="function": the commit runs when the handler returns and before the response is sent,
# so a failed commit is answered as an error rather than as a success that was never stored.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
ClockDep = Annotated[Clock, Depends(get_clock)]
NowDep = Annotated[datetime, Depends(get_now)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
HasherDep = Annotated[PasswordHash, Depends(get_hasher)]
RequestIdDep = Annotated[str | None, Depends(get_request_id)]
CipherDep = Annotated[FieldCipher, Depends(get_cipher)]
