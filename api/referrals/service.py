"""Referring a case to a receiving body: what triage chooses to share, and the one rule no
referral ever breaks: a body that the reporter excluded, or that triage found implicated,
never receives the case.

A referral stores its own sealed copy of what was shared (summary, chosen photos, the
identities the reporters agreed to pass on), so later edits to the case change nothing
that a body already received."""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import delete
from sqlmodel import Session, col, select

from api.agencies import service as agencies_service
from api.agencies.models import Body
from api.audit import service as audit_service
from api.cases import service as cases_service
from api.cases.models import Case
from api.cases.schemas import CaseStatus
from api.crypto import KeyRing, open_sealed, open_text, seal, seal_text
from api.errors import Conflict, FieldProblem, Forbidden, NotFound, invalid_field
from api.i18n import N_
from api.keystore import service as keystore
from api.ports.models import Port, Zone
from api.referrals import timeline
from api.referrals.models import (
    LIVE_STATUSES,
    CaseImplicatedBody,
    OutboxJob,
    Referral,
    ReferralAttachment,
)
from api.referrals.schemas import (
    BodyChoice,
    DeliveryView,
    ReferralDraft,
    ReferralIn,
    ReferralView,
    SharedIdentity,
    SharedPhoto,
)
from api.reports import service as reports_service
from api.reports import steps
from api.reports.models import Attachment, Report, ReportExclusion
from api.reports.service import Label
from api.routing import service as routing_service
from api.staff.models import Staff
from api.taxonomy.models import Category

SUMMARY_LABEL = b"referral.summary"
IDENTITY_LABEL = b"referral.identity"
PHOTO_NAME_LABEL = b"referral.photo.name"
PHOTO_LABEL = b"referral.photo.content"
ACKNOWLEDGE_WORKING_DAYS = 2
_REFERENCE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

EXCLUDED_BY_REPORTER = "excluded_by_reporter"
IMPLICATED = "implicated"
ALREADY_REFERRED = "already_referred"  # a live referral to the body exists: not twice


def add_working_days(start: datetime, days: int) -> datetime:
    """``start`` moved on by ``days`` days from Monday to Friday."""
    moment = start
    while days > 0:
        moment += timedelta(days=1)
        if moment.weekday() < 5:
            days -= 1
    return moment


def _new_reference() -> str:
    return "F-" + "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(8))


# Who may never receive the case -----------------------------------------------------------


def forbidden_bodies(*, session: Session, case_id: int) -> dict[int, str]:
    """Bodies that can never receive this case, with the reason: a reporter of one of its
    reports excluded them, or triage marked them implicated."""
    blocked: dict[int, str] = {}
    excluded = (
        select(ReportExclusion.body_id)
        .join(Report, col(Report.id) == col(ReportExclusion.report_id))
        .where(Report.case_id == case_id)
    )
    for body_id in session.exec(excluded):
        blocked[body_id] = EXCLUDED_BY_REPORTER
    implicated = select(CaseImplicatedBody.body_id).where(CaseImplicatedBody.case_id == case_id)
    for body_id in session.exec(implicated):
        blocked.setdefault(body_id, IMPLICATED)
    return blocked


def implicated_bodies(*, session: Session, case_id: int) -> Sequence[Body]:
    query = (
        select(Body)
        .join(CaseImplicatedBody, col(CaseImplicatedBody.body_id) == col(Body.id))
        .where(CaseImplicatedBody.case_id == case_id)
        .order_by(col(Body.name))
    )
    return session.exec(query).all()


def mark_implicated(
    *, session: Session, keyring: KeyRing, actor: Staff, case_id: int, body_code: str, now: datetime
) -> None:
    """Triage found ``body`` implicated: it never receives this case. A referral it already
    has is withdrawn: the body loses sight of it and nothing more is delivered to it."""
    case = cases_service.get_case(session=session, actor=actor, case_id=case_id, for_update=True)
    body = _body(session, actor, body_code)
    if session.get(CaseImplicatedBody, (case.id, body.id)) is None:
        session.add(
            CaseImplicatedBody(
                case_id=case_id, body_id=body.id or 0, marked_by=actor.id, marked_at=now
            )
        )
    for referral in session.exec(
        select(Referral).where(
            Referral.case_id == case_id,
            Referral.body_id == body.id,
            col(Referral.status).in_(LIVE_STATUSES),
        )
    ):
        referral.status = "withdrawn"
        referral.closed_at = now
        session.add(referral)
    cancel_undeliverable(session=session, case_id=case_id)
    _audit(session, keyring, actor, "case.body_implicated", case_id, now, {"body": body.code})


def unmark_implicated(
    *, session: Session, keyring: KeyRing, actor: Staff, case_id: int, body_code: str, now: datetime
) -> None:
    cases_service.get_case(session=session, actor=actor, case_id=case_id, for_update=True)
    body = _body(session, actor, body_code)
    session.exec(
        delete(CaseImplicatedBody).where(
            col(CaseImplicatedBody.case_id) == case_id, col(CaseImplicatedBody.body_id) == body.id
        )
    )
    _audit(session, keyring, actor, "case.body_not_implicated", case_id, now, {"body": body.code})


def undeliverable_reason(*, session: Session, referral: Referral) -> str | None:
    """Why nothing more may be delivered for ``referral`` (the body may no longer receive
    the case: a reporter excluded it or it is implicated; or the referral is no longer
    live: withdrawn, declined or closed), or None when its notices may go. The caller holds
    the case's lock (:func:`api.cases.service.lock`)."""
    return _undeliverable(referral, forbidden_bodies(session=session, case_id=referral.case_id))


def _undeliverable(referral: Referral, forbidden: dict[int, str]) -> str | None:
    blocked = forbidden.get(referral.body_id)
    if blocked is not None:
        return blocked
    return None if referral.status in LIVE_STATUSES else referral.status


def cancel_undeliverable(*, session: Session, case_id: int) -> None:
    """Cancel every notice still to go for a referral of the case that may no longer be
    delivered, saying why on the case. Called by every change that may make it so."""
    from api.referrals import outbox  # the outbox module imports this one for documents

    session.flush()
    forbidden = forbidden_bodies(session=session, case_id=case_id)  # once for the case
    for referral in session.exec(select(Referral).where(Referral.case_id == case_id)):
        reason = _undeliverable(referral, forbidden)
        if reason is not None:
            outbox.cancel(session=session, referral=referral, reason=reason)


def refuse_if_forbidden(*, session: Session, case_id: int, body_id: int) -> None:
    """The check every path that shares a case with a body goes through."""
    if body_id in forbidden_bodies(session=session, case_id=case_id):
        raise Forbidden(
            N_(
                "This body can never receive this case: a reporter excluded it, or it is implicated."
            ),
            fields=[
                FieldProblem(
                    "body",
                    N_(
                        "This body can never receive this case: a reporter excluded it, "
                        "or it is implicated."
                    ),
                )
            ],
        )


# Composing --------------------------------------------------------------------------------


def _body(session: Session, actor: Staff, code: str) -> Body:
    """The body of ``code``; one that acts only in ports ``actor`` does not see is not."""
    body = agencies_service.find_body_for(session=session, actor=actor, code=code)
    if body is None or body.id is None:
        raise invalid_field("body", N_("There is no such receiving body."))
    return body


def live_references(*, session: Session, case_id: int, body_id: int) -> list[str]:
    """The references of ``body``'s live referrals of the case: there is at most one (a
    case is not referred twice to a body), and marking the body implicated withdraws it."""
    return list(
        session.exec(
            select(Referral.reference)
            .where(
                Referral.case_id == case_id,
                Referral.body_id == body_id,
                col(Referral.status).in_(LIVE_STATUSES),
            )
            .order_by(col(Referral.id))
        )
    )


def body_choices(*, session: Session, actor: Staff, case: Case) -> list[BodyChoice]:
    """Every active body ``actor`` sees: the recommended ones first, each with the rule
    that recommends it, and those that may never receive the case marked so."""
    assert case.id is not None
    blocked = forbidden_bodies(session=session, case_id=case.id)
    for body_id in session.exec(
        select(Referral.body_id).where(
            Referral.case_id == case.id, col(Referral.status).in_(LIVE_STATUSES)
        )
    ):
        blocked.setdefault(body_id, ALREADY_REFERRED)
    recommended = {
        found.body.id: found.rule.name
        for found in routing_service.recommend(session=session, case=case)
    }
    bodies = [
        body for body in agencies_service.bodies_for(session=session, actor=actor) if body.active
    ]
    # Recommended bodies first, in the rules' order; the others by name.
    order = {body_id: position for position, body_id in enumerate(recommended)}
    return [
        BodyChoice(
            code=body.code,
            name=body.name,
            kind=body.kind,
            recommended_by=recommended.get(body.id),
            blocked=blocked.get(body.id or 0),
        )
        for body in sorted(bodies, key=lambda body: order.get(body.id, len(order)))
    ]


def _photos_of_case(
    session: Session, keyring: KeyRing, case_id: int
) -> list[tuple[SharedPhoto, Attachment, Report]]:
    found = []
    for report in reports_service.reports_of_case(session=session, case_id=case_id):
        data_key = keyring.unwrap(report.wrapped_key)
        for attachment in session.exec(
            select(Attachment)
            .where(Attachment.report_id == report.id)
            .order_by(col(Attachment.seq))
        ):
            photo = SharedPhoto(
                report=report.reference,
                seq=attachment.seq,
                name=open_text(data_key, attachment.name_sealed, label=Label.file_name),
                media_type=attachment.media_type,
                width=attachment.width,
                height=attachment.height,
            )
            found.append((photo, attachment, report))
    return found


def _shareable_identities(session: Session, keyring: KeyRing, case_id: int) -> list[SharedIdentity]:
    identities = []
    for report in reports_service.reports_of_case(session=session, case_id=case_id):
        view = reports_service.staff_view(session=session, keyring=keyring, report=report)
        if view.identity is not None and view.identity.may_share:
            identities.append(
                SharedIdentity(
                    report=report.reference, name=view.identity.name, contact=view.identity.contact
                )
            )
    return identities


def draft(
    *, session: Session, keyring: KeyRing, actor: Staff, case_id: int, now: datetime
) -> ReferralDraft:
    """The starting point of a referral: the reports' own words, to be edited to redact."""
    case = cases_service.get_case(session=session, actor=actor, case_id=case_id)
    parts = []
    for report in reports_service.reports_of_case(session=session, case_id=case_id):
        view = reports_service.staff_view(session=session, keyring=keyring, report=report)
        where = f" ({view.location_detail})" if view.location_detail else ""
        parts.append(
            f"{report.reference}, {view.occurred_on.isoformat()}{where}:\n{view.narrative}"
        )
    return ReferralDraft(
        case_id=case_id,
        summary="\n\n".join(parts),
        photos=[
            photo for photo, _attachment, _report in _photos_of_case(session, keyring, case_id)
        ],
        identities=_shareable_identities(session, keyring, case_id),
        tlp=case.tlp,
        acknowledge_due=add_working_days(now, ACKNOWLEDGE_WORKING_DAYS).date(),
        bodies=body_choices(session=session, actor=actor, case=case),
    )


def _due(chosen: date | None, now: datetime) -> datetime:
    if chosen is None:
        return add_working_days(now, ACKNOWLEDGE_WORKING_DAYS)
    if chosen < now.date():
        raise invalid_field("acknowledge_due", N_("This date is in the past."))
    if chosen > now.date() + timedelta(days=92):
        raise invalid_field("acknowledge_due", N_("Choose a date within three months."))
    return datetime.combine(chosen, time(23, 59), UTC)


def _chosen_photos(
    session: Session, keyring: KeyRing, case_id: int, wanted: Sequence[str]
) -> list[tuple[SharedPhoto, Attachment, Report]]:
    available = {
        f"{photo.report}/{photo.seq}": (photo, attachment, report)
        for photo, attachment, report in _photos_of_case(session, keyring, case_id)
    }
    chosen = []
    for index, key in enumerate(dict.fromkeys(wanted)):
        if key not in available:
            raise invalid_field(f"photos[{index}]", N_("This photo is not part of this case."))
        chosen.append(available[key])
    return chosen


def _chosen_identities(
    session: Session, keyring: KeyRing, case_id: int, wanted: Sequence[str]
) -> list[SharedIdentity]:
    available = {
        identity.report: identity for identity in _shareable_identities(session, keyring, case_id)
    }
    chosen = []
    for index, reference in enumerate(dict.fromkeys(wanted)):
        if reference not in available:
            raise invalid_field(
                f"identities[{index}]",
                N_("This reporter did not agree to pass their identity on."),
            )
        chosen.append(available[reference])
    return chosen


def _facts(session: Session, case: Case) -> tuple[str, str, str | None]:
    category = session.get(Category, case.category_id)
    port = session.get(Port, case.port_id)
    zone = session.get(Zone, case.zone_id) if case.zone_id else None
    return (
        category.name if category else "",
        port.name if port else "",
        zone.name if zone else None,
    )


@dataclass(frozen=True)
class _Composed:
    """A referral checked and put together, before anything is stored."""

    view: ReferralView
    case: Case
    body: Body
    photos: list[tuple[SharedPhoto, Attachment, Report]]


def _compose(
    session: Session,
    keyring: KeyRing,
    actor: Staff,
    case_id: int,
    referral_in: ReferralIn,
    now: datetime,
    *,
    for_update: bool,
) -> _Composed:
    # Sending holds the case's lock from this check to the commit: see cases_service.lock.
    case = cases_service.get_case(
        session=session, actor=actor, case_id=case_id, for_update=for_update
    )
    body = _body(session, actor, referral_in.body)
    _refuse(session, case, body)
    photos = _chosen_photos(session, keyring, case_id, referral_in.photos)
    category, port, zone = _facts(session, case)
    view = ReferralView(
        reference="",
        case_reference=case.reference,
        body=body.code,
        body_name=body.name,
        status="draft",
        kind=case.kind,
        category=category,
        port=port,
        zone=zone,
        severity=case.severity,
        tlp=referral_in.tlp,
        summary=referral_in.summary,
        photos=[photo for photo, _attachment, _report in photos],
        identities=_chosen_identities(session, keyring, case_id, referral_in.identities),
        created_at=None,
        acknowledge_due=_due(referral_in.acknowledge_due, now),
        overdue=False,
    )
    return _Composed(view, case, body, photos)


def preview(
    *,
    session: Session,
    keyring: KeyRing,
    actor: Staff,
    case_id: int,
    referral_in: ReferralIn,
    now: datetime,
) -> ReferralView:
    """Exactly what the body would see, checked as a referral would be, stored nowhere."""
    return _compose(session, keyring, actor, case_id, referral_in, now, for_update=False).view


def _refuse(session: Session, case: Case, body: Body) -> None:
    assert case.id is not None and body.id is not None
    if not body.active:
        raise invalid_field("body", N_("This body is not active."))
    refuse_if_forbidden(session=session, case_id=case.id, body_id=body.id)
    if case.status == CaseStatus.closed:
        raise Conflict(N_("A closed case cannot be referred. Reopen it first."))
    if live_references(session=session, case_id=case.id, body_id=body.id):
        raise Conflict(N_("This case is already referred to this body."))


def refer(
    *,
    session: Session,
    keyring: KeyRing,
    actor: Staff,
    case_id: int,
    referral_in: ReferralIn,
    now: datetime,
) -> ReferralView:
    """Store what is shared, as its own sealed copy, and queue the notices to the body."""
    from api.referrals import outbox

    composed = _compose(session, keyring, actor, case_id, referral_in, now, for_update=True)
    view, case, body = composed.view, composed.case, composed.body
    data_key, wrapped = keystore.new_data_key(session, keyring)
    referral = Referral(
        reference=_new_reference(),
        case_id=case_id,
        body_id=body.id or 0,
        status="sent",
        tlp=view.tlp,
        wrapped_key=wrapped,
        summary_sealed=seal_text(data_key, view.summary, label=SUMMARY_LABEL),
        identity_sealed=seal_text(
            data_key,
            json.dumps([identity.model_dump() for identity in view.identities]),
            label=IDENTITY_LABEL,
        )
        if view.identities
        else None,
        kind=case.kind,
        category_id=case.category_id,
        port_id=case.port_id,
        zone_id=case.zone_id,
        severity=case.severity,
        created_by=actor.id,
        created_at=now,
        acknowledge_due=view.acknowledge_due,
    )
    session.add(referral)
    session.flush()
    assert referral.id is not None
    for seq, (photo, attachment, report) in enumerate(composed.photos, start=1):
        content = open_sealed(
            keyring.unwrap(report.wrapped_key), attachment.content_sealed, label=Label.file_content
        )
        session.add(
            ReferralAttachment(
                referral_id=referral.id,
                seq=seq,
                media_type=attachment.media_type,
                byte_size=attachment.byte_size,
                width=attachment.width,
                height=attachment.height,
                name_sealed=seal_text(
                    data_key,
                    json.dumps({"report": photo.report, "name": photo.name}),
                    label=PHOTO_NAME_LABEL,
                ),
                content_sealed=seal(data_key, content, label=PHOTO_LABEL),
            )
        )
    timeline.add_event(
        session=session,
        keyring=keyring,
        referral=referral,
        kind="sent",
        side="triage",
        author_id=actor.id,
        text=None,
        now=now,
    )
    if case.status != CaseStatus.closed:
        case.status = CaseStatus.referred
        session.add(case)
    for report in reports_service.reports_of_case(session=session, case_id=case_id):
        report.status = "referred"
        steps.record(session, report, steps.REFERRED, now, body_id=referral.body_id)
        session.add(report)
    outbox.enqueue(session=session, referral=referral, now=now)
    _audit(
        session,
        keyring,
        actor,
        "referral.created",
        case_id,
        now,
        {"body": body.code, "referral": referral.reference},
    )
    return view_of(session=session, keyring=keyring, referral=referral, now=now)


# Reading a referral back ------------------------------------------------------------------


def view_of(
    *, session: Session, keyring: KeyRing, referral: Referral, now: datetime
) -> ReferralView:
    """The referral as stored: its own copy, whatever has changed in the case since."""
    data_key = keyring.unwrap(referral.wrapped_key)
    body = session.get(Body, referral.body_id)
    case = session.get(Case, referral.case_id)
    category = session.get(Category, referral.category_id)
    port = session.get(Port, referral.port_id)
    zone = session.get(Zone, referral.zone_id) if referral.zone_id else None
    photos = []
    for attachment in session.exec(
        select(ReferralAttachment)
        .where(ReferralAttachment.referral_id == referral.id)
        .order_by(col(ReferralAttachment.seq))
    ):
        named = json.loads(open_text(data_key, attachment.name_sealed, label=PHOTO_NAME_LABEL))
        photos.append(
            SharedPhoto(
                report=named["report"],
                seq=attachment.seq,
                name=named["name"],
                media_type=attachment.media_type,
                width=attachment.width,
                height=attachment.height,
            )
        )
    identities = (
        [
            SharedIdentity.model_validate(item)
            for item in json.loads(
                open_text(data_key, referral.identity_sealed, label=IDENTITY_LABEL)
            )
        ]
        if referral.identity_sealed
        else []
    )
    return ReferralView(
        reference=referral.reference,
        case_reference=case.reference if case else "",
        body=body.code if body else "",
        body_name=body.name if body else "",
        status=referral.status,
        kind=referral.kind,
        category=category.name if category else "",
        port=port.name if port else "",
        zone=zone.name if zone else None,
        severity=referral.severity,
        tlp=referral.tlp,
        summary=open_text(data_key, referral.summary_sealed, label=SUMMARY_LABEL),
        photos=photos,
        identities=identities,
        created_at=referral.created_at,
        acknowledge_due=referral.acknowledge_due,
        overdue=referral.acknowledged_at is None
        and referral.status in LIVE_STATUSES
        and referral.acknowledge_due < now,
    )


def referral_views(
    *, session: Session, keyring: KeyRing, actor: Staff, case_id: int, now: datetime
) -> list[ReferralView]:
    """The case's referrals, each as its body sees it."""
    cases_service.get_case(session=session, actor=actor, case_id=case_id)
    referrals = session.exec(
        select(Referral).where(Referral.case_id == case_id).order_by(col(Referral.id))
    ).all()
    return [
        view_of(session=session, keyring=keyring, referral=referral, now=now)
        for referral in referrals
    ]


def _audit(
    session: Session,
    keyring: KeyRing,
    actor: Staff,
    action: str,
    case_id: int,
    now: datetime,
    detail: dict[str, str],
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
        detail=detail,
    )


def find(*, session: Session, reference: str) -> Referral:
    referral = session.exec(select(Referral).where(Referral.reference == reference)).first()
    if referral is None:
        raise NotFound(N_("There is no such referral."))
    return referral


# Deliveries, for triage -------------------------------------------------------------------


def deliveries_of_case(
    *, session: Session, actor: Staff, case_id: int
) -> dict[str, list[DeliveryView]]:
    """How each notice of each referral of the case went, by referral reference."""
    from api.referrals import outbox

    cases_service.get_case(session=session, actor=actor, case_id=case_id)
    found: dict[str, list[DeliveryView]] = {}
    for referral in session.exec(select(Referral).where(Referral.case_id == case_id)):
        found[referral.reference] = [
            DeliveryView(
                id=job.id or 0,
                channel=job.channel,
                status=job.status,
                attempts=job.attempts,
                last_error=job.last_error,
                cancel_reason=job.cancel_reason,
                delivered_at=job.delivered_at,
                next_attempt_at=job.next_attempt_at,
            )
            for job in outbox.deliveries(session=session, referral_id=referral.id or 0)
        ]
    return found


def retry_delivery(
    *, session: Session, keyring: KeyRing, actor: Staff, case_id: int, job_id: int, now: datetime
) -> None:
    """Triage's retry button on a failed notice; a withdrawn referral is never retried."""
    from api.referrals import outbox

    cases_service.get_case(session=session, actor=actor, case_id=case_id, for_update=True)
    job = session.get(OutboxJob, job_id)
    referral = session.get(Referral, job.referral_id) if job else None
    if job is None or referral is None or referral.case_id != case_id:
        raise NotFound(N_("There is no such delivery."))
    refuse_if_forbidden(session=session, case_id=case_id, body_id=referral.body_id)
    if referral.status not in LIVE_STATUSES:
        raise Conflict(N_("This referral is no longer live: nothing more is sent for it."))
    outbox.retry(session=session, job_id=job_id, now=now)
    _audit(
        session,
        keyring,
        actor,
        "referral.delivery_retried",
        case_id,
        now,
        {"referral": referral.reference, "channel": job.channel},
    )
