"""Triage work on a case: reading its reports (each view audited), acknowledging, and
writing to the reporter, who answers with their receipt code."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from api.audit import service as audit_service
from api.cases import service as cases_service
from api.cases.models import CaseTag
from api.cases.schemas import CaseStatus
from api.crypto import KeyRing, open_text, seal_text
from api.errors import Conflict, NotFound, invalid_field
from api.i18n import N_, translate
from api.keystore import service as keystore
from api.policy import Permission, allows
from api.ports.models import Port, Zone
from api.referrals import service as referrals_service
from api.referrals.models import LIVE_STATUSES, Referral
from api.reports import service as reports_service
from api.reports import steps
from api.reports.models import ReportExclusion
from api.retention import policy as retention_policy
from api.staff import service as staff_service
from api.staff.models import Staff
from api.taxonomy import service as taxonomy_service
from api.triage.models import CaseNote
from api.triage.schemas import CaseClose, CaseDetail, CaseUpdate, NoteIn, NoteView, ReplyIn

NOTE_LABEL = b"case.note"

ACKNOWLEDGEMENT = N_(
    "Thank you. Your report has been received and is being looked at by the team. "
    "We will write to you here if we have questions."
)


def _audit(
    session: Session, keyring: KeyRing, actor: Staff, action: str, case_id: int, now: datetime
) -> None:
    audit_service.record(
        session=session,
        keyring=keyring,
        action=action,
        now=now,
        actor_id=actor.id,
        actor=actor.email,
        object_type="case",
        object_id=case_id,
    )


def case_detail(
    *, session: Session, keyring: KeyRing, actor: Staff, case_id: int, now: datetime
) -> CaseDetail:
    """The case with its reports decrypted; the view is written to the audit log."""
    case = cases_service.get_case(session=session, actor=actor, case_id=case_id)
    assert case.id is not None
    reports = [
        reports_service.staff_view(session=session, keyring=keyring, report=report)
        for report in reports_service.reports_of_case(session=session, case_id=case.id)
    ]
    _audit(session, keyring, actor, "case.viewed", case.id, now)
    category = taxonomy_service.get_category(session=session, category_id=case.category_id)
    port = session.get(Port, case.port_id)
    zone = session.get(Zone, case.zone_id) if case.zone_id is not None else None
    tags = session.exec(
        select(CaseTag.tag).where(CaseTag.case_id == case.id).order_by(col(CaseTag.tag))
    ).all()
    return CaseDetail(
        id=case.id,
        reference=case.reference,
        status=CaseStatus(case.status),
        title=case.title,
        kind=case.kind,
        category=category.name if category else "",
        category_code=category.code if category else "",
        port=port.name if port else "",
        port_code=port.code if port else "",
        zone=zone.name if zone else None,
        cargo_direction=case.cargo_direction,
        severity=case.severity,
        tlp=case.tlp,
        tags=list(tags),
        assignee_id=case.assignee_id,
        resolution=case.resolution,
        closed_at=case.closed_at,
        received_hour=case.received_hour,
        acknowledge_due=case.acknowledge_due,
        acknowledged_at=case.acknowledged_at,
        feedback_due=case.feedback_due,
        due_at=case.due_at,
        overdue=case.due_at is not None and case.due_at < now,
        due="" if case.due_at is None else "feedback" if case.acknowledged_at else "acknowledge",
        purge_at=retention_policy.purge_at(case, port) if port else None,
        legal_hold_reason=case.legal_hold_reason,
        reports=reports,
        notes=_notes(session, keyring, case.id),
    )


# Internal notes ------------------------------------------------------------------------------


def _notes(session: Session, keyring: KeyRing, case_id: int) -> list[NoteView]:
    found = session.exec(
        select(CaseNote, Staff)
        .outerjoin(Staff, col(Staff.id) == col(CaseNote.author_id))
        .where(CaseNote.case_id == case_id)
        .order_by(col(CaseNote.id))
    ).all()
    return [
        NoteView(
            id=note.id or 0,
            author=author.shown_name if author else "",
            body=open_text(keyring.unwrap(note.wrapped_key), note.body_sealed, label=NOTE_LABEL),
            created_at=note.created_at,
        )
        for note, author in found
    ]


def add_note(
    *,
    session: Session,
    keyring: KeyRing,
    actor: Staff,
    case_id: int,
    note_in: NoteIn,
    now: datetime,
) -> None:
    """A note for the team only: the reporter and the bodies never see it."""
    cases_service.get_case(session=session, actor=actor, case_id=case_id)
    data_key, wrapped = keystore.new_data_key(session, keyring)
    session.add(
        CaseNote(
            case_id=case_id,
            author_id=actor.id,
            wrapped_key=wrapped,
            body_sealed=seal_text(data_key, note_in.body, label=NOTE_LABEL),
            created_at=now,
        )
    )
    _audit(session, keyring, actor, "case.note_added", case_id, now)


# Photos --------------------------------------------------------------------------------------


def attachment(
    *,
    session: Session,
    keyring: KeyRing,
    actor: Staff,
    case_id: int,
    report_reference: str,
    seq: int,
    now: datetime,
) -> tuple[str, bytes]:
    """A cleaned photo of one of the case's reports; each view is audited."""
    cases_service.get_case(session=session, actor=actor, case_id=case_id)
    report = reports_service.find_by_reference(session=session, reference=report_reference)
    if report is None or report.case_id != case_id:
        raise NotFound(N_("This report is not part of this case."))
    media_type, content = reports_service.staff_attachment(
        session=session, keyring=keyring, report=report, seq=seq
    )
    audit_service.record(
        session=session,
        keyring=keyring,
        action="case.attachment_viewed",
        now=now,
        actor_id=actor.id,
        actor=actor.email,
        object_type="case",
        object_id=case_id,
        detail={"report": report.reference, "attachment": seq},
    )
    return media_type, content


def acknowledge(
    *, session: Session, keyring: KeyRing, actor: Staff, case_id: int, now: datetime
) -> None:
    """Acknowledge the case; each reporter reads a message saying so, in their language."""
    case = cases_service.get_case(session=session, actor=actor, case_id=case_id)
    if case.acknowledged_at is not None:
        return
    cases_service.acknowledge(session=session, actor=actor, case_id=case_id, now=now)
    for report in reports_service.reports_of_case(session=session, case_id=case_id):
        report.status = "acknowledged"
        steps.record(session, report, steps.ACKNOWLEDGED, now)
        reports_service.add_team_message(
            session=session,
            keyring=keyring,
            report=report,
            body=translate(ACKNOWLEDGEMENT, report.language),
            now=now,
        )
    _audit(session, keyring, actor, "case.acknowledged", case_id, now)


def reply(
    *,
    session: Session,
    keyring: KeyRing,
    actor: Staff,
    case_id: int,
    reply_in: ReplyIn,
    now: datetime,
) -> None:
    """Write to the reporter of one report of the case; a question makes the case wait."""
    case = cases_service.get_case(session=session, actor=actor, case_id=case_id)
    report = next(
        (
            report
            for report in reports_service.reports_of_case(session=session, case_id=case_id)
            if report.reference == reply_in.report
        ),
        None,
    )
    if report is None:
        raise NotFound(N_("This report is not part of this case."))
    reports_service.add_team_message(
        session=session, keyring=keyring, report=report, body=reply_in.body, now=now
    )
    if reply_in.question:
        case.status = CaseStatus.waiting_for_reporter
        report.status = "waiting_for_reporter"
        steps.record(session, report, steps.QUESTION, now)
        session.add(case)
        session.add(report)
    _audit(
        session,
        keyring,
        actor,
        "case.question" if reply_in.question else "case.reply",
        case_id,
        now,
    )


def update(
    *,
    session: Session,
    keyring: KeyRing,
    actor: Staff,
    case_id: int,
    changes: CaseUpdate,
    now: datetime,
) -> None:
    case = cases_service.get_case(session=session, actor=actor, case_id=case_id)
    if changes.category is not None:
        category = taxonomy_service.find_category(session=session, code=changes.category)
        kind = changes.kind or case.kind
        if category is None or category.id is None:
            raise invalid_field("category", N_("There is no such category."))
        if category.kind != kind:
            raise invalid_field(
                "category", N_("This category does not belong to this kind of report.")
            )
        case.category_id = category.id
    if changes.kind is not None:
        case.kind = changes.kind
    for name in ("title", "severity", "tlp"):
        value = getattr(changes, name)
        if value is not None:
            setattr(case, name, value)
    if "assignee_id" in changes.model_fields_set:
        # null takes the case off whoever had it.
        if changes.assignee_id is not None:
            assignee = session.get(Staff, changes.assignee_id)
            if (
                assignee is None
                or not assignee.active
                or not allows(assignee.role, Permission.triage)
            ):
                raise invalid_field("assignee_id", N_("Choose a triager with an active account."))
            if not staff_service.sees_port(session=session, actor=assignee, port_id=case.port_id):
                raise invalid_field(
                    "assignee_id", N_("Choose a triager who looks after this case's port.")
                )
        case.assignee_id = changes.assignee_id
    if changes.tags is not None:
        cases_service.set_tags(session=session, case=case, tags=changes.tags)
    session.add(case)
    changed = sorted(changes.model_fields_set)
    audit_service.record(
        session=session,
        keyring=keyring,
        action="case.updated",
        now=now,
        actor_id=actor.id,
        actor=actor.email,
        object_type="case",
        object_id=case_id,
        detail={"fields": ",".join(changed)},
    )


def close(
    *,
    session: Session,
    keyring: KeyRing,
    actor: Staff,
    case_id: int,
    closing: CaseClose,
    now: datetime,
) -> None:
    """Close with a resolution; every reporter of the case reads the outcome."""
    case = cases_service.get_case(session=session, actor=actor, case_id=case_id)
    case.status, case.resolution, case.closed_at, case.due_at = (
        CaseStatus.closed,
        closing.resolution,
        now,
        None,
    )
    session.add(case)
    for report in reports_service.reports_of_case(session=session, case_id=case_id):
        report.status = "closed"
        steps.record(session, report, steps.CLOSED, now)
        reports_service.add_team_message(
            session=session, keyring=keyring, report=report, body=closing.outcome, now=now
        )
    _audit(session, keyring, actor, "case.closed", case_id, now)


def reopen(
    *, session: Session, keyring: KeyRing, actor: Staff, case_id: int, now: datetime
) -> None:
    case = cases_service.get_case(session=session, actor=actor, case_id=case_id)
    if case.status != CaseStatus.closed:
        return
    case.status = CaseStatus.acknowledged if case.acknowledged_at else CaseStatus.new
    case.closed_at, case.resolution = None, ""
    case.due_at = case.feedback_due if case.acknowledged_at else case.acknowledge_due
    session.add(case)
    for report in reports_service.reports_of_case(session=session, case_id=case_id):
        report.status = "acknowledged" if case.acknowledged_at else "received"
        steps.record(session, report, steps.REOPENED, now)
        session.add(report)
    _audit(session, keyring, actor, "case.reopened", case_id, now)


def link(
    *,
    session: Session,
    keyring: KeyRing,
    actor: Staff,
    case_id: int,
    report_reference: str,
    now: datetime,
) -> None:
    """Move a report (a duplicate) into this case; its old case closes when left empty.

    Both cases are locked first (cases_service.lock), then the report is read again: a
    body being sent the case at this moment either has its referral before the check
    below, which then refuses, or is refused itself once the report is in."""
    target = cases_service.get_case(session=session, actor=actor, case_id=case_id)
    report = reports_service.find_by_reference(session=session, reference=report_reference)
    if (
        report is None
        or target.id is None
        or not cases_service.sees_case(session=session, actor=actor, case_id=report.case_id)
    ):
        # A report of a port the triager does not see is not there for them either.
        raise NotFound(N_("There is no such report."))
    assert report.case_id is not None
    old_case_id = report.case_id
    cases_service.lock(session=session, case_ids=[target.id, old_case_id])
    session.refresh(report)
    if report.case_id != old_case_id:
        raise Conflict(N_("This report was moved meanwhile. Reload the page and try again."))
    if old_case_id == target.id:
        return
    _refuse_if_excluded_body_has_it(session, report.id or 0, target.id)
    cases_service.move_report(
        session=session, report_id=report.id or 0, from_case=old_case_id, to_case=target.id
    )
    report.case_id = target.id
    session.add(report)
    session.flush()
    if not reports_service.reports_of_case(session=session, case_id=old_case_id):
        cases_service.close_as_merged(session=session, case_id=old_case_id, now=now)
    # A body the report's reporter excluded gets nothing more of this case, even from a
    # referral it has already declined or closed.
    referrals_service.cancel_undeliverable(session=session, case_id=target.id)
    _audit(session, keyring, actor, "case.report_linked", target.id, now)


def unlink(
    *,
    session: Session,
    keyring: KeyRing,
    actor: Staff,
    case_id: int,
    report_reference: str,
    now: datetime,
) -> int:
    """Take a report out of this case into a new case of its own; returns that case's id."""
    case = cases_service.get_case(session=session, actor=actor, case_id=case_id, for_update=True)
    report = reports_service.find_by_reference(session=session, reference=report_reference)
    if report is None or report.case_id != case.id or case.id is None:
        raise NotFound(N_("This report is not part of this case."))
    if len(reports_service.reports_of_case(session=session, case_id=case.id)) == 1:
        raise Conflict(N_("A case keeps at least one report."))
    own = cases_service.open_case(
        session=session,
        kind=report.kind,
        category_id=report.category_id,
        port_id=report.port_id,
        zone_id=report.zone_id,
        cargo_direction=report.cargo_direction,
        received_hour=report.received_hour,
    )
    assert own.id is not None
    cases_service.move_report(
        session=session, report_id=report.id or 0, from_case=case.id, to_case=own.id
    )
    report.case_id = own.id
    session.add(report)
    _audit(session, keyring, actor, "case.report_unlinked", case.id, now)
    return own.id


def _refuse_if_excluded_body_has_it(session: Session, report_id: int, case_id: int) -> None:
    """A report never joins a case that a body its reporter excluded is already working:
    that body would then read what follows of it (answers, updates)."""
    clash = session.exec(
        select(ReportExclusion.body_id)
        .join(Referral, col(Referral.body_id) == col(ReportExclusion.body_id))
        .where(
            ReportExclusion.report_id == report_id,
            Referral.case_id == case_id,
            col(Referral.status).in_(LIVE_STATUSES),
        )
    ).first()
    if clash is not None:
        raise Conflict(
            N_(
                "This report's reporter excluded a body that already has this case. Keep the "
                "report in a case of its own."
            )
        )
