"""Sealed fields: AES-256-GCM with key ids, so keys can be rotated without losing data."""

from __future__ import annotations

import base64

import pytest

from core.crypto import CryptoError, FieldCipher, Sealed, parse_keys

OLD = bytes(range(32))
NEW = bytes(range(32, 64))
HASH_KEY = bytes(32)


def test_data_sealed_under_an_older_key_still_opens_after_rotation() -> None:
    before = FieldCipher({"k1": OLD}, hash_key=HASH_KEY)
    sealed = before.seal("+61491570156", context="hotline_call.caller")
    after = FieldCipher({"k2": NEW, "k1": OLD}, hash_key=HASH_KEY)
    assert sealed.key_id == "k1"
    assert after.open(sealed, context="hotline_call.caller") == "+61491570156"
    assert after.seal("x", context="c").key_id == "k2"
    # The fingerprint for spotting repeat callers does not change with the encryption keys.
    assert before.keyed_hash("+61491570156", purpose="caller") == after.keyed_hash(
        "+61491570156", purpose="caller"
    )


def test_tampering_a_wrong_context_or_a_dropped_key_is_refused() -> None:
    cipher = FieldCipher({"k1": OLD}, hash_key=HASH_KEY)
    sealed = cipher.seal("+61491570156", context="hotline_call.caller")
    flipped = Sealed(sealed.key_id, sealed.blob[:-1] + bytes([sealed.blob[-1] ^ 1]))
    with pytest.raises(CryptoError):
        cipher.open(flipped, context="hotline_call.caller")
    with pytest.raises(CryptoError):
        cipher.open(sealed, context="hotline_call.recording")
    with pytest.raises(CryptoError, match="not configured"):
        FieldCipher({"k2": NEW}, hash_key=HASH_KEY).open(sealed, context="hotline_call.caller")
    # Two seals of the same value differ (fresh nonce), so equal numbers cannot be spotted.
    assert cipher.seal("a", context="c").blob != cipher.seal("a", context="c").blob


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "at least one key"),
        ("nokey", "key_id:base64key"),
        ("k1:!!!", "not valid base64"),
        ("k1:" + base64.b64encode(bytes(16)).decode(), "must be 32 bytes"),
        (f"k1:{base64.b64encode(OLD).decode()},k1:{base64.b64encode(NEW).decode()}", "twice"),
    ],
)
def test_bad_key_settings_are_refused(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_keys(spec)
