"""The liaison officer's side of a referral: only referrals to their own body, worked in the
open with triage. Questions for the reporter go through triage, which approves or edits
them; the reporter's answer comes back into the referral's timeline."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, col, select

from api.audit import service as audit_service
from api.cases import service as cases_service
from api.cases.models import Case
from api.cases.schemas import CaseStatus
from api.crypto import KeyRing, open_sealed
from api.errors import Conflict, Gone, NotFound, invalid_field
from api.i18n import N_
from api.policy import Permission, allows
from api.referrals import export, timeline
from api.referrals import service as referrals_service
from api.referrals.models import LIVE_STATUSES, Referral, ReferralAttachment, ReferralEvent
from api.referrals.schemas import LiaisonReferral, ReferralRow, TimelineEntry
from api.reports import service as reports_service
from api.reports import steps
from api.retention import tombstones
from api.staff.models import Staff
from api.staff.service import authorize

# What each step needs the referral to be in, and what it becomes.
STEPS: dict[str, tuple[tuple[str, ...], str]] = {
    "acknowledged": (("sent",), "acknowledged"),
    "accepted": (("sent", "acknowledged"), "accepted"),
    "declined": (("sent", "acknowledged"), "declined"),
    "closed": (("accepted",), "closed"),
}
AUTHORITY_AUTHOR = "authority"


PURGED_REFERRAL = N_("{reference}: deleted under retention")


def _own(session: Session, actor: Staff, reference: str) -> Referral:
    """A referral to the actor's own body, or "not found" — never a hint that it exists.
    A referral withdrawn, or of a case the body may never receive, is not theirs either.
    One to their body that was purged is "gone", and says so."""
    authorize(actor, Permission.work_referrals)
    referral = session.exec(select(Referral).where(Referral.reference == reference)).first()
    if (
        referral is None
        and actor.body_id is not None
        and tombstones.referral_purged(session=session, reference=reference, body_id=actor.body_id)
    ):
        raise Gone(PURGED_REFERRAL, reference=reference)
    if (
        referral is None
        or actor.body_id is None
        or referral.body_id != actor.body_id
        or referral.status == "withdrawn"
        or referral.body_id
        in referrals_service.forbidden_bodies(session=session, case_id=referral.case_id)
    ):
        raise NotFound(N_("There is no such referral."))
    return referral


def _audit(
    session: Session,
    keyring: KeyRing,
    actor: Staff,
    action: str,
    referral: Referral,
    now: datetime,
) -> None:
    audit_service.record(
        session=session,
        keyring=keyring,
        action=action,
        now=now,
        actor_id=actor.id,
        actor=actor.email,
        object_type="referral",
        object_id=referral.reference,
    )


def inbox(*, session: Session, actor: Staff, now: datetime) -> list[ReferralRow]:
    """The referrals to the actor's body, what is due first."""
    authorize(actor, Permission.work_referrals)
    if actor.body_id is None:
        return []
    referrals = session.exec(
        select(Referral)
        .where(Referral.body_id == actor.body_id, col(Referral.status) != "withdrawn")
        .order_by(
            col(Referral.closed_at).is_not(None), col(Referral.acknowledge_due), col(Referral.id)
        )
    ).all()
    blocked = {
        referral.case_id
        for referral in referrals
        if referral.body_id
        in referrals_service.forbidden_bodies(session=session, case_id=referral.case_id)
    }
    return [
        ReferralRow(
            reference=referral.reference,
            status=referral.status,
            kind=referral.kind,
            severity=referral.severity,
            tlp=referral.tlp,
            created_at=referral.created_at,
            acknowledge_due=referral.acknowledge_due,
            overdue=_overdue(referral, now),
            pending_questions=_pending_questions(session, referral),
        )
        for referral in referrals
        if referral.case_id not in blocked
    ]


def purged(*, session: Session, actor: Staff) -> list[str]:
    """The references of the referrals to the actor's body that were purged under the
    retention rules: all that is left of them."""
    authorize(actor, Permission.work_referrals)
    if actor.body_id is None:
        return []
    return tombstones.purged_referrals(session=session, body_id=actor.body_id)


def _overdue(referral: Referral, now: datetime) -> bool:
    return (
        referral.acknowledged_at is None
        and referral.status in LIVE_STATUSES
        and referral.acknowledge_due < now
    )


def _pending_questions(session: Session, referral: Referral) -> int:
    return len(
        session.exec(
            select(ReferralEvent.id).where(
                ReferralEvent.referral_id == referral.id,
                ReferralEvent.kind == "question",
                ReferralEvent.state == "pending",
            )
        ).all()
    )


def entries(session: Session, keyring: KeyRing, referral: Referral) -> list[TimelineEntry]:
    """The referral's timeline, each event's text opened and its author named."""
    events = timeline.events_of(session=session, referral_id=referral.id or 0)
    author_ids = {event.author_id for event in events if event.author_id is not None}
    authors = {
        staff.id: staff.shown_name
        for staff in session.exec(select(Staff).where(col(Staff.id).in_(author_ids)))
    }
    data_key = keyring.unwrap(referral.wrapped_key)
    return [
        TimelineEntry(
            seq=event.seq,
            kind=event.kind,
            side=event.side,
            author=authors.get(event.author_id, "") if event.author_id else "",
            text=timeline.text_of(data_key, event),
            state=event.state,
            created_at=event.created_at,
        )
        for event in events
    ]


def referral_page(
    *, session: Session, keyring: KeyRing, actor: Staff, reference: str, now: datetime
) -> LiaisonReferral:
    """The referral as shared, and its timeline; the view is audited."""
    referral = _own(session, actor, reference)
    _audit(session, keyring, actor, "referral.viewed", referral, now)
    return LiaisonReferral(
        referral=referrals_service.view_of(
            session=session, keyring=keyring, referral=referral, now=now
        ),
        timeline=entries(session, keyring, referral),
    )


def photo(
    *, session: Session, keyring: KeyRing, actor: Staff, reference: str, seq: int, now: datetime
) -> tuple[str, bytes]:
    referral = _own(session, actor, reference)
    attachment = session.exec(
        select(ReferralAttachment).where(
            ReferralAttachment.referral_id == referral.id, ReferralAttachment.seq == seq
        )
    ).first()
    if attachment is None:
        raise NotFound(N_("There is no such picture."))
    content = open_sealed(
        keyring.unwrap(referral.wrapped_key),
        attachment.content_sealed,
        label=referrals_service.PHOTO_LABEL,
    )
    _audit(session, keyring, actor, "referral.photo_viewed", referral, now)
    return attachment.media_type, content


def step(
    *,
    session: Session,
    keyring: KeyRing,
    actor: Staff,
    reference: str,
    to: str,
    text: str | None,
    now: datetime,
) -> None:
    """Acknowledge, accept, decline (with a reason) or close (with an outcome)."""
    referral = _own(session, actor, reference)
    # Declining or closing ends what may be delivered to the body: under the case's lock,
    # like every change to who may receive it (api.cases.service.lock).
    cases_service.lock(session=session, case_ids=[referral.case_id])
    session.refresh(referral)
    allowed_from, status = STEPS[to]
    text = text.strip() if text else None
    if to == "declined" and not text:
        raise invalid_field("text", N_("Say why the body declines: triage reads it."))
    if to == "closed" and not text:
        raise invalid_field("text", N_("Write the outcome: the reporter reads it."))
    if referral.status == status:
        return
    if referral.status not in allowed_from:
        raise Conflict(N_("This referral cannot take that step now."))
    referral.status = status
    if to in ("acknowledged", "accepted", "declined") and referral.acknowledged_at is None:
        referral.acknowledged_at = now
    if to == "accepted":
        referral.accepted_at = now
    if to == "declined":
        referral.declined_at = now
        _back_to_triage(session, referral)
    if to == "closed":
        referral.closed_at = now
        # The reporter reads the outcome from the authority that handled the report, and
        # their status says so at once unless another body still works the case.
        others_working = _others_working(session, referral)
        for report in reports_service.reports_of_case(session=session, case_id=referral.case_id):
            reports_service.add_team_message(
                session=session,
                keyring=keyring,
                report=report,
                body=text or "",
                now=now,
                author=AUTHORITY_AUTHOR,
            )
            steps.record(session, report, steps.OUTCOME, now, body_id=referral.body_id)
            if not others_working and report.status == "referred":
                report.status = "outcome"
                session.add(report)
    session.add(referral)
    referrals_service.cancel_undeliverable(session=session, case_id=referral.case_id)
    timeline.add_event(
        session=session,
        keyring=keyring,
        referral=referral,
        kind=to,
        side="body",
        author_id=actor.id,
        text=text,
        now=now,
    )
    _audit(session, keyring, actor, f"referral.{to}", referral, now)


def _others_working(session: Session, referral: Referral) -> bool:
    """Whether a body other than ``referral``'s still holds a live referral of its case."""
    others = session.exec(
        select(Referral.id).where(
            Referral.case_id == referral.case_id,
            Referral.id != referral.id,
            col(Referral.status).in_(LIVE_STATUSES),
        )
    ).first()
    return others is not None


def _back_to_triage(session: Session, referral: Referral) -> None:
    """A declined case waits for triage again, unless another body still works it."""
    case = session.get(Case, referral.case_id)
    if (
        not _others_working(session, referral)
        and case is not None
        and case.status == CaseStatus.referred
    ):
        case.status = CaseStatus.in_progress
        session.add(case)
        for report in reports_service.reports_of_case(session=session, case_id=case.id or 0):
            report.status = "in_progress"
            session.add(report)


def write(
    *,
    session: Session,
    keyring: KeyRing,
    actor: Staff,
    reference: str,
    kind: str,
    text: str,
    now: datetime,
) -> None:
    """An update for triage, or a question for the reporter (waiting for triage)."""
    referral = _own(session, actor, reference)
    if referral.status not in LIVE_STATUSES:
        raise Conflict(N_("This referral is no longer being worked."))
    timeline.add_event(
        session=session,
        keyring=keyring,
        referral=referral,
        kind=kind,
        side="body",
        author_id=actor.id,
        text=text,
        now=now,
        state="pending" if kind == "question" else "",
    )
    _audit(session, keyring, actor, f"referral.{kind}", referral, now)


# Triage's side of the body's questions -----------------------------------------------------


def timelines_of_case(
    *, session: Session, keyring: KeyRing, actor: Staff, case_id: int
) -> dict[str, list[TimelineEntry]]:
    """The full timeline of each of the case's referrals, by reference, for triage."""
    cases_service.get_case(session=session, actor=actor, case_id=case_id)
    found: dict[str, list[TimelineEntry]] = {}
    for referral in session.exec(
        select(Referral).where(Referral.case_id == case_id).order_by(col(Referral.id))
    ):
        found[referral.reference] = entries(session, keyring, referral)
    return found


def answer_question(
    *,
    session: Session,
    keyring: KeyRing,
    actor: Staff,
    case_id: int,
    reference: str,
    seq: int,
    text: str | None,
    now: datetime,
    as_asked: bool = False,
) -> None:
    """Triage approves the body's question (``text`` as edited, or as asked), and every
    reporter of the case reads it as coming from the authority handling their report; or,
    with no text and not ``as_asked``, refuses to pass it on."""
    cases_service.get_case(session=session, actor=actor, case_id=case_id)
    referral = session.exec(
        select(Referral).where(Referral.reference == reference, Referral.case_id == case_id)
    ).first()
    event = (
        session.exec(
            select(ReferralEvent).where(
                ReferralEvent.referral_id == referral.id, ReferralEvent.seq == seq
            )
        ).first()
        if referral
        else None
    )
    if referral is None or event is None or event.kind != "question":
        raise NotFound(N_("There is no such question."))
    if event.state != "pending":
        raise Conflict(N_("This question was already dealt with."))
    referrals_service.refuse_if_forbidden(
        session=session, case_id=case_id, body_id=referral.body_id
    )
    if text is None and not as_asked:
        event.state = "refused"
        session.add(event)
        _audit(session, keyring, actor, "referral.question_refused", referral, now)
        return
    asked = timeline.text_of(keyring.unwrap(referral.wrapped_key), event) or ""
    text = text if text is not None else asked
    event.state = "sent"
    session.add(event)
    if text != asked:
        timeline.add_event(
            session=session,
            keyring=keyring,
            referral=referral,
            kind="question_edited",
            side="triage",
            author_id=actor.id,
            text=text,
            now=now,
        )
    case = session.get(Case, case_id)
    for report in reports_service.reports_of_case(session=session, case_id=case_id):
        reports_service.add_team_message(
            session=session,
            keyring=keyring,
            report=report,
            body=text,
            now=now,
            author=AUTHORITY_AUTHOR,
        )
        report.status = "waiting_for_reporter"
        steps.record(session, report, steps.QUESTION, now)
        session.add(report)
    if case is not None and case.status != CaseStatus.closed:
        case.status = CaseStatus.waiting_for_reporter
        session.add(case)
    _audit(session, keyring, actor, "referral.question_approved", referral, now)


def referrals_of_body(*, session: Session, body_id: int) -> Sequence[Referral]:
    return session.exec(select(Referral).where(Referral.body_id == body_id)).all()


def exported(
    *,
    session: Session,
    keyring: KeyRing,
    actor: Staff,
    reference: str,
    stix: bool,
    public_url: str,
    now: datetime,
) -> dict[str, object]:
    """The referral as JSON or as a STIX 2.1 bundle, for its own body or for triage."""
    if allows(actor.role, Permission.triage):
        referral = referrals_service.find(session=session, reference=reference)
        if not cases_service.sees_case(session=session, actor=actor, case_id=referral.case_id):
            raise NotFound(N_("There is no such referral."))
    else:
        referral = _own(session, actor, reference)
    build = export.stix_bundle if stix else export.referral_document
    document = build(session=session, keyring=keyring, referral=referral, public_url=public_url)
    _audit(session, keyring, actor, "referral.exported", referral, now)
    return document
