"""Cases: opening one per new report, the triage queue ordered by what is due, and the
deadlines of EU Directive 2019/1937 (acknowledge within 7 days, feedback within three
months of that), configurable per port."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, any_, delete, func, or_, update
from sqlmodel import Session, col, select

from api.agencies.models import Body
from api.cases.entities import extract_entities
from api.cases.models import Case, CaseEntity, CaseTag
from api.cases.schemas import CaseRow, CaseStatus, QueueFilter, QueuePage
from api.crypto import KeyRing
from api.errors import NotFound
from api.i18n import N_
from api.policy import Permission
from api.ports.models import Port, Zone
from api.referrals.models import Referral
from api.reports.models import Report
from api.staff import service as staff_service
from api.staff.models import Staff
from api.staff.service import authorize
from api.taxonomy.models import Category

_REFERENCE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
OPEN = (
    CaseStatus.new,
    CaseStatus.acknowledged,
    CaseStatus.in_progress,
    CaseStatus.waiting_for_reporter,
    CaseStatus.referred,
)


def _new_reference() -> str:
    return "C-" + "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(8))


def open_case(
    *,
    session: Session,
    kind: str,
    category_id: int,
    port_id: int,
    zone_id: int | None,
    cargo_direction: str,
    received_hour: datetime,
) -> Case:
    """Every new report becomes a case, due for acknowledgement after the port's days."""
    port = session.get(Port, port_id)
    acknowledge_days = port.acknowledge_days if port else 7
    due = received_hour + timedelta(days=acknowledge_days)
    case = Case(
        reference=_new_reference(),
        kind=kind,
        category_id=category_id,
        port_id=port_id,
        zone_id=zone_id,
        cargo_direction=cargo_direction,
        received_hour=received_hour,
        acknowledge_due=due,
        due_at=due,
    )
    session.add(case)
    session.flush()
    return case


def get_case(*, session: Session, actor: Staff, case_id: int, for_update: bool = False) -> Case:
    """The case, for a triager. ``for_update`` takes its row lock first (see :func:`lock`).
    A case of a port the triager does not see is not found, as one that does not exist."""
    authorize(actor, Permission.triage)
    if for_update:
        lock(session=session, case_ids=[case_id])
    case = session.get(Case, case_id, populate_existing=for_update)
    if case is None or not staff_service.sees_port(
        session=session, actor=actor, port_id=case.port_id
    ):
        raise NotFound(N_("There is no such case."))
    return case


def sees_case(*, session: Session, actor: Staff, case_id: int | None) -> bool:
    """Whether the case exists and lies in a port ``actor`` sees."""
    case = session.get(Case, case_id) if case_id is not None else None
    return case is not None and staff_service.sees_port(
        session=session, actor=actor, port_id=case.port_id
    )


def lock(*, session: Session, case_ids: Iterable[int]) -> None:
    """Take the row lock of each case until the transaction ends, in id order.

    Every decision about who may receive a case (refer, retry a notice, take a notice to
    deliver) and every change to it (link or unlink a report, mark a body implicated, a
    body declining or closing) holds this lock, so two of them never interleave: a report
    excluding a body cannot join a case while that body is being sent it. One order (by
    id) for several cases means two requests never wait for each other in a circle. On
    SQLite every write transaction already holds the database's one writer lock (BEGIN
    IMMEDIATE), and FOR UPDATE is not rendered there."""
    ids = sorted(set(case_ids))
    if ids:
        session.exec(
            select(Case.id).where(col(Case.id).in_(ids)).order_by(col(Case.id)).with_for_update()
        ).all()


def acknowledge(*, session: Session, actor: Staff, case_id: int, now: datetime) -> Case:
    """Mark the case acknowledged; the feedback deadline starts."""
    case = get_case(session=session, actor=actor, case_id=case_id)
    if case.acknowledged_at is None:
        port = session.get(Port, case.port_id)
        case.acknowledged_at = now
        case.feedback_due = now + timedelta(days=port.feedback_days if port else 91)
        case.due_at = case.feedback_due
        if case.status == CaseStatus.new:
            case.status = CaseStatus.acknowledged
        session.add(case)
        session.flush()
    return case


def queue(
    *,
    session: Session,
    actor: Staff,
    filters: QueueFilter,
    now: datetime,
    page: int = 1,
    page_size: int = 50,
) -> QueuePage:
    """The triage queue: what is due first, with the filters a triager needs."""
    authorize(actor, Permission.triage)
    conditions = _conditions(session, actor, filters, now)
    total = session.exec(select(func.count()).select_from(Case).where(*conditions)).one()
    query = (
        select(Case, Category.name, Port.name, Zone.name)
        .join(Category, col(Category.id) == col(Case.category_id))
        .join(Port, col(Port.id) == col(Case.port_id))
        .outerjoin(Zone, col(Zone.id) == col(Case.zone_id))
        .where(*conditions)
        .order_by(col(Case.due_at).asc().nulls_last(), col(Case.id))
        .offset((page - 1) * page_size)
        .limit(page_size)
    )
    found = session.exec(query).all()
    case_ids = [case.id for case, *_names in found]
    tags: dict[int, list[str]] = {}
    for tag in session.exec(select(CaseTag).where(col(CaseTag.case_id).in_(case_ids))):
        tags.setdefault(tag.case_id, []).append(tag.tag)
    counts = _report_counts(session, case_ids)
    rows = [
        CaseRow(
            id=case.id or 0,
            reference=case.reference,
            title=case.title,
            status=CaseStatus(case.status),
            kind=case.kind,
            category=category_name,
            port=port_name,
            zone=zone_name,
            severity=case.severity,
            assignee_id=case.assignee_id,
            cargo_direction=case.cargo_direction,
            received_hour=case.received_hour,
            due_at=case.due_at,
            due="feedback" if case.acknowledged_at else "acknowledge",
            overdue=case.due_at is not None and case.due_at < now,
            reports=counts.get(case.id or 0, 0),
            tags=sorted(tags.get(case.id or 0, [])),
        )
        for case, category_name, port_name, zone_name in found
    ]
    return QueuePage(total=total, page=page, page_size=page_size, rows=rows)


def _report_counts(session: Session, case_ids: list[int | None]) -> dict[int, int]:
    query = (
        select(Report.case_id, func.count())
        .where(col(Report.case_id).in_(case_ids))
        .group_by(col(Report.case_id))
    )
    return {case_id: count for case_id, count in session.exec(query) if case_id is not None}


def _conditions(
    session: Session, actor: Staff, filters: QueueFilter, now: datetime
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    ports = staff_service.visible_ports(session=session, actor=actor)
    if ports is not None:
        conditions.append(col(Case.port_id).in_(ports))
    statuses = filters.status or list(OPEN)
    conditions.append(col(Case.status).in_([status.value for status in statuses]))
    if filters.kind:
        conditions.append(col(Case.kind) == filters.kind)
    if filters.category:
        conditions.append(
            col(Case.category_id).in_(select(Category.id).where(Category.code == filters.category))
        )
    if filters.port:
        conditions.append(col(Case.port_id).in_(select(Port.id).where(Port.code == filters.port)))
    if filters.zone:
        conditions.append(col(Case.zone_id).in_(select(Zone.id).where(Zone.code == filters.zone)))
    if filters.severity is not None:
        conditions.append(col(Case.severity) == filters.severity)
    if filters.assignee_id is not None:
        conditions.append(col(Case.assignee_id) == filters.assignee_id)
    if filters.overdue:
        conditions.append(col(Case.due_at) < now)
    if filters.cargo_direction:
        conditions.append(col(Case.cargo_direction) == filters.cargo_direction)
    if filters.body:
        referred = (
            select(Referral.case_id)
            .join(Body, col(Body.id) == col(Referral.body_id))
            .where(Body.code == filters.body, col(Referral.status) != "withdrawn")
        )
        conditions.append(col(Case.id).in_(referred))
    if filters.search:
        conditions.append(_search(session, filters.search))
    return conditions


# Three letters or digits in a row: the least from which pg_trgm takes a trigram for LIKE.
_TRIGRAM_WORD = re.compile(r"[^\W_]{3}")


def _search(session: Session, search: str) -> ColumnElement[bool]:
    """The case's reference, its title or one of its tags contains ``search``, whatever the
    case. What the triager typed is matched literally: % and _ are not wildcards here."""
    term = search.strip()
    pattern = "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    tagged = select(CaseTag.case_id).where(col(CaseTag.tag).ilike(pattern, escape="\\"))
    tag_match: ColumnElement[bool] = col(Case.id).in_(tagged)
    if session.get_bind().dialect.name == "postgresql" and _TRIGRAM_WORD.search(term):
        # Each column has a trigram index here (migration 0007), but an OR with a subquery
        # is still tested row by row on every open case, for the count and for the page.
        # As an array of ids the tag match is served by the primary key, and the three
        # become one BitmapOr of index scans (bench/queue.py, p95: reference 249 -> 5.5 ms,
        # tag 186 -> 29 ms). A UNION of the three matches is as fast for a reference but
        # slower than before for common words (docs/benchmarks.md). A term without a
        # trigram keeps the subquery: every open case is tested then, and against an array
        # (no hash) that took up to 2 s where the subquery's hash takes tens of ms.
        tag_match = col(Case.id) == any_(func.array(tagged.scalar_subquery()))
    # A report's reference is quoted whole (a reporter or a colleague gives it): an exact
    # match on its unique index.
    quoted = select(Report.case_id).where(Report.reference == term.upper())
    report_match: ColumnElement[bool] = col(Case.id).in_(quoted)
    if session.get_bind().dialect.name == "postgresql":
        # As a list of ids, like the tags above: an IN subquery inside the OR would be
        # tested row by row and stop the OR from being one BitmapOr of index scans.
        report_match = col(Case.id) == any_(func.array(quoted.scalar_subquery()))
    return or_(
        col(Case.reference).ilike(pattern, escape="\\"),
        col(Case.title).ilike(pattern, escape="\\"),
        tag_match,
        report_match,
    )


# Related reports ---------------------------------------------------------------------------

RELATED_WINDOW = timedelta(days=30)


def entity_hashes(keyring: KeyRing, texts: Sequence[str | None]) -> list[tuple[str, str]]:
    """Containers, ships and plates named in ``texts``, as keyed hashes: reports about the
    same thing can meet while their text stays sealed. Done before any database work."""
    found: dict[tuple[str, str], None] = {}
    for text in texts:
        for entity in extract_entities(text or ""):
            found[(entity.kind, keyring.lookup_hash(f"entity:{entity.kind}", entity.value))] = None
    return list(found)


def record_entities(
    *, session: Session, case_id: int, report_id: int, hashes: Sequence[tuple[str, str]]
) -> None:
    session.add_all(
        CaseEntity(case_id=case_id, report_id=report_id, kind=kind, value_hash=value_hash)
        for kind, value_hash in hashes
    )


@dataclass(frozen=True)
class Related:
    case_id: int
    reference: str
    reasons: tuple[str, ...]  # "same_place_and_category", "container", "imo", "plate"


def related_cases(*, session: Session, actor: Staff, case_id: int) -> list[Related]:
    """Cases that may be about the same thing: the same zone and category within 30 days,
    or a container, ship or plate named in both."""
    case = get_case(session=session, actor=actor, case_id=case_id)
    reasons: dict[int, set[str]] = {}
    if case.zone_id is not None:
        nearby = select(Case.id).where(
            col(Case.id) != case.id,
            col(Case.zone_id) == case.zone_id,
            col(Case.category_id) == case.category_id,
            col(Case.received_hour) >= case.received_hour - RELATED_WINDOW,
            col(Case.received_hour) <= case.received_hour + RELATED_WINDOW,
        )
        for other_id in session.exec(nearby):
            if other_id is not None:
                reasons.setdefault(other_id, set()).add("same_place_and_category")
    mine = select(CaseEntity.value_hash).where(CaseEntity.case_id == case.id)
    shared = select(CaseEntity.case_id, CaseEntity.kind).where(
        col(CaseEntity.value_hash).in_(mine), col(CaseEntity.case_id) != case.id
    )
    for other_id, kind in session.exec(shared):
        reasons.setdefault(other_id, set()).add(kind)
    if not reasons:
        return []
    found_cases = select(Case.id, Case.reference).where(col(Case.id).in_(list(reasons)))
    ports = staff_service.visible_ports(session=session, actor=actor)
    if ports is not None:
        found_cases = found_cases.where(col(Case.port_id).in_(ports))
    references = dict(session.exec(found_cases).all())
    return [
        Related(other_id, references[other_id], tuple(sorted(found)))
        for other_id, found in sorted(reasons.items())
        if other_id in references
    ]


def set_tags(*, session: Session, case: Case, tags: Sequence[str]) -> None:
    session.exec(delete(CaseTag).where(col(CaseTag.case_id) == case.id))
    assert case.id is not None
    session.add_all(CaseTag(case_id=case.id, tag=tag) for tag in tags)


def move_report(*, session: Session, report_id: int, from_case: int, to_case: int) -> None:
    """The report's entity hashes follow it into its new case."""
    session.exec(
        update(CaseEntity)
        .where(col(CaseEntity.report_id) == report_id, col(CaseEntity.case_id) == from_case)
        .values(case_id=to_case)
    )


def close_as_merged(*, session: Session, case_id: int, now: datetime) -> None:
    case = session.get(Case, case_id)
    if case is not None:
        case.status, case.resolution, case.closed_at, case.due_at = (
            CaseStatus.closed,
            "duplicate",
            now,
            None,
        )
        session.add(case)


# Counts by status --------------------------------------------------------------------------


def status_counts(
    *, session: Session, actor: Staff, filters: QueueFilter, now: datetime
) -> dict[str, int | None]:
    """How many cases each open status holds under ``filters``, whatever status they ask
    for: the queue shows next to its rows where else the same filters lead. Closed cases
    (four in five of all, bench/queue.py) are counted only when the filters ask for them;
    otherwise their count is None, and the page spares that scan."""
    authorize(actor, Permission.triage)
    counted = list(OPEN)
    if CaseStatus.closed in filters.status:
        counted.append(CaseStatus.closed)
    query = (
        select(Case.status, func.count())
        .where(*_conditions(session, actor, filters.model_copy(update={"status": counted}), now))
        .group_by(col(Case.status))
    )
    counts: dict[str, int | None] = dict.fromkeys((status.value for status in CaseStatus), 0)
    if CaseStatus.closed not in counted:
        counts[CaseStatus.closed.value] = None
    counts.update(session.exec(query).all())
    return counts
