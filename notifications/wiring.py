"""What notifications plugs into the application: the transports chosen at start-up (and their
typed accessor), the webhook client closed at shut-down, and the security notices it sends when
core publishes `AccountUnderAttack`."""

from __future__ import annotations

from fastapi import FastAPI

from core import events, sealed
from core.events import AccountUnderAttack
from notifications import security, service
from notifications.channels import SignedWebhook, Transports, transports_from_settings
from notifications.models import Channel


def configure(app: FastAPI) -> None:
    """The transports chosen at start-up (tests replace them)."""
    app.state.transports = transports_from_settings(app.state.settings, app.state.clock)


def on_shutdown(app: FastAPI) -> None:
    webhook = transports(app).get(Channel.WEBHOOK)
    if isinstance(webhook, SignedWebhook):
        webhook.close()


def wire() -> None:
    events.subscribe(AccountUnderAttack, security.account_under_attack)
    sealed.register(
        sealed.pair("notification_contact", "secret", service.SECRET_CONTEXT),
        sealed.pair("outbox_message", "secret", service.SECRET_CONTEXT),
    )


def transports(app: FastAPI) -> Transports:
    """The delivery transports, by channel."""
    found: Transports = app.state.transports
    return found
