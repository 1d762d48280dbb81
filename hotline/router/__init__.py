"""The hotline's routes: Twilio's voice webhooks, and the staff API (hotlines, closures and duty
phones; the rota; calendar feeds; the call log and callback tasks)."""

from __future__ import annotations

from core.routing import Router
from hotline.router import calls, feeds, hotlines, rota, voice

router = Router()
router.include_router(voice.router)
router.include_router(hotlines.router)
router.include_router(rota.router)
router.include_router(feeds.router)
router.include_router(calls.router)
