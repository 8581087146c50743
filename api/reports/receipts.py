"""Receipt codes: 16 random digits, shown once, never stored.

The server keeps a keyed lookup hash (to find the report) and an Argon2id verifier (to
check the code); with the lookup key alone nobody can test guesses offline.
"""

from __future__ import annotations

import secrets

from passlib.context import CryptContext

from api import hashing
from api.crypto import KeyRing

RECEIPT_DIGITS = 16
_LOOKUP_PURPOSE = "receipt"

# OWASP's Argon2id minimum (19 MiB, 2 passes): the lookup hash is already keyed, so the
# verifier is a second wall, and a submission must stay well under 100 ms of CPU.
_verifiers = CryptContext(
    schemes=["argon2"],
    argon2__type="ID",
    argon2__memory_cost=19_456,
    argon2__time_cost=2,
    argon2__parallelism=1,
)
with hashing.slot():
    _DUMMY_VERIFIER = _verifiers.hash("0" * RECEIPT_DIGITS)


def new_receipt() -> str:
    return f"{secrets.randbelow(10**RECEIPT_DIGITS):0{RECEIPT_DIGITS}d}"


def normalise(text: str) -> str | None:
    """The 16 digits of a receipt typed with spaces or dashes, or ``None``."""
    digits = "".join(character for character in text if character not in " -\u00a0")
    if len(digits) != RECEIPT_DIGITS or not digits.isascii() or not digits.isdigit():
        return None
    return digits


def lookup_hash(keyring: KeyRing, receipt: str) -> str:
    return keyring.lookup_hash(_LOOKUP_PURPOSE, receipt)


def make_verifier(receipt: str) -> str:
    with hashing.slot():
        return str(_verifiers.hash(receipt))


def verify(receipt: str, verifier: str | None) -> bool:
    """Check a receipt; without a verifier, spend the same time and say no."""
    with hashing.slot():
        if verifier is None:
            _verifiers.verify(receipt, _DUMMY_VERIFIER)
            return False
        return bool(_verifiers.verify(receipt, verifier))
