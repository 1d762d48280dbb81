"""Who may do what with notifications: the domain's policies, in one place."""

from typing import Annotated

from fastapi import Depends

from core.access import Policy, Scope
from core.context import Context, context
from core.models import Role

# An organisation's contacts are configuration: its admins and supervisors keep them.
CONTACTS = Policy(Scope.ORGANISATION, frozenset({Role.ADMIN, Role.SUPERVISOR}))
# How delivery went (and retrying a dead letter) is for the sending organisation's supervisors.
DELIVERY = Policy(Scope.ORGANISATION, frozenset({Role.SUPERVISOR}))

ContactKeeper = Annotated[Context, Depends(context(CONTACTS))]
DeliveryWatcher = Annotated[Context, Depends(context(DELIVERY))]
