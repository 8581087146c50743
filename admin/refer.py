"""Referring a case from the console: compose from the draft, preview exactly what the body
will see, then send. Also marking bodies implicated and retrying failed notices."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlmodel import Session

from admin.case import BLOCKED_REASONS, CASES_URL, FormText, _valid, case_url
from admin.queue import KIND_NAMES
from admin.shell import (
    NO_PROBLEMS,
    ConsoleRoute,
    Problems,
    Triager,
    attempt,
    error_page,
    redirect,
    render,
)
from api.agencies import service as agencies_service
from api.cases import service as cases_service
from api.deps import KeyRingDep, Now, SessionDep
from api.errors import DomainError
from api.i18n import N_
from api.ids import Id
from api.referrals import service as referrals_service
from api.referrals.schemas import ReferralDraft, ReferralIn
from api.staff.models import Staff
from api.triage.schemas import SEVERITY_NAMES, TLP_LABELS

router = APIRouter(route_class=ConsoleRoute)

FormList = Annotated[list[str], Form()]


def _form_page(
    request: Request,
    draft: ReferralDraft,
    actor: Staff,
    case_id: int,
    values: Mapping[str, Any],
    *,
    problems: Problems = NO_PROBLEMS,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "refer.html",
        {
            "case_id": case_id,
            "draft": draft,
            "values": values,
            "tlp_labels": TLP_LABELS,
            "blocked_reasons": BLOCKED_REASONS,
            "problems": problems,
        },
        staff=actor,
        status_code=status_code,
    )


@router.get(CASES_URL + "/{case_id}/refer")
def refer_form(
    request: Request,
    case_id: Id,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
    actor: Triager,
    body: str = "",
) -> Response:
    draft = referrals_service.draft(
        session=session, keyring=keyring, actor=actor, case_id=case_id, now=now
    )
    values = {
        "body": body[:48],
        "summary": draft.summary,
        "photos": [],
        "identities": [],
        "tlp": draft.tlp,
        "acknowledge_due": draft.acknowledge_due.isoformat(),
    }
    return _form_page(request, draft, actor, case_id, values)


@router.post(CASES_URL + "/{case_id}/refer")
def refer_post(
    request: Request,
    case_id: Id,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
    actor: Triager,
    body: FormText = "",
    summary: FormText = "",
    tlp: FormText = "",
    acknowledge_due: FormText = "",
    go: FormText = "preview",
    photos: FormList = [],  # noqa: B006 - FastAPI copies defaults
    identities: FormList = [],  # noqa: B006
) -> Response:
    values = {
        "body": body[:48],
        "summary": summary[:20_000],
        "photos": photos[:60],
        "identities": identities[:30],
        "tlp": tlp[:16],
        "acknowledge_due": acknowledge_due[:10],
    }
    try:
        referral_in = _valid(
            ReferralIn,
            {
                "body": values["body"],
                "summary": summary,
                "photos": values["photos"],
                "identities": values["identities"],
                "tlp": values["tlp"],
                "acknowledge_due": values["acknowledge_due"] or None,
            },
        )
        if go == "send":
            referrals_service.refer(
                session=session,
                keyring=keyring,
                actor=actor,
                case_id=case_id,
                referral_in=referral_in,
                now=now,
            )
            return redirect(case_url(case_id, "referred"))
        view = referrals_service.preview(
            session=session,
            keyring=keyring,
            actor=actor,
            case_id=case_id,
            referral_in=referral_in,
            now=now,
        )
    except DomainError as error:
        session.rollback()
        draft = referrals_service.draft(
            session=session, keyring=keyring, actor=actor, case_id=case_id, now=now
        )
        return _form_page(
            request,
            draft,
            actor,
            case_id,
            values,
            problems=Problems.of(error),
            status_code=error.status,
        )
    if go == "edit":
        draft = referrals_service.draft(
            session=session, keyring=keyring, actor=actor, case_id=case_id, now=now
        )
        return _form_page(request, draft, actor, case_id, values)
    return render(
        request,
        "refer_preview.html",
        {
            "case_id": case_id,
            "referral": view,
            "values": values,
            "severity_names": SEVERITY_NAMES,
            "kind_names": KIND_NAMES,
        },
        staff=actor,
    )


def _refused(request: Request) -> Callable[[DomainError], Response]:
    return lambda error: error_page(request, error.status, error.message, error.params)


@router.post(CASES_URL + "/{case_id}/implicated")
def mark_implicated(
    request: Request,
    case_id: Id,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
    actor: Triager,
    body: FormText = "",
    remove: FormText = "",
    confirmed: FormText = "",
) -> Response:
    if remove != "1" and confirmed != "1":
        return _confirm_implicated(request, session, actor, case_id, body[:48])
    service_call = (
        referrals_service.unmark_implicated if remove == "1" else referrals_service.mark_implicated
    )
    return attempt(
        session,
        lambda: service_call(
            session=session,
            keyring=keyring,
            actor=actor,
            case_id=case_id,
            body_code=body[:48],
            now=now,
        ),
        done_url=case_url(case_id, "not_implicated" if remove == "1" else "implicated"),
        refused=_refused(request),
    )


def _confirm_implicated(
    request: Request, session: Session, actor: Staff, case_id: int, code: str
) -> Response:
    """Before marking a body implicated: what it does, and the live referral it withdraws."""
    try:
        cases_service.get_case(session=session, actor=actor, case_id=case_id)
    except DomainError as error:
        return _refused(request)(error)
    body = agencies_service.find_body_for(session=session, actor=actor, code=code)
    if body is None or body.id is None:
        return error_page(request, 422, N_("Choose the body to mark implicated."))
    return render(
        request,
        "implicated_confirm.html",
        {
            "case_id": case_id,
            "body": body,
            "withdrawn": referrals_service.live_references(
                session=session, case_id=case_id, body_id=body.id
            ),
        },
        staff=actor,
    )


@router.post(CASES_URL + "/{case_id}/deliveries/{job_id}/retry")
def retry_delivery(
    request: Request,
    case_id: Id,
    job_id: Id,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
    actor: Triager,
) -> Response:
    return attempt(
        session,
        lambda: referrals_service.retry_delivery(
            session=session, keyring=keyring, actor=actor, case_id=case_id, job_id=job_id, now=now
        ),
        done_url=case_url(case_id, "retrying"),
        refused=_refused(request),
    )
