"""Passwords: the policy (NIST SP 800-63B: length and a list of common ones, no
composition rules) and argon2id hashing (argon2-cffi's defaults, RFC 9106)."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 12
MAX_LENGTH = 1024  # hashing a megabyte per login attempt is a denial of service

_hasher = PasswordHasher()  # argon2id


class PasswordRejected(ValueError):
    """The password breaks the policy; the message says why, in words for the user."""


@cache
def common_passwords() -> frozenset[str]:
    """30,000 passwords people use most (the list zxcvbn ships), lower-cased."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(p.lower() for p in FREQUENCY_LISTS["passwords"])


def check(password: str, *, username: str = "") -> None:
    """Raise :class:`PasswordRejected` unless ``password`` may be used."""
    if len(password) < MIN_LENGTH:
        raise PasswordRejected(f"must be at least {MIN_LENGTH} characters long")
    if len(password) > MAX_LENGTH:
        raise PasswordRejected(f"must be at most {MAX_LENGTH} characters long")
    lowered = password.lower()
    if lowered in common_passwords() or len(set(lowered)) < 3:
        raise PasswordRejected("is one of the most common passwords; choose another")
    name = username.lower()
    if name and (lowered == name or lowered == name.split("@")[0]):
        raise PasswordRejected("must not be the user name")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches; a malformed or empty hash matches nothing."""
    try:
        return _hasher.verify(password_hash, password[:MAX_LENGTH])
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's."""
    return _hasher.check_needs_rehash(password_hash)


@cache
def dummy_hash() -> str:
    """Verified against when a user does not exist, so a login takes as long either way."""
    return _hasher.hash("not the password of anyone")
