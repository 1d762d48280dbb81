"""What a route works with, in one parameter: the checked caller, session, instant and cipher.

A route that names a policy and then asks for its session, its clock and its cipher one by one
repeats the same four parameters as every other route. `context(policy)` is one dependency that
checks the policy (exactly as `require(policy)` does, and the route matrix finds it the same way)
and hands the route a `Context`:

    Worker = Annotated[Context, Depends(context(WORK))]

    @router.post("/things/{thing_id}/close")
    def close_thing(thing_id: uuid.UUID, body: Close, ctx: Worker) -> ThingPublic:
        thing = service.close(ctx.session, now=ctx.now, thing_id=thing_id, actor=ctx.actor)
"""

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, NamedTuple

from fastapi import Depends
from sqlmodel import Session

from core.access import Policy, require
from core.audit import Actor
from core.auth import Principal
from core.crypto import FieldCipher
from core.deps import CipherDep, NowDep, SessionDep
from core.errors import Unauthenticated

SESSION_ONLY = "This action needs a signed-in user, not an API token."


class Act(NamedTuple):
    """One person's act in one unit of work, as a service takes it: the session, the instant,
    the audit's actor, the user (None when an API token acts) and the cipher for sealed fields."""

    session: Session
    now: datetime
    actor: Actor
    user_id: uuid.UUID | None
    cipher: FieldCipher


@dataclass(frozen=True)
class Context:
    """The caller (already checked against the route's policy) and what the route works with."""

    principal: Principal
    session: Session
    now: datetime
    cipher: FieldCipher

    @property
    def actor(self) -> Actor:
        return self.principal.actor()

    @property
    def act(self) -> Act:
        return Act(self.session, self.now, self.actor, self.principal.user_id, self.cipher)

    @property
    def user_id(self) -> uuid.UUID:
        """The signed-in user; routes that need a person (not a token) say so by asking."""
        if self.principal.user_id is None:
            raise Unauthenticated(SESSION_ONLY)
        return self.principal.user_id


def context(policy: Policy) -> Callable[..., Awaitable[Context]]:
    """A dependency: check `policy`, then give the route its `Context`."""
    gate = require(policy)

    # `async def`: it only assembles what the gate and the other dependencies have given, and a
    # plain `def` would cost the request a hop to a worker thread for nothing.
    async def dependency(
        principal: Annotated[Principal, Depends(gate)],
        session: SessionDep,
        now: NowDep,
        cipher: CipherDep,
    ) -> Context:
        return Context(principal=principal, session=session, now=now, cipher=cipher)

    return dependency
