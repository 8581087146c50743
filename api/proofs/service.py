"""Abuse protection that needs no IP address.

With JavaScript, a hashcash-style proof of work: a challenge is signed by the server and
carries its own expiry and difficulty, so issuing one stores nothing. Without
JavaScript, a single-use form token and a rate guard. Either is spent once: its hash is
kept until it would have expired anyway.

The rate guard counts in the server process's memory, never in the database: a row
holding the minute of the last request sent without JavaScript would time a reporter
finer than the hour (see docs/security.md). With several server processes, each holds
its own count, so the port-wide limit is the setting times the number of processes.
"""

from __future__ import annotations

import hashlib
import secrets
import struct
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from api.config import Settings
from api.crypto import KeyRing
from api.db import next_hour
from api.errors import DomainError, FieldProblem, Invalid
from api.i18n import N_
from api.proofs.models import SpentProof
from api.proofs.schemas import ChallengePublic, ProofIn

_PURPOSE = "proof-of-work"
_PAYLOAD = struct.Struct(">16sQB")
_FORM_PURPOSE = "form-token"
_FORM_PAYLOAD = struct.Struct(">16sQ")
FORM_TOKEN_TTL = timedelta(hours=12)


@dataclass(frozen=True)
class FormGuard:
    """What guards a request sent without JavaScript: a form token and a rate bucket."""

    token: str
    bucket: str
    per_minute: int
    rate: RateGuard


class RateGuard:
    """Requests per purpose in the current minute, counted in this process's memory."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[int, int]] = {}  # bucket: (minute, count)

    def take(self, bucket: str, per_minute: int, now: datetime) -> None:
        """Count one request against ``bucket``, or refuse it when the minute is full."""
        minute = int(now.timestamp()) // 60
        with self._lock:
            start, count = self._windows.get(bucket, (minute, 0))
            if start != minute:
                count = 0
            if count >= per_minute:
                raise TooManyRequests(
                    N_("Many reports are arriving right now. Please wait a minute and send again."),
                    headers={"Retry-After": "60"},
                )
            self._windows[bucket] = (minute, count + 1)


class TooManyRequests(DomainError):
    status = 429
    code = "too_many_requests"


class ProofRejected(Invalid):
    code = "proof_rejected"


def _rejected(message: str, field: str = "proof") -> ProofRejected:
    return ProofRejected(
        N_("The anti-abuse check failed. Please try again."),
        fields=[FieldProblem(field, message)],
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
    _spend(
        session,
        proof.challenge,
        now=now,
        expires_at=now + timedelta(seconds=settings.pow_ttl_seconds),
        field="proof",
    )


def _spend(
    session: Session, token: str, *, now: datetime, expires_at: datetime, field: str
) -> None:
    session.exec(delete(SpentProof).where(col(SpentProof.expires_hour) < now))
    token_hash = hashlib.sha256(token.encode()).hexdigest()
    if session.get(SpentProof, token_hash) is not None:
        raise _rejected(N_("This challenge has already been used."), field)
    try:
        with session.begin_nested():
            session.add(SpentProof(challenge_hash=token_hash, expires_hour=next_hour(expires_at)))
    except IntegrityError:
        raise _rejected(N_("This challenge has already been used."), field) from None


# Without JavaScript ---------------------------------------------------------------------


def issue_form_token(*, keyring: KeyRing, now: datetime) -> str:
    expires_at = now + FORM_TOKEN_TTL
    return keyring.sign(
        _FORM_PURPOSE, _FORM_PAYLOAD.pack(secrets.token_bytes(16), int(expires_at.timestamp()))
    )


def check_form_token(*, keyring: KeyRing, form: FormGuard, now: datetime) -> None:
    payload = keyring.unsign(_FORM_PURPOSE, form.token)
    if payload is None or len(payload) != _FORM_PAYLOAD.size:
        raise _rejected(N_("This form was not issued by this server."), "form_token")
    _nonce, expires_unix = _FORM_PAYLOAD.unpack(payload)
    if expires_unix <= now.timestamp():
        raise _rejected(N_("This form has expired."), "form_token")


def spend_form_token(*, session: Session, form: FormGuard, now: datetime) -> None:
    """Use the form token up and count the request against the global rate guard."""
    form.rate.take(form.bucket, form.per_minute, now)
    _spend(session, form.token, now=now, expires_at=now + FORM_TOKEN_TTL, field="form_token")


# Either way -----------------------------------------------------------------------------


def check_guard(
    *,
    keyring: KeyRing,
    settings: Settings,
    proof: ProofIn | None,
    form: FormGuard | None,
    now: datetime,
) -> None:
    """The cheap checks, before any database work: a proof of work, or a form token."""
    if form is not None:
        check_form_token(keyring=keyring, form=form, now=now)
    else:
        check_proof(keyring=keyring, settings=settings, proof=proof, now=now)


def spend_guard(
    *,
    session: Session,
    settings: Settings,
    proof: ProofIn | None,
    form: FormGuard | None,
    now: datetime,
) -> None:
    if form is not None:
        spend_form_token(session=session, form=form, now=now)
    else:
        spend_proof(session=session, settings=settings, proof=proof, now=now)


def solve(challenge: str, difficulty: int) -> str:
    """Find a nonce (for tests, benchmarks and the no-frills client); ~2**difficulty hashes."""
    counter = 0
    while True:
        nonce = format(counter, "x")
        digest = hashlib.sha256(f"{challenge}:{nonce}".encode()).digest()
        if leading_zero_bits(digest) >= difficulty:
            return nonce
        counter += 1
