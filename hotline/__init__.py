"""Hotline: after-hours SOS calls reach the on-duty counselor through Twilio."""
