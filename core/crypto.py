"""Field encryption (AES-256-GCM with key ids, for rotation) and keyed hashes for matching.

Personal data such as a caller's number is stored as `key_id` + nonce + ciphertext; a keyed hash
(HMAC-SHA256 under a separate derived key) lets us spot a repeat caller without decrypting.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from core.config import Settings

NONCE_BYTES = 12


class CryptoError(Exception):
    """Data cannot be decrypted: unknown key id, or tampered ciphertext."""


@dataclass(frozen=True)
class Sealed:
    key_id: str
    blob: bytes  # nonce + ciphertext + tag


def parse_keys(spec: str) -> dict[str, bytes]:
    """`kid:base64key[,kid:base64key...]`, each key 32 bytes; the first is the active one."""
    keys: dict[str, bytes] = {}
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        key_id, _, encoded = part.partition(":")
        if not key_id or not encoded:
            raise ValueError("each key must be written as key_id:base64key")
        try:
            key = base64.b64decode(encoded, validate=True)
        except ValueError as exc:
            raise ValueError(f"key {key_id!r} is not valid base64") from exc
        if len(key) != 32:
            raise ValueError(f"key {key_id!r} must be 32 bytes (AES-256), got {len(key)}")
        if key_id in keys:
            raise ValueError(f"key id {key_id!r} appears twice")
        keys[key_id] = key
    if not keys:
        raise ValueError("at least one key is required")
    return keys


def derive_key(secret: str, purpose: str) -> bytes:
    """A 32-byte key for `purpose`, derived from a secret (HKDF-SHA256)."""
    return HKDF(algorithm=SHA256(), length=32, salt=None, info=purpose.encode()).derive(
        secret.encode()
    )


class FieldCipher:
    """Seal and open small fields; new data always uses the first (active) key."""

    def __init__(self, keys: dict[str, bytes], *, hash_key: bytes) -> None:
        if not keys:
            raise ValueError("at least one key is required")
        self._keys = dict(keys)
        self.active_key_id = next(iter(keys))
        self._hash_key = hash_key

    def seal(self, plaintext: str, *, context: str) -> Sealed:
        """Encrypt; `context` (e.g. the table and column) is bound as associated data."""
        nonce = os.urandom(NONCE_BYTES)
        aead = AESGCM(self._keys[self.active_key_id])
        blob = nonce + aead.encrypt(nonce, plaintext.encode(), context.encode())
        return Sealed(self.active_key_id, blob)

    def open(self, sealed: Sealed, *, context: str) -> str:
        """Decrypt with the key the data was sealed with."""
        key = self._keys.get(sealed.key_id)
        if key is None:
            raise CryptoError("the key this value was sealed with is not configured")
        nonce, body = sealed.blob[:NONCE_BYTES], sealed.blob[NONCE_BYTES:]
        try:
            return AESGCM(key).decrypt(nonce, body, context.encode()).decode()
        except Exception as exc:  # InvalidTag: wrong key or tampered data
            raise CryptoError("the value cannot be decrypted") from exc

    def seal_json(self, value: object, *, context: str) -> Sealed:
        """Seal a JSON document (a few fields sealed together)."""
        return self.seal(json.dumps(value, sort_keys=True), context=context)

    def open_json(self, sealed: Sealed, *, context: str) -> Any:
        return json.loads(self.open(sealed, context=context))

    def seal_pair(self, value: str, *, context: str) -> tuple[str, bytes]:
        """A value sealed as the (key id, blob) pair that `<field>_key_id`/`<field>_sealed`
        columns hold."""
        sealed = self.seal(value, context=context)
        return sealed.key_id, sealed.blob

    def seal_optional(self, value: str | None, *, context: str) -> tuple[str | None, bytes | None]:
        """Like `seal_pair`, with (None, None) for no value."""
        return self.seal_pair(value, context=context) if value is not None else (None, None)

    def open_pair(self, key_id: str | None, blob: bytes | None, *, context: str) -> str | None:
        """The value of a (key id, blob) pair; None for none."""
        if key_id is None or blob is None:
            return None
        return self.open(Sealed(key_id, blob), context=context)

    @property
    def key_ids(self) -> tuple[str, ...]:
        """The configured key ids, the active one first."""
        return tuple(self._keys)

    def reseal(self, sealed: Sealed, *, context: str) -> Sealed:
        """The same value sealed again under the active key (key rotation); `CryptoError` when it
        cannot be opened."""
        return self.seal(self.open(sealed, context=context), context=context)

    def keyed_hash(self, value: str, *, purpose: str) -> str:
        """A stable, non-reversible fingerprint of `value` for matching equal values."""
        return hmac.new(self._hash_key, f"{purpose}\n{value}".encode(), hashlib.sha256).hexdigest()


def cipher_from_settings(settings: Settings) -> FieldCipher:
    """The cipher for the configured keys (development derives one from the secret key)."""
    secret = settings.secret_key.get_secret_value() if settings.secret_key else ""
    configured = settings.encryption_keys.get_secret_value() if settings.encryption_keys else ""
    keys = parse_keys(configured) if configured.strip() else {"dev": derive_key(secret, "fields")}
    return FieldCipher(keys, hash_key=derive_key(secret, "keyed-hash"))
