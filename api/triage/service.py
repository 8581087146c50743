"""Triage work on a case: reading its reports (each view audited), acknowledging, and
writing to the reporter, who answers with their receipt code."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from api.audit import service as audit_service
from api.cases import service as cases_service
from api.cases.schemas import CaseStatus
from api.crypto import KeyRing
from api.errors import Conflict, NotFound, invalid_field
from api.i18n import N_, translate
from api.reports import service as reports_service
from api.staff.models import Staff
from api.taxonomy import service as taxonomy_service
from api.triage.schemas import CaseClose, CaseDetail, CaseUpdate, ReplyIn

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
    return CaseDetail(
        id=case.id,
        reference=case.reference,
        status=CaseStatus(case.status),
        title=case.title,
        kind=case.kind,
        category=category.name if category else "",
        severity=case.severity,
        tlp=case.tlp,
        received_hour=case.received_hour,
        acknowledge_due=case.acknowledge_due,
        acknowledged_at=case.acknowledged_at,
        feedback_due=case.feedback_due,
        due_at=case.due_at,
        overdue=case.due_at is not None and case.due_at < now,
        reports=reports,
    )


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
        if category is None or category.kind != kind or category.id is None:
            raise invalid_field(
                "category", N_("This category does not belong to this kind of report.")
            )
        case.category_id = category.id
    if changes.kind is not None:
        case.kind = changes.kind
    for name in ("title", "severity", "tlp", "assignee_id"):
        value = getattr(changes, name)
        if value is not None:
            setattr(case, name, value)
    if changes.tags is not None:
        cases_service.set_tags(session=session, case=case, tags=changes.tags)
    session.add(case)
    changed = sorted(name for name, value in changes.model_dump(exclude_none=True).items())
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
    """Move a report (a duplicate) into this case; its old case closes when left empty."""
    target = cases_service.get_case(session=session, actor=actor, case_id=case_id)
    report = reports_service.find_by_reference(session=session, reference=report_reference)
    if report is None or report.case_id is None or target.id is None:
        raise NotFound(N_("There is no such report."))
    old_case_id = report.case_id
    if old_case_id == target.id:
        return
    cases_service.move_report(
        session=session, report_id=report.id or 0, from_case=old_case_id, to_case=target.id
    )
    report.case_id = target.id
    session.add(report)
    session.flush()
    if not reports_service.reports_of_case(session=session, case_id=old_case_id):
        cases_service.close_as_merged(session=session, case_id=old_case_id, now=now)
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
    case = cases_service.get_case(session=session, actor=actor, case_id=case_id)
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
