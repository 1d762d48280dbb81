"""Notifications' error messages: written by us, never echoing an address or a body."""

from __future__ import annotations

MESSAGE_NOT_FOUND = "No such notification."
CONTACT_NOT_FOUND = "No such contact."
NOT_DEAD = "Only a dead-lettered notification can be retried."
NOT_A_WEBHOOK = "Only a webhook contact has a signing secret."
NO_NULLS = "Leave a field out to keep it; it cannot be set to null."
NOT_AN_EMAIL = "address: is not a valid e-mail address"
NOT_HTTPS = "address: a webhook must be an https:// URL"
CREDENTIALS_IN_URL = "address: a webhook URL must not carry credentials"
NOT_PUBLIC = "address: a webhook must point to a public host"
BAD_SIGNATURE = "The request signature is missing or wrong."
