"""Appending to the audit log and proving it was not changed.

Each entry's hash is an HMAC (with a key derived from the key file) over its fields and
the previous entry's hash; a head record, also MACed, remembers the last entry, so
removing entries from the end is caught too. Entries never hold report content or a
reporter's identity: only who did what to which object, and when.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, text
from sqlmodel import Session, col, select

from api.audit.models import AuditEntry, AuditHead
from api.crypto import KeyRing

GENESIS = "0" * 64


def _canonical(entry: AuditEntry) -> str:
    return json.dumps(
        [
            entry.seq,
            entry.at.isoformat(),
            entry.actor_id,
            entry.actor,
            entry.action,
            entry.object_type,
            entry.object_id,
            entry.detail,
            entry.previous_hash,
        ],
        separators=(",", ":"),
        ensure_ascii=True,
    )


def _entry_hash(keyring: KeyRing, entry: AuditEntry) -> str:
    return keyring.lookup_hash("audit-entry", _canonical(entry))


def _head_mac(keyring: KeyRing, seq: int, entry_hash: str) -> str:
    return keyring.lookup_hash("audit-head", f"{seq}:{entry_hash}")


def record(
    *,
    session: Session,
    keyring: KeyRing,
    action: str,
    now: datetime,
    actor_id: int | None = None,
    actor: str = "system",
    object_type: str = "",
    object_id: str | int = "",
    detail: Mapping[str, str | int | bool | None] | None = None,
) -> AuditEntry:
    """Append one entry; concurrent writers are serialised so the chain never forks."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(7422419)"))
    head = session.get(AuditHead, 1, with_for_update=True)
    entry = AuditEntry(
        seq=(head.seq if head else 0) + 1,
        at=now.replace(microsecond=0),
        actor_id=actor_id,
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        detail=json.dumps(dict(detail or {}), sort_keys=True, separators=(",", ":")),
        previous_hash=head.hash if head else GENESIS,
        hash="",
    )
    entry.hash = _entry_hash(keyring, entry)
    session.add(entry)
    if head is None:
        head = AuditHead(id=1, seq=0, hash=GENESIS, mac="")
    head.seq, head.hash = entry.seq, entry.hash
    head.mac = _head_mac(keyring, head.seq, head.hash)
    session.add(head)
    session.flush()
    return entry


@dataclass(frozen=True)
class Verdict:
    entries: int
    broken_seq: int | None = None
    reason: str = ""

    @property
    def intact(self) -> bool:
        return self.broken_seq is None


def verify(*, session: Session, keyring: KeyRing) -> Verdict:
    """Walk the chain from the first entry; name the first one that does not hold."""
    expected_seq, previous_hash, count = 1, GENESIS, 0
    query = select(AuditEntry).order_by(col(AuditEntry.seq)).execution_options(yield_per=1000)
    entries = session.exec(query)
    try:
        for entry in entries:
            if entry.seq != expected_seq:
                return Verdict(count, expected_seq, f"entry {expected_seq} is missing")
            if entry.previous_hash != previous_hash:
                return Verdict(
                    count, entry.seq, f"entry {entry.seq} does not follow entry {entry.seq - 1}"
                )
            if _entry_hash(keyring, entry) != entry.hash:
                return Verdict(count, entry.seq, f"entry {entry.seq} was changed")
            expected_seq, previous_hash, count = entry.seq + 1, entry.hash, count + 1
    finally:
        entries.close()  # a server-side cursor on PostgreSQL
    head = session.get(AuditHead, 1)
    if head is None:
        if count:
            return Verdict(count, 1, "the record of the last entry is missing")
        return Verdict(0)
    if head.mac != _head_mac(keyring, head.seq, head.hash):
        return Verdict(count, head.seq, "the record of the last entry was changed")
    if head.seq != count or head.hash != previous_hash:
        return Verdict(count, count + 1, f"entry {count + 1} is missing")
    return Verdict(count)


@dataclass(frozen=True)
class AuditFilter:
    actor: str | None = None
    action: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def search(
    *, session: Session, filters: AuditFilter, limit: int = 50, offset: int = 0
) -> tuple[Sequence[AuditEntry], int]:
    """Entries matching ``filters``, newest first, and how many match in all."""
    conditions: list[ColumnElement[bool]] = []
    if filters.actor:
        conditions.append(col(AuditEntry.actor).contains(filters.actor))
    if filters.action:
        conditions.append(col(AuditEntry.action).startswith(filters.action))
    if filters.object_type:
        conditions.append(col(AuditEntry.object_type) == filters.object_type)
    if filters.object_id:
        conditions.append(col(AuditEntry.object_id) == filters.object_id)
    if filters.since:
        conditions.append(col(AuditEntry.at) >= filters.since)
    if filters.until:
        conditions.append(col(AuditEntry.at) < filters.until)
    total = session.exec(select(func.count()).select_from(AuditEntry).where(*conditions)).one()
    query = (
        select(AuditEntry)
        .where(*conditions)
        .order_by(col(AuditEntry.seq).desc())
        .offset(offset)
        .limit(limit)
    )
    return session.exec(query).all(), total
