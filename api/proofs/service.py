"""Hashcash-style proof of work: abuse protection that needs no IP address.

A challenge is signed by the server and carries its own expiry and difficulty, so
issuing one stores nothing. A proof is spent once: its challenge's hash is kept until
the challenge would have expired anyway.
"""

from __future__ import annotations

import hashlib
import secrets
import struct
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from api.config import Settings
from api.crypto import KeyRing
from api.db import next_hour
from api.errors import FieldProblem, Invalid
from api.i18n import N_
from api.proofs.models import SpentProof
from api.proofs.schemas import ChallengePublic, ProofIn

_PURPOSE = "proof-of-work"
_PAYLOAD = struct.Struct(">16sQB")


class ProofRejected(Invalid):
    code = "proof_rejected"


def _rejected(message: str) -> ProofRejected:
    return ProofRejected(
        N_("The anti-abuse check failed; the app gets a new one and tries again."),
        fields=[FieldProblem("proof", message)],
    )


def leading_zero_bits(digest: bytes) -> int:
    value = int.from_bytes(digest, "big")
    return len(digest) * 8 - value.bit_length()


def issue_challenge(*, keyring: KeyRing, settings: Settings, now: datetime) -> ChallengePublic:
    expires_at = now + timedelta(seconds=settings.pow_ttl_seconds)
    payload = _PAYLOAD.pack(
        secrets.token_bytes(16), int(expires_at.timestamp()), settings.pow_difficulty
    )
    return ChallengePublic(
        challenge=keyring.sign(_PURPOSE, payload),
        difficulty=settings.pow_difficulty,
        expires_at=expires_at.replace(microsecond=0),
    )


def check_proof(
    *, keyring: KeyRing, settings: Settings, proof: ProofIn | None, now: datetime
) -> None:
    """Verify a proof without touching the database (cheap; done before costly work)."""
    if settings.pow_difficulty == 0:
        return
    if proof is None:
        raise _rejected(N_("A solved anti-abuse challenge is required."))
    payload = keyring.unsign(_PURPOSE, proof.challenge)
    if payload is None or len(payload) != _PAYLOAD.size:
        raise _rejected(N_("This challenge was not issued by this server."))
    _nonce, expires_unix, difficulty = _PAYLOAD.unpack(payload)
    if expires_unix <= now.timestamp():
        raise _rejected(N_("This challenge has expired."))
    if difficulty < settings.pow_difficulty:
        raise _rejected(N_("This challenge is too easy for the current setting."))
    digest = hashlib.sha256(f"{proof.challenge}:{proof.nonce}".encode()).digest()
    if leading_zero_bits(digest) < difficulty:
        raise _rejected(N_("This answer does not solve the challenge."))


def spend_proof(
    *, session: Session, settings: Settings, proof: ProofIn | None, now: datetime
) -> None:
    """Record a checked proof as used; a second use is refused."""
    if settings.pow_difficulty == 0 or proof is None:
        return
    session.exec(delete(SpentProof).where(col(SpentProof.expires_hour) < now))
    challenge_hash = hashlib.sha256(proof.challenge.encode()).hexdigest()
    if session.get(SpentProof, challenge_hash) is not None:
        raise _rejected(N_("This challenge has already been used."))
    expires_at = now + timedelta(seconds=settings.pow_ttl_seconds)
    try:
        with session.begin_nested():
            session.add(
                SpentProof(challenge_hash=challenge_hash, expires_hour=next_hour(expires_at))
            )
    except IntegrityError:
        raise _rejected(N_("This challenge has already been used.")) from None


def solve(challenge: str, difficulty: int) -> str:
    """Find a nonce (for tests, benchmarks and the no-frills client); ~2**difficulty hashes."""
    counter = 0
    while True:
        nonce = format(counter, "x")
        digest = hashlib.sha256(f"{challenge}:{nonce}".encode()).digest()
        if leading_zero_bits(digest) >= difficulty:
            return nonce
        counter += 1
