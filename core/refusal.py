"""A refusal that is itself recorded: the request's writes so far (its audit event) commit, then
the caller gets the error.

Most errors undo the request's unit of work. A read refused by a gate that must be audited
("every refused attempt is audited") raises `AuditedNotFound` instead: `core.db.unit_of_work`
commits what the unit holds (the refusal's audit event: gates run before the route, so nothing
else has been written) and the caller gets 404, exactly as for a case that does not exist.
"""

from __future__ import annotations

from core.errors import Forbidden, NotFound


class AuditedNotFound(NotFound):
    """404 "Not found.", with the unit of work's audit of the refused attempt kept."""

    keeps_writes = True


class AuditedForbidden(Forbidden):
    """403 with a message, with the unit of work's audit of the refused attempt kept (for a
    caller who may know the row exists but not do this with it)."""

    keeps_writes = True
