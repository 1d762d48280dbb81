"""Rows that belong to an organisation, looked up as the access rules want them.

Another organisation's row answers exactly as a missing one (404 "Not found."), so that its
existence is never confirmed; `lock` takes the row lock (and refreshes the row) for a change.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Iterable
from operator import attrgetter
from typing import Any, TypeVar

from sqlmodel import Session, SQLModel, col, select

from core.errors import NotFound

M = TypeVar("M", bound=SQLModel)

NOT_FOUND = "Not found."


def get_owned(
    session: Session,
    model: type[M],
    row_id: uuid.UUID,
    *,
    organisation_id: uuid.UUID,
    owner: Callable[[M], uuid.UUID | None] = lambda row: getattr(row, "organisation_id", None),
    lock: bool = False,
    message: str = NOT_FOUND,
) -> M:
    """The row `row_id` of `model` if `owner(row)` is the organisation; else 404."""
    query = select(model).where(col(getattr(model, "id")) == row_id)  # noqa: B009
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    row = session.exec(query).first()
    if row is None or owner(row) != organisation_id:
        raise NotFound(message)
    return row


def new_reference(session: Session, column: Any, prefix: str, *, hex_digits: int = 8) -> str:
    """A human reference such as "ST-3F9A0C12", unused in `column` (retried on the rare clash)."""
    while True:
        reference = prefix + secrets.token_hex(hex_digits // 2).upper()
        if session.exec(select(column).where(column == reference)).first() is None:
            return reference


def by_id(session: Session, model: type[M], ids: Iterable[uuid.UUID | None]) -> dict[uuid.UUID, M]:
    """The rows of `model` with these ids (None skipped), by id: one query for a batch."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    key = attrgetter("id")
    rows = session.exec(select(model).where(col(key(model)).in_(wanted))).all()
    return {key(row): row for row in rows}
