"""Notifications: a transactional outbox and the channels that deliver it."""
