"""Triage's side of referrals: compose from a draft, preview, send; mark implicated bodies."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path
from fastapi.responses import Response

from api.deps import KeyRingDep, Now, SessionDep, SettingsDep, require
from api.errors import STAFF_ONLY, error_responses
from api.ids import Id
from api.policy import Permission
from api.referrals import liaison, service
from api.referrals.schemas import (
    DeliveryView,
    LiaisonReferral,
    QuestionDecision,
    ReferralDraft,
    ReferralIn,
    ReferralRow,
    ReferralView,
    StepIn,
    TimelineEntry,
    WriteIn,
)
from api.staff.models import Staff

router = APIRouter(prefix="/cases", tags=["referrals"], responses=STAFF_ONLY)
Triager = Annotated[Staff, Depends(require(Permission.triage))]
BodyCode = Annotated[str, Path(max_length=48)]
STEP_NAMES = {
    "acknowledge": "acknowledged",
    "accept": "accepted",
    "decline": "declined",
    "close": "closed",
}


@router.get(
    "/{case_id}/referral-draft",
    summary="A referral to start from, and the bodies",
    responses=error_responses(404),
)
def get_draft(
    case_id: Id, actor: Triager, session: SessionDep, keyring: KeyRingDep, now: Now
) -> ReferralDraft:
    return service.draft(session=session, keyring=keyring, actor=actor, case_id=case_id, now=now)


@router.post(
    "/{case_id}/referrals/preview",
    summary="Exactly what the body would see; stores nothing",
    responses=error_responses(404, 409),
)
def post_preview(
    case_id: Id,
    referral_in: ReferralIn,
    actor: Triager,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
) -> ReferralView:
    return service.preview(
        session=session,
        keyring=keyring,
        actor=actor,
        case_id=case_id,
        referral_in=referral_in,
        now=now,
    )


@router.post(
    "/{case_id}/referrals",
    status_code=201,
    summary="Refer the case to a body",
    responses=error_responses(404, 409),
)
def post_referral(
    case_id: Id,
    referral_in: ReferralIn,
    actor: Triager,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
) -> ReferralView:
    return service.refer(
        session=session,
        keyring=keyring,
        actor=actor,
        case_id=case_id,
        referral_in=referral_in,
        now=now,
    )


@router.get(
    "/{case_id}/referrals",
    summary="The case's referrals, as each body sees them",
    responses=error_responses(404),
)
def get_referrals(
    case_id: Id, actor: Triager, session: SessionDep, keyring: KeyRingDep, now: Now
) -> list[ReferralView]:
    return service.referral_views(
        session=session, keyring=keyring, actor=actor, case_id=case_id, now=now
    )


@router.put(
    "/{case_id}/implicated/{body}",
    status_code=204,
    summary="Mark a body implicated: it never receives this case",
    responses=error_responses(404),
)
def put_implicated(
    case_id: Id,
    body: BodyCode,
    actor: Triager,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
) -> None:
    service.mark_implicated(
        session=session, keyring=keyring, actor=actor, case_id=case_id, body_code=body, now=now
    )


@router.delete(
    "/{case_id}/implicated/{body}",
    status_code=204,
    summary="Unmark a body",
    responses=error_responses(404),
)
def delete_implicated(
    case_id: Id,
    body: BodyCode,
    actor: Triager,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
) -> None:
    service.unmark_implicated(
        session=session, keyring=keyring, actor=actor, case_id=case_id, body_code=body, now=now
    )


@router.get(
    "/{case_id}/deliveries",
    summary="How each referral's notices went",
    responses=error_responses(404),
)
def get_deliveries(
    case_id: Id, actor: Triager, session: SessionDep
) -> dict[str, list[DeliveryView]]:
    return service.deliveries_of_case(session=session, actor=actor, case_id=case_id)


@router.post(
    "/{case_id}/deliveries/{job_id}/retry",
    status_code=204,
    summary="Retry a failed notice",
    responses=error_responses(404, 409),
)
def post_retry(
    case_id: Id,
    job_id: Id,
    actor: Triager,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
) -> None:
    service.retry_delivery(
        session=session, keyring=keyring, actor=actor, case_id=case_id, job_id=job_id, now=now
    )


# The liaison officer's side ----------------------------------------------------------------

liaison_router = APIRouter(prefix="/referrals", tags=["liaison"], responses=STAFF_ONLY)
Liaison = Annotated[Staff, Depends(require(Permission.work_referrals))]
TriagerOrLiaison = Annotated[Staff, Depends(require(Permission.own_account))]
Reference = Annotated[str, Path(max_length=16)]


@liaison_router.get("", summary="Referrals to my body, what is due first")
def get_inbox(actor: Liaison, session: SessionDep, now: Now) -> list[ReferralRow]:
    return liaison.inbox(session=session, actor=actor, now=now)


@liaison_router.get(
    "/{reference}",
    summary="A referral to my body and its timeline (audited)",
    responses=error_responses(404, 410),
)
def get_referral(
    reference: Reference, actor: Liaison, session: SessionDep, keyring: KeyRingDep, now: Now
) -> LiaisonReferral:
    return liaison.referral_page(
        session=session, keyring=keyring, actor=actor, reference=reference, now=now
    )


@liaison_router.get(
    "/{reference}/attachments/{seq}",
    summary="A photo shared with my body (audited; never cached)",
    response_class=Response,
    responses={
        200: {"content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}}},
        **error_responses(404),
    },
)
def get_photo(
    reference: Reference,
    seq: Id,
    actor: Liaison,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
) -> Response:
    media_type, content = liaison.photo(
        session=session, keyring=keyring, actor=actor, reference=reference, seq=seq, now=now
    )
    return Response(content, media_type=media_type)


@liaison_router.post(
    "/{reference}/{step}",
    status_code=204,
    summary="Acknowledge, accept, decline (with a reason) or close (with an outcome)",
    responses=error_responses(404, 409),
)
def post_step(
    reference: Reference,
    step: Literal["acknowledge", "accept", "decline", "close"],
    step_in: StepIn,
    actor: Liaison,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
) -> None:
    liaison.step(
        session=session,
        keyring=keyring,
        actor=actor,
        reference=reference,
        to=STEP_NAMES[step],
        text=step_in.text,
        now=now,
    )


@liaison_router.post(
    "/{reference}/messages/{kind}",
    status_code=204,
    summary="Post an update, or a question for the reporter (triage approves it first)",
    responses=error_responses(404, 409),
)
def post_message(
    reference: Reference,
    kind: Literal["update", "question"],
    write_in: WriteIn,
    actor: Liaison,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
) -> None:
    liaison.write(
        session=session,
        keyring=keyring,
        actor=actor,
        reference=reference,
        kind=kind,
        text=write_in.body,
        now=now,
    )


@liaison_router.get(
    "/{reference}/{document}",
    summary="The referral as JSON (export.json) or as a STIX 2.1 bundle (export.stix.json)",
    responses=error_responses(404),
)
def get_export(
    reference: Reference,
    document: Literal["export.json", "export.stix.json"],
    actor: TriagerOrLiaison,
    session: SessionDep,
    keyring: KeyRingDep,
    settings: SettingsDep,
    now: Now,
) -> dict[str, object]:
    return liaison.exported(
        session=session,
        keyring=keyring,
        actor=actor,
        reference=reference,
        stix=document == "export.stix.json",
        public_url=settings.public_url,
        now=now,
    )


# Triage decides on the body's questions ------------------------------------------------------


@router.get(
    "/{case_id}/referral-timelines",
    summary="Each referral's timeline",
    responses=error_responses(404),
)
def get_timelines(
    case_id: Id, actor: Triager, session: SessionDep, keyring: KeyRingDep
) -> dict[str, list[TimelineEntry]]:
    return liaison.timelines_of_case(session=session, keyring=keyring, actor=actor, case_id=case_id)


@router.post(
    "/{case_id}/referrals/{reference}/questions/{seq}",
    status_code=204,
    summary="Pass a body's question on to the reporter (as edited), or refuse it",
    responses=error_responses(404, 409),
)
def post_question_decision(
    case_id: Id,
    reference: Reference,
    seq: Id,
    decision: QuestionDecision,
    actor: Triager,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
) -> None:
    liaison.answer_question(
        session=session,
        keyring=keyring,
        actor=actor,
        case_id=case_id,
        reference=reference,
        seq=seq,
        text=(decision.body or None) if decision.approve else None,
        now=now,
        as_asked=decision.approve and not decision.body,
    )
