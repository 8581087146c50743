"""Retention as administrators watch it: the closed cases to be purged within the next
days, a legal hold placed on any of them (with its reason), and a hold released (which asks
first). api/retention/policy.py decides, checks and audits; these pages only gather."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import Response
from sqlmodel import Session

from admin.shell import (
    NO_PROBLEMS,
    PREFIX,
    Administrator,
    ConsoleRoute,
    Problems,
    attempt,
    redirect,
    render,
)
from api.deps import KeyRingDep, Now, SessionDep
from api.errors import DomainError
from api.i18n import N_
from api.retention import policy as retention_policy
from api.staff.models import Staff

RETENTION_URL = f"{PREFIX}/retention"

router = APIRouter(route_class=ConsoleRoute)

FormText = Annotated[str, Form()]
CaseReference = Annotated[str, Path(max_length=16)]

NOTICES: dict[str, str] = {
    "held": N_("The case is on legal hold: it is not purged until the hold is released."),
    "released": N_(
        "The hold is released: the case follows its port's retention again, and is purged "
        "by the next daily run if that has ended."
    ),
}


def hold_form(reference: str) -> str:
    """The name of a case's hold form, which the ids of its fields start with."""
    return f"hold-{reference}"


def _list_page(
    request: Request,
    session: Session,
    actor: Staff,
    now: datetime,
    *,
    form: str = "",
    values: Mapping[str, Any] | None = None,
    problems: Problems = NO_PROBLEMS,
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    cases = retention_policy.to_be_purged(session=session, actor=actor, now=now)
    return render(
        request,
        "retention.html",
        {
            "cases": cases,
            "cut_short": len(cases) >= retention_policy.TO_BE_PURGED_LIMIT,
            "notice_days": retention_policy.NOTICE_DAYS,
            "reason_limit": retention_policy.HOLD_REASON_LIMIT,
            "form": form,
            "values": values or {},
            "problems": problems,
            "notice": notice,
        },
        staff=actor,
        status_code=status_code,
    )


@router.get(RETENTION_URL)
def retention_page(
    request: Request, session: SessionDep, now: Now, actor: Administrator, done: str = ""
) -> Response:
    return _list_page(request, session, actor, now, notice=NOTICES.get(done))


@router.post(RETENTION_URL + "/{reference}/hold")
def place_hold(
    request: Request,
    reference: CaseReference,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
    actor: Administrator,
    reason: FormText = "",
) -> Response:
    # Reason is checked after the case is found, so a case of a port the administrator
    # does not see is not found, whatever the form says.
    retention_policy.case_retention(session=session, actor=actor, reference=reference)
    values = {"reason": reason[: retention_policy.HOLD_REASON_LIMIT + 1]}

    def change() -> None:
        retention_policy.place_hold(
            session=session,
            keyring=keyring,
            actor=actor,
            reference=reference,
            reason=values["reason"],
            now=now,
        )

    def refused(error: DomainError) -> Response:
        return _list_page(
            request,
            session,
            actor,
            now,
            form=hold_form(reference),
            values=values,
            problems=Problems.of(error),
            status_code=error.status,
        )

    return attempt(session, change, done_url=f"{RETENTION_URL}?done=held", refused=refused)


@router.get(RETENTION_URL + "/{reference}/release")
def confirm_release(
    request: Request, reference: CaseReference, session: SessionDep, actor: Administrator
) -> Response:
    held = retention_policy.case_retention(session=session, actor=actor, reference=reference)
    return render(
        request,
        "retire_confirm.html",
        {
            "title": N_("Release the legal hold on {name}?"),
            "name": held.reference,
            "explanation": N_(
                "The case follows its port's retention again: if that has ended, the next "
                "daily run purges the case, its reports, notes and messages, and nothing "
                "brings them back."
            ),
            "button": N_("Release the hold"),
            "action": f"{RETENTION_URL}/{held.reference}/release",
            "back": RETENTION_URL,
        },
        staff=actor,
    )


@router.post(RETENTION_URL + "/{reference}/release")
def release_hold(
    reference: CaseReference,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
    actor: Administrator,
) -> Response:
    retention_policy.release_hold(
        session=session, keyring=keyring, actor=actor, reference=reference, now=now
    )
    return redirect(f"{RETENTION_URL}?done=released")
