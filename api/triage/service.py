"""Triage work on a case: reading its reports (each view audited), acknowledging, and
writing to the reporter, who answers with their receipt code."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from api.audit import service as audit_service
from api.cases import service as cases_service
from api.cases.schemas import CaseStatus
from api.crypto import KeyRing
from api.errors import NotFound
from api.i18n import N_, translate
from api.reports import service as reports_service
from api.staff.models import Staff
from api.taxonomy import service as taxonomy_service
from api.triage.schemas import CaseDetail, ReplyIn

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
