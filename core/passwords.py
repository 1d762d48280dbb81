"""Password hashing (argon2id) and the password policy."""

from __future__ import annotations

import itertools
import re
import secrets
from functools import lru_cache
from importlib import resources

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from core.config import Settings

_GENERATED_ALPHABET = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789"


def make_hasher(settings: Settings) -> PasswordHash:
    """An argon2id hasher with the configured cost; older hashes verify and are rehashed."""
    return PasswordHash(
        (
            Argon2Hasher(
                memory_cost=settings.argon2_memory_kib,
                time_cost=settings.argon2_time_cost,
                parallelism=settings.argon2_parallelism,
            ),
        )
    )


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The refused list: common passwords and their obvious padded forms, lower-cased."""
    text = resources.files("core").joinpath("data/common_passwords.txt").read_text("utf-8")
    return frozenset(
        line.strip().lower() for line in text.splitlines() if line.strip() and line[0] != "#"
    )


# Keyboard walks, row by row and across rows (QWERTY and the QWERTZ of the Western Balkans).
_KEYBOARD_ROWS = (
    "1234567890",
    "qwertyuiopasdfghjklzxcvbnm",
    "qwertzuiopasdfghjklyxcvbnm",
    "1234567890qwertyuiop",
    "1234567890qwertzuiop",
    "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p",
    "0987654321",
    "mnbvcxzlkjhgfdsapoiuytrewq",
)
_PADDING = re.compile(r"^(?P<core>.*?)[\d\W_]*$")


def _is_sequence(text: str) -> bool:
    """All one character, a short pattern repeated, or a run along the alphabet or a keyboard."""
    if len(set(text)) <= 2:
        return True
    if any(
        text == text[:size] * (len(text) // size) + text[: len(text) % size] for size in range(1, 5)
    ):
        return True
    steps = {ord(b) - ord(a) for a, b in itertools.pairwise(text)}
    if steps <= {1} or steps <= {-1}:
        return True
    return any(text in row * 2 for row in _KEYBOARD_ROWS)


def password_problem(
    password: str, *, min_length: int, personal: tuple[str, ...] = ()
) -> str | None:
    """Why a new password is refused, or None when it is acceptable."""
    if len(password) < min_length:
        return f"the password must be at least {min_length} characters long"
    if len(password) > 256:
        return "the password must be at most 256 characters long"
    lowered = password.lower()
    refused = common_passwords()
    padded = _PADDING.match(lowered)
    core = padded.group("core") if padded else lowered
    squeezed = "".join(c for c in lowered if c.isalnum())
    if lowered in refused or core in refused or squeezed in refused:
        return "the password is too common; choose a longer phrase of unrelated words"
    if _is_sequence(lowered) or (len(core) >= 6 and _is_sequence(core)):
        return "the password is a simple sequence; choose a longer phrase of unrelated words"
    for value in personal:
        piece = value.lower().split("@")[0]
        if len(piece) >= 4 and piece in lowered:
            return "the password must not contain your name or e-mail address"
    return None


def generate_password(length: int = 20) -> str:
    """A random password for one-time use (about 115 bits for 20 characters)."""
    return "".join(secrets.choice(_GENERATED_ALPHABET) for _ in range(length))
