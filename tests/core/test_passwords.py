"""The password policy, generated one-time passwords and the argon2id hasher's cost."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from core.config import Settings
from core.passwords import generate_password, make_hasher, password_problem

TOO_COMMON = "the password is too common; choose a longer phrase of unrelated words"
SEQUENCE = "the password is a simple sequence; choose a longer phrase of unrelated words"
PERSONAL = "the password must not contain your name or e-mail address"
# Letters and digits that cannot be misread for one another (no 0/O, 1/l/I).
UNAMBIGUOUS = set("abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789")


def test_a_password_shorter_than_the_minimum_is_refused() -> None:
    password = "violet-harb"
    assert len(password) == 11
    assert password_problem(password, min_length=12) == (
        "the password must be at least 12 characters long"
    )


def test_the_minimum_length_is_the_one_configured() -> None:
    password = "violet-harbour-ledger"
    assert password_problem(password, min_length=len(password)) is None
    assert password_problem(password, min_length=len(password) + 1) == (
        f"the password must be at least {len(password) + 1} characters long"
    )


def test_a_password_longer_than_256_characters_is_refused() -> None:
    assert password_problem("violet-harbour-" * 18, min_length=12) == (
        "the password must be at most 256 characters long"
    )


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("password1234", TOO_COMMON),
        ("Password1234!", TOO_COMMON),
        ("correcthorsebatterystaple", TOO_COMMON),
        ("correct horse battery staple", TOO_COMMON),
        ("qwertyuiopas", SEQUENCE),
        ("qwertzuiopas", SEQUENCE),
        ("aaaaaaaaaaaa", SEQUENCE),
        ("abababababab", SEQUENCE),
        ("abcdefghijklmnop", SEQUENCE),
        ("ponmlkjihgfedcba", SEQUENCE),
    ],
)
def test_common_and_simple_passwords_are_refused(password: str, problem: str) -> None:
    assert password_problem(password, min_length=12) == problem


@pytest.mark.parametrize("password", ["123456789012", "1234567890123", "234567890123"])
def test_a_run_along_the_number_row_is_refused(password: str) -> None:
    # "1234567890" is on the refused list and a run along the digits is a simple sequence;
    # continuing the run past 0 ("...9012") makes it no less guessable.
    assert password_problem(password, min_length=12) == SEQUENCE


def test_a_password_containing_the_email_local_part_is_refused() -> None:
    assert (
        password_problem(
            "my-Jelena.Petrovic-lantern", min_length=12, personal=("jelena.petrovic@example.org",)
        )
        == PERSONAL
    )


def test_a_password_containing_the_display_name_is_refused() -> None:
    assert (
        password_problem(
            "violet Jelena Petrovic 91",
            min_length=12,
            personal=("someone@example.org", "Jelena Petrovic"),
        )
        == PERSONAL
    )


def test_a_local_part_shorter_than_four_characters_does_not_count() -> None:
    # Refusing every password containing "ana" would refuse far too many good ones.
    assert password_problem("banana-harbour-ledger", min_length=12, personal=("ana@x.org",)) is None


@pytest.mark.parametrize(
    "password",
    ["violet-harbour-ledger-91", "Jelena.Petrovic-2024", "tram orbit saffron quill"],
)
def test_a_good_passphrase_is_accepted(password: str) -> None:
    assert password_problem(password, min_length=12, personal=("someone@example.org",)) is None


@given(length=st.integers(min_value=12, max_value=128))
def test_generated_passwords_pass_the_policy(length: int) -> None:
    default = generate_password()
    assert len(default) == 20
    assert password_problem(default, min_length=12) is None
    assert set(default) <= UNAMBIGUOUS

    sized = generate_password(length)
    assert len(sized) == length
    assert password_problem(sized, min_length=12) is None
    assert set(sized) <= UNAMBIGUOUS


def test_generated_passwords_differ() -> None:
    assert len({generate_password() for _ in range(50)}) == 50


# --- the hasher ----------------------------------------------------------------------------------


def test_the_hasher_uses_argon2id_with_the_configured_cost() -> None:
    hasher = make_hasher(Settings(argon2_memory_kib=19456, argon2_time_cost=2))
    hashed = hasher.hash("violet-harbour-ledger-91")
    assert "$argon2id$" in hashed
    assert "m=19456,t=2,p=1" in hashed
    assert hasher.verify("violet-harbour-ledger-91", hashed) is True
    assert hasher.verify("violet-harbour-ledger-92", hashed) is False


def test_a_hash_of_a_lower_cost_verifies_and_is_rehashed_at_the_configured_cost() -> None:
    old = make_hasher(Settings(argon2_memory_kib=19456, argon2_time_cost=2))
    new = make_hasher(Settings(argon2_memory_kib=19456, argon2_time_cost=3))
    old_hash = old.hash("violet-harbour-ledger-91")

    valid, updated = new.verify_and_update("violet-harbour-ledger-91", old_hash)
    assert valid is True
    assert updated is not None
    assert "m=19456,t=3,p=1" in updated

    valid, updated = new.verify_and_update("wrong-harbour-ledger-91", old_hash)
    assert valid is False
    assert updated is None


@pytest.mark.parametrize(
    ("memory_kib", "time_cost", "field"),
    [
        (19455, 2, "argon2_memory_kib"),
        (8192, 2, "argon2_memory_kib"),
        (19456, 1, "argon2_time_cost"),
    ],
)
def test_settings_refuse_an_argon2_cost_below_the_owasp_floor(
    memory_kib: int, time_cost: int, field: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(argon2_memory_kib=memory_kib, argon2_time_cost=time_cost)
    assert [error["loc"] for error in caught.value.errors()] == [(field,)]
