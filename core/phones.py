"""Phone numbers: parsed and checked with `phonenumbers`, stored in E.164."""

from __future__ import annotations

import phonenumbers


def to_e164(raw: str, *, region: str | None = None, mobile_only: bool = False) -> str:
    """The E.164 form of a valid number; ValueError with a message safe to show otherwise."""
    try:
        parsed = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError("is not a phone number; write it as +61491570146") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError("is not a valid phone number for its country")
    if mobile_only and phonenumbers.number_type(parsed) not in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    ):
        raise ValueError(
            "must be a mobile number (for trials use the fictional mobile range"
            " +61 491 570 000 to +61 491 570 999)"
        )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def last_two(number: str) -> str:
    """What lists may show of a caller's number."""
    digits = [c for c in number if c.isdigit()]
    return "".join(digits[-2:]) if len(digits) >= 2 else ""
