"""Dependency aliases shared by every router: `SessionDep`, `ClockDep`, `SettingsDep`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from pwdlib import PasswordHash
from sqlmodel import Session

from core.clock import Clock
from core.config import Settings
from core.crypto import FieldCipher
from core.logs import current_request_id


def get_session(request: Request) -> Iterator[Session]:
    """The request's unit of work: committed before the response is sent, or rolled back."""
    with request.app.state.unit_of_work() as session:
        yield session


def get_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_hasher(request: Request) -> PasswordHash:
    hasher: PasswordHash = request.app.state.hasher
    return hasher


def get_cipher(request: Request) -> FieldCipher:
    cipher: FieldCipher = request.app.state.cipher
    return cipher


def get_request_id() -> str | None:
    return current_request_id()


def get_now(request: Request) -> datetime:
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
