"""Staff passwords: Argon2id through passlib, and a strength check that says why."""

from __future__ import annotations

from collections.abc import Sequence

from passlib.context import CryptContext
from zxcvbn import zxcvbn

from api import hashing
from api.i18n import N_

MIN_LENGTH = 12
MAX_LENGTH = 256

# Stronger than the receipt verifier: few logins, and a password is chosen by a person.
_context = CryptContext(
    schemes=["argon2"],
    argon2__type="ID",
    argon2__memory_cost=65_536,
    argon2__time_cost=3,
    argon2__parallelism=2,
)
with hashing.slot():
    _DUMMY_HASH = _context.hash("not a password of anyone")


def hash_password(password: str) -> str:
    with hashing.slot():
        return str(_context.hash(password))


def verify(password: str, password_hash: str | None) -> tuple[bool, str | None]:
    """Whether ``password`` matches, and a new hash when the parameters changed since.

    Without a hash, the same work is done and the answer is no, so an unknown account
    cannot be told from a wrong password by timing."""
    with hashing.slot():
        if password_hash is None:
            _context.verify(password, _DUMMY_HASH)
            return False, None
        ok, new_hash = _context.verify_and_update(password, password_hash)
    return bool(ok), new_hash


def weakness(password: str, *, personal: Sequence[str] = ()) -> str | None:
    """Why ``password`` is refused (a catalog message), or ``None`` when it is strong."""
    if len(password) < MIN_LENGTH:
        return N_("Use at least 12 characters.")
    if len(password) > MAX_LENGTH:
        return N_("Use at most 256 characters.")
    result = zxcvbn(password[:100], user_inputs=list(personal))
    if result["score"] < 3:
        if any(part.lower() in password.lower() for part in personal if len(part) >= 3):
            return N_("Do not use your name or e-mail address in your password.")
        return N_("This password is too easy to guess. Add more words that do not belong together.")
    return None
