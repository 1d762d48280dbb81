"""The shelters' HTTP surface: configuration, bed board, stays, assessments, visitors, figures.

Thin handlers: the policy and the shelter gate (`shelters.deps`) decide who gets in, the service
decides what happens. Addresses and names appear only in answers to a shelter's own staff and
its organisation's supervisors.
"""

from __future__ import annotations

from core.routing import Router
from shelters.router import casework, configuration, network, stays, visitors

router = Router()
for part in (configuration, stays, casework, visitors, network):
    router.include_router(part.router)
