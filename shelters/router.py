"""The shelters domain's routes."""

from __future__ import annotations

from fastapi import APIRouter

from shelters import api

router = APIRouter()
router.include_router(api.router)
