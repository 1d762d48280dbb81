"""Cases and safety plans over HTTP.

Thin handlers: the policies in `safety_plans.deps` say who may use cases at all (a second factor,
never a token, never an admin), its gate decides on each case and audits every read and every
refusal; the service decides what happens.
"""

from __future__ import annotations

from core.routing import Router
from safety_plans.router import cases, export, plans, sharing

router = Router()
router.include_router(cases.router)
router.include_router(plans.router)
router.include_router(sharing.router)
router.include_router(export.router)

__all__ = ["router"]
