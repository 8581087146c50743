"""The liaison officer's workspace: the referrals to their own body, and one referral as
triage shared it, with its timeline and the forms that work it.

Everything goes through ``api.referrals.liaison``: a referral of another body is "not
found" there, so the console shows its 404 page and changes nothing; each view is audited.
Every change is a POST with the session's CSRF token, then a redirect back to the page."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from sqlmodel import Session

from admin.case import TLP_MEANINGS, FormText, _valid
from admin.queue import KIND_NAMES
from admin.shell import (
    NO_PROBLEMS,
    PREFIX,
    ConsoleRoute,
    Liaison,
    Problems,
    attempt,
    render,
)
from api.crypto import KeyRing
from api.deps import KeyRingDep, Now, SessionDep
from api.i18n import N_
from api.referrals import liaison
from api.referrals.models import LIVE_STATUSES
from api.referrals.schemas import StepIn, WriteIn
from api.staff.models import Staff
from api.triage.schemas import SEVERITY_NAMES

REFERRALS_URL = f"{PREFIX}/referrals"

router = APIRouter(route_class=ConsoleRoute)

Reference = Annotated[str, Path(max_length=16)]
# The step a form asks for, as the address says it, and the status it leads to.
STEPS: dict[str, str] = {
    "acknowledge": "acknowledged",
    "accept": "accepted",
    "decline": "declined",
    "close": "closed",
}
STATUS_NAMES: dict[str, str] = {
    "sent": N_("New: not yet acknowledged"),
    "acknowledged": N_("Acknowledged"),
    "accepted": N_("Accepted"),
    "declined": N_("Declined"),
    "closed": N_("Closed"),
}
# The timeline as the body reads it; triage's case page names the same events its own way.
EVENT_NAMES: dict[str, str] = {
    "sent": N_("Referred to your body"),
    "acknowledged": N_("Acknowledged"),
    "accepted": N_("Accepted"),
    "declined": N_("Declined"),
    "question": N_("Question for the reporter"),
    "question_edited": N_("Question as triage passed it on"),
    "answer": N_("The reporter's answer"),
    "update": N_("Update"),
    "closed": N_("Closed with an outcome"),
}
SIDE_NAMES: dict[str, str] = {
    "body": N_("Your body"),
    "triage": N_("Triage"),
    "reporter": N_("Reporter"),
}
QUESTION_STATES: dict[str, str] = {
    "pending": N_("Waiting for triage's approval"),
    "sent": N_("Passed on to the reporter"),
    "answered": N_("Answered by the reporter"),
    "refused": N_("Not passed on by triage"),
}
NOTICES: dict[str, str] = {
    "acknowledged": N_("The referral is acknowledged; triage sees it in the case."),
    "accepted": N_("The referral is accepted: your body works the case now."),
    "declined": N_("The referral is declined. The case is back with triage, with your reason."),
    "closed": N_("The referral is closed. The reporter can read your outcome."),
    "question": N_("Your question waits for triage's approval before the reporter sees it."),
    "update": N_("Your update is in the timeline; triage reads it."),
}


def referral_url(reference: str, done: str | None = None) -> str:
    return f"{REFERRALS_URL}/{reference}" + (f"?done={done}" if done else "")


@router.get(REFERRALS_URL)
def inbox(request: Request, session: SessionDep, now: Now, actor: Liaison) -> Response:
    return render(
        request,
        "referrals.html",
        {
            "rows": liaison.inbox(session=session, actor=actor, now=now),
            "purged": liaison.purged(session=session, actor=actor),
            "purged_text": liaison.PURGED_REFERRAL,
            "status_names": STATUS_NAMES,
            "kind_names": KIND_NAMES,
            "severity_names": SEVERITY_NAMES,
            "tlp_meanings": TLP_MEANINGS,
        },
        staff=actor,
    )


def _referral_page(
    request: Request,
    session: Session,
    keyring: KeyRing,
    actor: Staff,
    reference: str,
    now: datetime,
    *,
    notice: str | None = None,
    form: str = "",
    problems: Problems = NO_PROBLEMS,
    values: Mapping[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    page = liaison.referral_page(
        session=session, keyring=keyring, actor=actor, reference=reference, now=now
    )
    status = page.referral.status
    return render(
        request,
        "referral.html",
        {
            "referral": page.referral,
            "timeline": page.timeline,
            # The steps the referral can take now, as the service allows them.
            "can": {name: status in liaison.STEPS[to][0] for name, to in STEPS.items()},
            "working": status in LIVE_STATUSES,
            "status_names": STATUS_NAMES,
            "event_names": EVENT_NAMES,
            "side_names": SIDE_NAMES,
            "question_states": QUESTION_STATES,
            "kind_names": KIND_NAMES,
            "severity_names": SEVERITY_NAMES,
            "tlp_meanings": TLP_MEANINGS,
            "notice": notice,
            "form": form,
            "problems": problems,
            "values": values or {},
        },
        staff=actor,
        status_code=status_code,
    )


@router.get(REFERRALS_URL + "/{reference}")
def referral_page(
    request: Request,
    reference: Reference,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
    actor: Liaison,
    done: str = "",
) -> Response:
    return _referral_page(
        request, session, keyring, actor, reference, now, notice=NOTICES.get(done)
    )


def _act(
    request: Request,
    session: Session,
    keyring: KeyRing,
    actor: Staff,
    reference: str,
    now: datetime,
    change: Callable[[], object],
    form: str,
    values: Mapping[str, str],
) -> Response:
    """Make the change and go back to the referral; a refusal shows the referral again with
    the problem next to the form, what was typed kept, and nothing of the change stored. A
    referral of another body is not found when the page is shown again: a 404 page."""
    return attempt(
        session,
        change,
        done_url=referral_url(reference, STEPS.get(form, form)),
        refused=lambda error: _referral_page(
            request,
            session,
            keyring,
            actor,
            reference,
            now,
            form=form,
            problems=Problems.of(error),
            values=values,
            status_code=error.status,
        ),
    )


@router.post(REFERRALS_URL + "/{reference}/messages/{kind}")
def write(
    request: Request,
    reference: Reference,
    kind: Literal["update", "question"],
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
    actor: Liaison,
    body: FormText = "",
) -> Response:
    def change() -> None:
        liaison.write(
            session=session,
            keyring=keyring,
            actor=actor,
            reference=reference,
            kind=kind,
            text=_valid(WriteIn, {"body": body}).body,
            now=now,
        )

    return _act(
        request, session, keyring, actor, reference, now, change, kind, {"body": body[:10_000]}
    )


@router.post(REFERRALS_URL + "/{reference}/{step}")
def take_step(
    request: Request,
    reference: Reference,
    step: Literal["acknowledge", "accept", "decline", "close"],
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
    actor: Liaison,
    text: FormText = "",
) -> Response:
    def change() -> None:
        liaison.step(
            session=session,
            keyring=keyring,
            actor=actor,
            reference=reference,
            to=STEPS[step],
            text=_valid(StepIn, {"text": text or None}).text,
            now=now,
        )

    return _act(
        request, session, keyring, actor, reference, now, change, step, {"text": text[:5_000]}
    )
