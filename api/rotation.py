"""``portline key rotate``: a new key-encryption key, every data key wrapped again with
it, and the old key retired once nothing names it.

The steps, each safe to repeat, so a rotation killed at any point is finished by running
the command again (it resumes when the key file holds more than one key):

1. The key file gains key N+1 beside key N (written whole, then renamed into place).
2. The database's check value is sealed with key N+1, which makes it the key every
   process wraps new data keys with, and ``live_keys`` becomes "N,N+1"; the audit log
   records ``key.rotated``.
3. Every wrapped data key and second-factor secret still under an older key is wrapped
   again, in batches of its own transaction, in id order. A row changed meanwhile (a
   body's new webhook secret) is left to its new value.
4. Under the exclusive lock on the check row, which waits for every transaction wrapping
   a data key now (api/keystore/service.py: ``wrapping_key``), what an older process
   wrapped with key N meanwhile is wrapped again; ``live_keys`` becomes "N+1" and the
   audit log records ``key.retired``.
5. The key file is written again with key N+1 only: the old key is gone, and opens
   nothing the database holds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, select, update
from sqlmodel import Session, SQLModel

from api.agencies.models import Body
from api.audit import service as audit
from api.config import Settings
from api.crypto import KeyFileError, KeyRing, sealed_key_id, write_key_file
from api.db import utcnow
from api.keystore.models import KeyCheck
from api.keystore.service import check_plaintext, live_keys, locked_check, open_keyring
from api.referrals.models import Referral
from api.reports.models import Report
from api.staff import service as staff_service
from api.staff.models import Staff
from api.triage.models import CaseNote

Say = Callable[[str], None]


@dataclass(frozen=True)
class Wrapped:
    """A column holding values sealed with a key-encryption key, and how to seal one
    again under another key."""

    name: str
    table: type[SQLModel]
    column: Any
    reseal: Callable[[KeyRing, bytes, int], bytes]


def _wrapped_key(keyring: KeyRing, sealed: bytes, kek_id: int) -> bytes:
    return keyring.wrap(keyring.unwrap(sealed), kek_id=kek_id)


def _totp_secret(keyring: KeyRing, sealed: bytes, kek_id: int) -> bytes:
    secret = staff_service.open_totp_secret(keyring, sealed)
    return staff_service.seal_totp_secret(keyring, secret, kek_id=kek_id)


COLUMNS = (
    Wrapped("report data keys", Report, Report.wrapped_key, _wrapped_key),
    Wrapped("case note data keys", CaseNote, CaseNote.wrapped_key, _wrapped_key),
    Wrapped("referral data keys", Referral, Referral.wrapped_key, _wrapped_key),
    Wrapped("webhook secret keys", Body, Body.webhook_wrapped_key, _wrapped_key),
    Wrapped("second-factor secrets", Staff, Staff.totp_secret_sealed, _totp_secret),
)


def _needs(sealed: bytes, kek_id: int) -> bool:
    return sealed[:1] != b"\x02" or sealed_key_id(sealed) != kek_id


def _locked_check(session: Session) -> KeyCheck:
    check = locked_check(session, share=False)
    if check is None:
        raise KeyFileError("this database has no key check yet: start Portline once first")
    return check


def _batch(
    session: Session, wrapped: Wrapped, keyring: KeyRing, kek_id: int, after: int, size: int
) -> tuple[int, int, int]:
    """Seal again the rows after id ``after`` (up to ``size`` of them) that are not under
    ``kek_id``: (the last id seen, rows seen, rows sealed again)."""
    key = wrapped.table.id  # type: ignore[attr-defined]
    rows = session.execute(
        select(key, wrapped.column)
        .where(key > after, wrapped.column.is_not(None))
        .order_by(key)
        .limit(size)
    ).all()
    changed = 0
    for row_id, sealed in rows:
        if not _needs(sealed, kek_id):
            continue
        result = session.execute(
            update(wrapped.table)
            .where(key == row_id, wrapped.column == sealed)
            .values({wrapped.column: wrapped.reseal(keyring, sealed, kek_id)})
        )
        changed += result.rowcount  # type: ignore[attr-defined]
    return (rows[-1][0] if rows else after), len(rows), changed


def _everything(session: Session, keyring: KeyRing, kek_id: int, size: int) -> int:
    changed = 0
    for wrapped in COLUMNS:
        after, seen = 0, size
        while seen == size:
            after, seen, count = _batch(session, wrapped, keyring, kek_id, after, size)
            changed += count
    return changed


def count_by_key(session: Session) -> dict[str, dict[int, int]]:
    """How many values each key-encryption key seals, per column (a full scan)."""
    counts: dict[str, dict[int, int]] = {}
    for wrapped in COLUMNS:
        mine: dict[int, int] = {}
        for (sealed,) in session.execute(select(wrapped.column).where(wrapped.column.is_not(None))):
            mine[sealed_key_id(sealed)] = mine.get(sealed_key_id(sealed), 0) + 1
        counts[wrapped.name] = mine
    return counts


def rotate(
    *, settings: Settings, engine: Engine, say: Say, batch_size: int = 500, prepare: bool = False
) -> int:
    """Rotate (or finish an interrupted rotation); returns the new current key's id.

    With ``prepare``, only step 1: the key file gains the new key and nothing else changes,
    so processes that read their key file once (systemd credentials) can be restarted
    with both keys before the rotation proper (run again without ``prepare``)."""
    if settings.key:
        raise KeyFileError(
            "PORTLINE_KEY holds the key, and a rotation writes a key file: put the key in "
            "a file of mode 0600, set PORTLINE_KEY_FILE to it and unset PORTLINE_KEY"
        )
    path = settings.effective_key_file
    keyring = open_keyring(settings=settings, engine=engine)
    material = keyring.material
    with Session(engine) as session:
        check = session.get_one(KeyCheck, 1)
        current, live = sealed_key_id(check.sealed), live_keys(check)
    if len(material.keks) > 1 or len(live) > 1:
        target = material.newest
        say(f"Resuming the rotation to key {target}.")
    else:
        material = material.with_new_kek()
        target = material.newest
        write_key_file(path, material)
        say(f"Key {target} added to {path}; key {current} stays until nothing needs it.")
    if prepare:
        say(
            f"Prepared: nothing is wrapped with key {target} yet. Restart the processes that "
            "read a copy of the key file, then run `portline key rotate` again."
        )
        return target
    keyring = KeyRing(material, current=target)

    if current != target:
        with Session(engine) as session:
            check = _locked_check(session)
            check.sealed = keyring.seal_secret(
                check_plaintext(keyring), label=b"check", kek_id=target
            )
            check.live_keys = _listed(live_keys(check) | {target})
            audit.record(
                session=session,
                keyring=keyring,
                action="key.rotated",
                now=utcnow(),
                actor="portline key rotate",
                detail={"from_key": current, "to_key": target},
            )
            session.commit()
        say(f"New data keys are wrapped with key {target} from now on.")

    for wrapped in COLUMNS:
        with Session(engine) as session:
            total = session.execute(
                select(func.count()).select_from(wrapped.table).where(wrapped.column.is_not(None))
            ).scalar_one()
        after, done, changed, seen = 0, 0, 0, batch_size
        while seen == batch_size:
            with Session(engine) as session:
                after, seen, count = _batch(session, wrapped, keyring, target, after, batch_size)
                session.commit()
            done, changed = done + seen, changed + count
            if seen:
                say(
                    f"  {wrapped.name}: {min(done, total)} of {total} looked at, {changed} wrapped again"
                )
        if not total:
            say(f"  {wrapped.name}: none")

    with Session(engine) as session:
        check = _locked_check(session)
        late = _everything(session, keyring, target, batch_size)
        retired = sorted(live_keys(check) - {target})
        check.live_keys = str(target)
        if retired:
            audit.record(
                session=session,
                keyring=keyring,
                action="key.retired",
                now=utcnow(),
                actor="portline key rotate",
                detail={"keys": _listed(set(retired)), "wrapped_at_the_end": late},
            )
        session.commit()
    if len(material.keks) > 1:
        write_key_file(path, material.keeping_only(target))
    gone = ", ".join(str(kek_id) for kek_id in sorted(set(material.keks) - {target})) or "none"
    say(
        f"Done: every value is under key {target}; retired: {gone}. {path} holds key {target} only."
    )
    return target


def _listed(ids: set[int] | frozenset[int]) -> str:
    return ",".join(str(kek_id) for kek_id in sorted(ids))
