"""Referrals over HTTP: the directory, the sender's side, the recipient's inbox and a CSW's
child-protection team.

Thin handlers: the policies and gates in `referrals.deps` decide who gets in; the service
decides what happens. A recipient sees a referral's personal part only as far as the client's
consent (or the law, for a child at risk: to the child-protection team) allows, and every answer
that carries it is an audited read (`referrals.disclosure`).
"""

from __future__ import annotations

from core.routing import Router
from referrals.router import directory, referrals, team

router = Router()
router.include_router(directory.router)
router.include_router(referrals.router)
router.include_router(team.router)

__all__ = ["router"]
