"""Forms: read a posted form (its token checked first) into the API's own request body.

A console form posts the same fields as the API's JSON body, so the API's models validate it
and its services act on it: the console has no rules of its own. Empty fields are left out (the
model's default applies); fields that may repeat (checkboxes, several children) become lists.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any, TypeVar
from zoneinfo import ZoneInfo

from fastapi import Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, BeforeValidator, ValidationError
from sqlmodel import Session
from starlette.datastructures import FormData

from console.security import FORM_FIELD, check_form
from core.db import keeps_writes
from core.errors import AppError, InvalidInput, describe_validation_errors

Model = TypeVar("Model", bound=BaseModel)
Result = TypeVar("Result")


async def checked_form(request: Request) -> FormData:
    """The posted form, refused (403) unless it carries this browser's token."""
    form = await request.form()
    check_form(request, form)
    return form


Form = Annotated[FormData, Depends(checked_form)]


def values(form: FormData, *, lists: tuple[str, ...] = ()) -> dict[str, Any]:
    """The form's fields as a body: the token left out, empty fields dropped, `lists` as lists."""
    data: dict[str, Any] = {}
    for key in form:
        if key == FORM_FIELD:
            continue
        found = [v for v in form.getlist(key) if isinstance(v, str) and v.strip() != ""]
        if key in lists:
            data[key] = [v.strip() for v in found]
        elif found:
            data[key] = found[-1].strip()
    return data


def parse(model: type[Model], data: Mapping[str, Any]) -> Model:
    """The API's body model from form values; a clear 422 naming the field when it is wrong."""
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        raise InvalidInput(describe_validation_errors(list(exc.errors()))) from None


@contextmanager
def attempt(session: Session) -> Iterator[None]:
    """A form's act as its API route's unit of work would end it.

    The page catches an `AppError` to show it, so the request's unit of work commits: the act
    runs in a savepoint, undone when it fails (except what an audited refusal must keep), and
    nothing half-done is ever committed.
    """
    savepoint = session.begin_nested()
    try:
        yield
    except BaseException as exc:
        if keeps_writes(exc):
            savepoint.commit()
        else:
            savepoint.rollback()
        raise
    savepoint.commit()


def act(
    session: Session,
    work: Callable[[], Result],
    failed: Callable[[int, str], Response],
    after: Callable[[Result], Response] | Response,
) -> Response:
    """A form's act: `work` (reading the form and calling the API route function) inside
    `attempt(session)`; refused with an `AppError`, `failed(status, message)` (the page again
    with the problem), else `after` (its result in hand: usually a redirect with a done key)."""
    try:
        with attempt(session):
            result = work()
    except AppError as exc:
        return failed(exc.status_code, exc.message)
    return after if isinstance(after, Response) else after(result)


def local_instant(value: object, zone: ZoneInfo, field: str = "time") -> str | None:
    """A `datetime-local` field (the organisation's wall clock) as an ISO instant with its
    offset; one that names its offset is kept; empty: None; a clear 422 naming the field when
    it is no date and time. Inside a DST change the first reading of the wall clock is meant."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(f"{field}: enter a date and time, e.g. 2026-03-02T20:00.") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone, fold=0)
    return parsed.isoformat()


def local_instants(data: dict[str, Any], keys: tuple[str, ...], zone: ZoneInfo) -> None:
    """`local_instant` for each of `keys` present in a form's values, in place; a value that is
    no date and time is left for the API's model to refuse (naming the field)."""
    for key in keys:
        if key in data:
            try:
                data[key] = local_instant(data[key], zone, key)
            except InvalidInput:
                continue


def local_value(instant: datetime | None, zone: ZoneInfo) -> str:
    """An instant as a `datetime-local` field shows it (the organisation's wall clock)."""
    if instant is None:
        return ""
    return instant.astimezone(zone).strftime("%Y-%m-%dT%H:%M")


def _blank_is_none(value: object) -> object:
    return None if value == "" else value


# An optional choice of a form that only reads (method get): its "all" or "any" option sends
# the field empty, which means the same as leaving it out (FastAPI would refuse it, a 422).
BlankIsNone = BeforeValidator(_blank_is_none)
