"""How long a closed case is kept: each port's retention, set by its administrators, and
the legal holds that keep a case, whatever its port says, until they are released.

A closed case is purged ``port.retention_days`` days after it was closed; for the last
``NOTICE_DAYS`` before that, administrators see it in the "to be purged" list, where they
can hold it. The purge itself (api/retention/purge.py) and the job that runs it every day
(api/retention/jobs.py) ask :func:`purgeable` which cases are due and :func:`purge_at`
whether one still is."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Integer, cast, literal
from sqlalchemy.orm import Mapped
from sqlmodel import Session, col, func, select

from api.audit import service as audit_service
from api.cases.models import Case
from api.cases.schemas import CaseStatus
from api.crypto import KeyRing
from api.db import UTCDateTime
from api.errors import NotFound, invalid_field
from api.i18n import N_
from api.policy import Permission
from api.ports.models import Port
from api.staff import service as staff_service
from api.staff.models import Staff
from api.staff.service import authorize

MIN_RETENTION_DAYS = 30
MAX_RETENTION_DAYS = 3650
DEFAULT_RETENTION_DAYS = 365
# How long before its purge a closed case is listed for administrators to hold.
NOTICE_DAYS = 14
HOLD_REASON_LIMIT = 300
# The most rows of the "to be purged" list one request reads.
TO_BE_PURGED_LIMIT = 500

RETENTION_OUT_OF_BOUNDS = N_("Give a number of days from {least} to {most}.")
HOLD_REASON_MISSING = N_("Say why the case is held, in at most {most} characters.")
NO_SUCH_CASE = N_("There is no such case.")


@dataclass(frozen=True)
class CaseRetention:
    """What retention holds for one case, as administrators read it."""

    reference: str
    port_code: str
    closed_at: datetime | None
    # When its port's retention ends, held or not (None while the case is open).
    retained_until: datetime | None
    legal_hold_reason: str
    legal_hold_at: datetime | None

    @property
    def on_hold(self) -> bool:
        return bool(self.legal_hold_reason)

    @property
    def purge_at(self) -> datetime | None:
        return None if self.on_hold else self.retained_until


def _retained_until(case: Case, port: Port) -> datetime | None:
    if case.status != CaseStatus.closed or case.closed_at is None:
        return None
    return case.closed_at + timedelta(days=port.retention_days)


def purge_at(case: Case, port: Port) -> datetime | None:
    """When ``case`` (of ``port``) is to be purged: its closing plus the port's retention;
    None while it is open or on legal hold. A time already past means it is due."""
    return None if case.legal_hold_reason else _retained_until(case, port)


def _retention_of(case: Case, port: Port) -> CaseRetention:
    return CaseRetention(
        reference=case.reference,
        port_code=port.code,
        closed_at=case.closed_at,
        retained_until=_retained_until(case, port),
        legal_hold_reason=case.legal_hold_reason,
        legal_hold_at=case.legal_hold_at,
    )


# Which cases are due, in SQL -----------------------------------------------------------------


# SQLite keeps a timestamp as text; its julianday() reads it, to the millisecond, as days
# since noon on 24 November 4714 BC. Counted back into whole milliseconds since 1970, two
# timestamps compare exactly, as floating-point days would not.
_UNIX_EPOCH_JULIAN_DAY = 2440587.5
_MS_PER_DAY = 86_400_000


def _sqlite_ms(moment: ColumnElement[Any] | Mapped[datetime | None]) -> ColumnElement[int]:
    days = func.julianday(moment) - _UNIX_EPOCH_JULIAN_DAY
    return cast(func.round(days * _MS_PER_DAY), Integer)


def _retained_until_sql(session: Session) -> ColumnElement[Any]:
    """A closed case's ``closed_at + port.retention_days``, in the database's own terms, so
    that one query over every port finds what is due: a timestamp on PostgreSQL,
    milliseconds since 1970 on SQLite. Days of 24 hours, as ``timedelta(days=...)`` counts
    them, whatever time zone the database session is in."""
    if session.get_bind().dialect.name == "postgresql":
        hours = col(Port.retention_days) * 24
        return col(Case.closed_at) + func.make_interval(0, 0, 0, 0, hours)
    return _sqlite_ms(col(Case.closed_at)) + col(Port.retention_days) * _MS_PER_DAY


def _moment_sql(session: Session, moment: datetime) -> ColumnElement[Any]:
    """``moment`` as :func:`_retained_until_sql` compares with it."""
    bound = literal(moment, UTCDateTime())
    return bound if session.get_bind().dialect.name == "postgresql" else _sqlite_ms(bound)


def _closed() -> list[ColumnElement[bool]]:
    return [col(Case.status) == CaseStatus.closed, col(Case.closed_at).is_not(None)]


def purgeable(
    *,
    session: Session,
    now: datetime,
    limit: int,
    also: Sequence[ColumnElement[bool]] = (),
) -> list[int]:
    """The ids of at most ``limit`` closed cases whose retention has ended by ``now`` and
    that are not on legal hold (and meet ``also``), the longest closed first: one query
    over every port, so a purge goes through them a batch at a time."""
    query = (
        select(Case.id)
        .join(Port, col(Port.id) == col(Case.port_id))
        .where(
            *_closed(),
            col(Case.legal_hold_reason) == "",
            _retained_until_sql(session) <= _moment_sql(session, now),
            *also,
        )
        .order_by(col(Case.closed_at), col(Case.id))
        .limit(limit)
    )
    return [case_id for case_id in session.exec(query).all() if case_id is not None]


def to_be_purged(
    *, session: Session, actor: Staff, now: datetime, limit: int = TO_BE_PURGED_LIMIT
) -> list[CaseRetention]:
    """The closed cases of the ports ``actor`` sees whose retention ends within
    ``NOTICE_DAYS`` (or has ended and they wait for the next purge), held ones too, the
    first to go first: where administrators decide what to hold."""
    authorize(actor, Permission.manage_staff)
    retained_until = _retained_until_sql(session)
    notice_ends = _moment_sql(session, now + timedelta(days=NOTICE_DAYS))
    query = (
        select(Case, Port)
        .join(Port, col(Port.id) == col(Case.port_id))
        .where(*_closed(), retained_until <= notice_ends)
        .order_by(retained_until, col(Case.id))
        .limit(limit)
    )
    ports = staff_service.visible_ports(session=session, actor=actor)
    if ports is not None:
        query = query.where(col(Case.port_id).in_(ports))
    return [_retention_of(case, port) for case, port in session.exec(query).all()]


# Legal holds ---------------------------------------------------------------------------------


def _find_case(
    session: Session, actor: Staff, reference: str, *, for_update: bool = False
) -> tuple[Case, Port]:
    """The case and its port; ``for_update`` locks its row first, so that a purge of it
    waits (or has happened). A case of a port ``actor`` does not see is not found, as one
    that does not exist."""
    authorize(actor, Permission.manage_staff)
    query = select(Case).where(Case.reference == reference)
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    case = session.exec(query).first()
    port = session.get(Port, case.port_id) if case is not None else None
    if (
        case is None
        or port is None
        or not staff_service.sees_port(session=session, actor=actor, port_id=case.port_id)
    ):
        raise NotFound(NO_SUCH_CASE)
    return case, port


def case_retention(*, session: Session, actor: Staff, reference: str) -> CaseRetention:
    """What retention holds for one case, for an administrator who sees its port."""
    return _retention_of(*_find_case(session, actor, reference))


def _audit_hold(
    session: Session,
    keyring: KeyRing,
    actor: Staff,
    action: str,
    case: Case,
    before: str,
    now: datetime,
) -> None:
    audit_service.record(
        session=session,
        keyring=keyring,
        action=action,
        now=now,
        actor_id=actor.id,
        actor=actor.email,
        object_type="case",
        object_id=case.reference,
        detail={"reason_before": before, "reason_after": case.legal_hold_reason},
    )


def place_hold(
    *,
    session: Session,
    keyring: KeyRing,
    actor: Staff,
    reference: str,
    reason: str,
    now: datetime,
) -> CaseRetention:
    """Hold the case: it is not purged, whatever its port's retention, until released.
    Holding a held case again changes the reason it is held for."""
    authorize(actor, Permission.manage_staff)
    reason = reason.strip()
    if not 1 <= len(reason) <= HOLD_REASON_LIMIT:
        raise invalid_field("reason", HOLD_REASON_MISSING, most=HOLD_REASON_LIMIT)
    case, port = _find_case(session, actor, reference, for_update=True)
    before = case.legal_hold_reason
    if reason != before:
        case.legal_hold_reason = reason
        case.legal_hold_at = case.legal_hold_at if before else now
        session.add(case)
        _audit_hold(session, keyring, actor, "case.legal_hold_placed", case, before, now)
    return _retention_of(case, port)


def release_hold(
    *, session: Session, keyring: KeyRing, actor: Staff, reference: str, now: datetime
) -> CaseRetention:
    """Release the hold: the case follows its port's retention again, and is purged by the
    next run if that has ended. Releasing a case not held changes nothing."""
    case, port = _find_case(session, actor, reference, for_update=True)
    before = case.legal_hold_reason
    if before:
        case.legal_hold_reason, case.legal_hold_at = "", None
        session.add(case)
        _audit_hold(session, keyring, actor, "case.legal_hold_released", case, before, now)
    return _retention_of(case, port)


# Each port's retention -----------------------------------------------------------------------


def set_retention(
    *, session: Session, keyring: KeyRing, actor: Staff, code: str, days: int, now: datetime
) -> Port:
    """Closed cases of the port, those closed already too, are kept ``days`` days."""
    authorize(actor, Permission.manage_staff)
    if not MIN_RETENTION_DAYS <= days <= MAX_RETENTION_DAYS:
        raise invalid_field(
            "retention_days",
            RETENTION_OUT_OF_BOUNDS,
            least=MIN_RETENTION_DAYS,
            most=MAX_RETENTION_DAYS,
        )
    port = session.exec(select(Port).where(Port.code == code)).first()
    if port is None or not staff_service.sees_port(session=session, actor=actor, port_id=port.id):
        raise NotFound(N_("There is no such port."))
    before = port.retention_days
    port.retention_days = days
    session.add(port)
    audit_service.record(
        session=session,
        keyring=keyring,
        action="port.retention_changed",
        now=now,
        actor_id=actor.id,
        actor=actor.email,
        object_type="port",
        object_id=port.code,
        detail={"retention_days": f"{before} -> {days}"},
    )
    return port
