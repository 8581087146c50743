"""The signed-in person's own account: password, sessions, signing out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from admin.shell import (
    LOGIN_URL,
    NO_PROBLEMS,
    PREFIX,
    ConsoleRoute,
    Problems,
    SignedIn,
    clip,
    redirect,
    render,
    without_session_cookie,
)
from api.deps import KeyRingDep, Now, SessionDep
from api.errors import Invalid
from api.i18n import N_
from api.staff import service as staff_service
from api.staff.models import Staff

ACCOUNT_URL = f"{PREFIX}/account"

router = APIRouter(route_class=ConsoleRoute)

FormText = Annotated[str, Form()]

NOTICES = {"password": N_("Your password is changed.")}


def _account_page(
    request: Request,
    session: SessionDep,
    staff: Staff,
    *,
    problems: Problems | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "account.html",
        {
            "sessions": staff_service.sessions_of(session=session, actor=staff),
            "this_session": request.state.staff_session.id_hash,
            "problems": problems or NO_PROBLEMS,
            "notice": notice,
        },
        staff=staff,
        status_code=status_code,
    )


@router.get(ACCOUNT_URL)
def account(request: Request, session: SessionDep, staff: SignedIn, done: str = "") -> Response:
    return _account_page(request, session, staff, notice=NOTICES.get(done))


@router.post(ACCOUNT_URL + "/password")
def change_password(
    request: Request,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
    staff: SignedIn,
    current_password: FormText = "",
    new_password: FormText = "",
    new_password_again: FormText = "",
) -> Response:
    if new_password != new_password_again:
        problems = Problems.field("new_password_again", N_("The two passwords are not the same."))
        return _account_page(request, session, staff, problems=problems, status_code=422)
    try:
        staff_service.change_password(
            session=session,
            keyring=keyring,
            actor=staff,
            current=clip(current_password, 257),
            new=clip(new_password, 257),
            now=now,
            keep=request.state.staff_session,
        )
    except Invalid as error:
        # The service names the new password "password"; on this page it is "new_password".
        problems = Problems(
            {
                ("new_password" if problem.field == "password" else problem.field): problem
                for problem in error.fields
            }
        )
        return _account_page(request, session, staff, problems=problems, status_code=422)
    return redirect(f"{ACCOUNT_URL}?done=password")


@router.post(ACCOUNT_URL + "/sign-out-everywhere")
def sign_out_everywhere(
    request: Request, session: SessionDep, keyring: KeyRingDep, now: Now, staff: SignedIn
) -> Response:
    staff_service.sign_out_everywhere(session=session, keyring=keyring, actor=staff, now=now)
    return without_session_cookie(request, redirect(f"{LOGIN_URL}?done=everywhere"))


@router.post(PREFIX + "/sign-out")
def sign_out(
    request: Request, session: SessionDep, keyring: KeyRingDep, now: Now, staff: SignedIn
) -> Response:
    current = staff_service.Current(staff, request.state.staff_session)
    staff_service.sign_out(session=session, keyring=keyring, current=current, now=now)
    return without_session_cookie(request, redirect(f"{LOGIN_URL}?done=signed-out"))
