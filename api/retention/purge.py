"""Purging a case is erasure: every row of the case and of its reports is deleted, with the
wrapped data keys they carry (a report's, a note's, a referral's data key is kept on its row
and nowhere else: no key of the key ring opens anything of the case once they are gone), and
only counts remain, so that the dashboard's figures do not change (api/retention/models.py).

:func:`purge_case` works in its caller's transaction, which commits: killed before the
commit, the case is whole. On SQLite every connection deletes securely (deleted content is
overwritten with zeros, api/db.py) and :func:`reclaim_space`, run after a batch of purges,
hands the freed pages back to the file system and empties the write-ahead log, so the
sealed bytes of a purged case are nowhere in the database's files.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, delete, or_, text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, SQLModel, col, select

from api.agencies.models import Body
from api.audit import service as audit_service
from api.cases import service as cases_service
from api.cases.models import Case, CaseEntity, CaseTag
from api.cases.schemas import CaseStatus
from api.crypto import KeyRing
from api.dashboard import service as dashboard_service
from api.ports.models import Port
from api.referrals.models import (
    CaseImplicatedBody,
    OutboxJob,
    Referral,
    ReferralAttachment,
    ReferralEvent,
)
from api.reports.models import (
    Attachment,
    Message,
    Report,
    ReportExclusion,
    ReportStep,
    Submission,
)
from api.retention import notify, policy
from api.retention.models import DIMENSIONS, PurgedCount, PurgedReceipt, PurgedReferral
from api.triage.models import CaseNote

PURGED = "case.purged"
_COUNTS = ("reports", "cases", "cases_acknowledged_within_7_days")
_SQLITE_INCREMENTAL = 2  # PRAGMA auto_vacuum's value for INCREMENTAL

Dimensions = tuple[int, date, str, int, int | None, str]


@dataclass(frozen=True)
class PurgeResult:
    """What one purge removed, for the worker's log: rows deleted per table (``case``
    included), and the counts kept in their place."""

    reference: str
    removed: dict[str, int]
    reports: int
    cases: int


def purge_case(
    *, session: Session, keyring: KeyRing, case_id: int, now: datetime
) -> PurgeResult | None:
    """Erase the case if it is still due (closed, its port's retention over, not on legal
    hold) once its row is locked; None, and nothing done, otherwise.

    Its counts are added to ``purged_count``, every row of it and of its reports is
    deleted, and the audit log records the purge (the case's reference and how many rows
    went, nothing they held). Tombstones tell its reporters and bodies it was deleted
    (:func:`_leave_tombstones`). The caller commits."""
    cases_service.lock(session=session, case_ids=[case_id])
    case = session.get(Case, case_id, populate_existing=True)
    port = session.get(Port, case.port_id) if case is not None else None
    if case is None or port is None or not _due(case, port, now):
        return None
    # Reporters write to their report's row (a message takes its next number there): held
    # from here, none of their writes lands between the counts and the deletes.
    reports = session.exec(
        select(Report)
        .where(Report.case_id == case_id)
        .order_by(col(Report.id))
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    counts = _counts(case, reports)
    _add_counts(session, counts)
    _leave_tombstones(session, case_id, reports, now)
    removed = _delete_rows(session, case_id, [report.id for report in reports if report.id])
    audit_service.record(
        session=session,
        keyring=keyring,
        action=PURGED,
        now=now,
        object_type="case",
        object_id=case.reference,
        detail=removed,
    )
    return PurgeResult(
        reference=case.reference,
        removed=removed,
        reports=sum(each["reports"] for each in counts.values()),
        cases=sum(each["cases"] for each in counts.values()),
    )


def _due(case: Case, port: Port, now: datetime) -> bool:
    if case.status != CaseStatus.closed:
        return False
    purge_at = policy.purge_at(case, port)
    if purge_at is None or purge_at > now:
        return False
    # Counts keep a case as measured for the dashboard's acknowledgement figure: one never
    # acknowledged whose 7 days are not over yet would be counted late too soon.
    return (
        case.acknowledged_at is not None
        or now >= case.received_hour + dashboard_service.ACKNOWLEDGE_WITHIN
    )


def monday_of(moment: datetime) -> date:
    """The Monday of the ISO week (UTC) of ``moment``."""
    day = moment.date()
    return day - timedelta(days=day.weekday())


def _counts(case: Case, reports: Iterable[Report]) -> dict[Dimensions, Counter[str]]:
    """The case's figures as the dashboard reads them: each report in the week it was
    received, classified as its case is (the report's own zone if the case has none); the
    case in its own week, if it holds a report."""
    counts: dict[Dimensions, Counter[str]] = {}

    def add(moment: datetime, zone_id: int | None, **values: int) -> None:
        key = (
            case.port_id,
            monday_of(moment),
            case.kind,
            case.category_id,
            zone_id,
            case.cargo_direction,
        )
        counts.setdefault(key, Counter()).update(values)

    held = list(reports)
    for report in held:
        zone_id = case.zone_id if case.zone_id is not None else report.zone_id
        add(report.received_hour, zone_id, reports=1)
    if held:
        on_time = (
            case.acknowledged_at is not None
            and case.acknowledged_at - case.received_hour <= dashboard_service.ACKNOWLEDGE_WITHIN
        )
        add(case.received_hour, case.zone_id, cases=1, cases_acknowledged_within_7_days=on_time)
    return counts


def _add_counts(session: Session, counts: dict[Dimensions, Counter[str]]) -> None:
    """Add to each row of counts in one statement, whoever else adds to it at once; rows in
    one order, so that two purges adding to the same rows never wait for each other."""
    postgres = session.get_bind().dialect.name == "postgresql"
    table: Any = SQLModel.metadata.tables[PurgedCount.__tablename__]
    for dimensions, added in sorted(counts.items(), key=_row_order):
        values = dict(zip(DIMENSIONS, dimensions, strict=True))
        values.update({name: added[name] for name in _COUNTS})
        insert = (postgresql_insert if postgres else sqlite_insert)(table).values(values)
        no_zone = values["zone_id"] is None
        # A count with no zone has its own unique key (see PurgedCount).
        statement = insert.on_conflict_do_update(
            index_elements=[name for name in DIMENSIONS if not (no_zone and name == "zone_id")],
            index_where=text("zone_id IS NULL") if no_zone else None,
            set_={name: table.c[name] + insert.excluded[name] for name in _COUNTS},
        )
        session.exec(statement)


def _row_order(item: tuple[Dimensions, Counter[str]]) -> tuple[Any, ...]:
    port_id, week, kind, category_id, zone_id, cargo_direction = item[0]
    return (port_id, week, kind, category_id, zone_id is not None, zone_id or 0, cargo_direction)


def _leave_tombstones(
    session: Session, case_id: int, reports: Iterable[Report], now: datetime
) -> None:
    """What the reporter and the bodies are told after the purge, and nothing more: each
    report's receipt lookup (its reporter is told the report was deleted), each referral's
    reference and body (its liaison officer sees it was), and one ``referral.purged`` event
    queued for each such body that has a webhook."""
    session.add_all(PurgedReceipt(receipt_lookup=report.receipt_lookup) for report in reports)
    referrals = session.exec(
        select(Referral).where(Referral.case_id == case_id).order_by(col(Referral.id))
    ).all()
    session.add_all(
        PurgedReferral(reference=referral.reference, body_id=referral.body_id)
        for referral in referrals
    )
    session.flush()
    for referral in referrals:
        body = session.get(Body, referral.body_id)
        if body is not None:
            notify.enqueue(session=session, body=body, reference=referral.reference, now=now)


def _delete_rows(session: Session, case_id: int, report_ids: list[int]) -> dict[str, int]:
    """Delete every row of the case and of its reports, children first; rows per table."""
    referral_ids = list(session.exec(select(Referral.id).where(Referral.case_id == case_id)))
    removed: dict[str, int] = {}

    def remove(model: type[SQLModel], *conditions: Any) -> None:
        result = session.exec(
            delete(model).where(*conditions).execution_options(synchronize_session="fetch")
        )
        removed[str(model.__tablename__)] = int(result.rowcount)

    remove(OutboxJob, col(OutboxJob.referral_id).in_(referral_ids))
    remove(ReferralAttachment, col(ReferralAttachment.referral_id).in_(referral_ids))
    remove(ReferralEvent, col(ReferralEvent.referral_id).in_(referral_ids))
    remove(Referral, col(Referral.case_id) == case_id)
    remove(CaseImplicatedBody, col(CaseImplicatedBody.case_id) == case_id)
    remove(CaseNote, col(CaseNote.case_id) == case_id)
    remove(CaseTag, col(CaseTag.case_id) == case_id)
    remove(
        CaseEntity,
        or_(col(CaseEntity.case_id) == case_id, col(CaseEntity.report_id).in_(report_ids)),
    )
    remove(Message, col(Message.report_id).in_(report_ids))
    remove(ReportStep, col(ReportStep.report_id).in_(report_ids))
    remove(Attachment, col(Attachment.report_id).in_(report_ids))
    remove(Submission, col(Submission.report_id).in_(report_ids))
    remove(ReportExclusion, col(ReportExclusion.report_id).in_(report_ids))
    remove(Report, col(Report.id).in_(report_ids))
    remove(Case, col(Case.id) == case_id)
    return removed


def reclaim_space(engine: Engine) -> bool:
    """After a batch of purges: on SQLite, give the freed pages back to the file system
    (a database made before incremental vacuuming is rebuilt once, by VACUUM) and write
    the log into the database and empty it, so no old copy of a deleted page remains in
    either file. False if a reader kept the log from emptying: the next call empties it.
    On PostgreSQL, nothing (True): autovacuum makes the dead rows' space reusable."""
    if engine.dialect.name != "sqlite":
        return True
    connection = engine.raw_connection()
    try:
        # Outside any transaction: the connection is in autocommit (api/db.py), as VACUUM
        # requires. executescript() runs a statement to its end: execute() would step
        # incremental_vacuum once, and one step frees one page.
        cursor = connection.cursor()
        (mode,) = cursor.execute("PRAGMA auto_vacuum").fetchone()
        if mode != _SQLITE_INCREMENTAL:
            cursor.executescript("PRAGMA auto_vacuum=INCREMENTAL; VACUUM;")
        else:
            cursor.executescript("PRAGMA incremental_vacuum;")
        # Its row: (busy, frames in the log, frames written back); busy when a reader kept
        # the log from emptying.
        busy = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        cursor.close()
    finally:
        connection.close()
    return not busy
