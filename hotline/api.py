"""The hotline's staff API: hotlines, closures, duty phones, the rota and calendar feeds."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["hotline"])
