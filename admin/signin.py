"""Getting into the console: the invitation link, the password, the second factor and
setting the second factor up. These pages are public: each checks what it needs itself."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from markupsafe import Markup

from admin.shell import (
    LOGIN_URL,
    NO_PROBLEMS,
    PREFIX,
    ConsoleRoute,
    Problems,
    clip,
    error_page,
    redirect,
    render,
    with_session_cookie,
    without_session_cookie,
)
from api.deps import STAFF_COOKIE, KeyRingDep, Now, Public, SessionDep
from api.errors import DomainError, Invalid, Unauthorized
from api.i18n import N_
from api.staff import service as staff_service
from api.staff.service import Current, Enrolment

HOME_URL = PREFIX
SECOND_FACTOR_URL = f"{LOGIN_URL}/second-factor"
ENROL_URL = f"{PREFIX}/enrol"

router = APIRouter(route_class=ConsoleRoute, dependencies=[Public])

# Fixed notices the sign-in page may show after a redirect, chosen by a short key so the
# address never carries text of its own.
NOTICES = {
    "signed-out": N_("You are signed out."),
    "everywhere": N_("You are signed out on every device."),
    "password": N_("Your password is set. Sign in with it to continue."),
    "expired": N_("Too much time has passed. Sign in again."),
}

FormText = Annotated[str, Form()]


def _pending(request: Request, session: SessionDep, now: Now) -> Current | None:
    """The browser's session, also when only the password step is done."""
    try:
        return staff_service.session_for_token(
            session=session, token=request.cookies.get(STAFF_COOKIE, ""), now=now, pending_ok=True
        )
    except Unauthorized:
        return None


Pending = Annotated[Current | None, Depends(_pending)]


def _same_origin(request: Request) -> bool:
    # Browsers say where a form came from; another site must not post a sign-in here.
    return request.headers.get("sec-fetch-site") in (None, "same-origin", "none")


def _form_expired(request: Request) -> Response:
    return error_page(request, 403, N_("This form has expired. Reload the page and try again."))


def _csrf_ok(sent: str, current: Current) -> bool:
    return bool(sent) and secrets.compare_digest(sent, current.staff_session.csrf_token)


# Password -------------------------------------------------------------------------------------


@router.get(LOGIN_URL)
def login_form(request: Request, current: Pending, done: str = "") -> Response:
    if current is not None and current.staff_session.second_factor_done:
        return redirect(HOME_URL)
    return render(request, "login.html", {"email": "", "notice": NOTICES.get(done)})


@router.post(LOGIN_URL)
def login(
    request: Request,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
    email: FormText = "",
    password: FormText = "",
) -> Response:
    if not _same_origin(request):
        return _form_expired(request)
    try:
        signed_in = staff_service.sign_in(
            session=session,
            keyring=keyring,
            email=clip(email, 254),
            # No password is longer than 256 characters, so a cut one is still wrong.
            password=clip(password, 257),
            now=now,
        )
    except DomainError as error:
        return render(
            request,
            "login.html",
            {"email": clip(email, 254), "notice": None, "problems": Problems.of(error)},
            status_code=error.status,
        )
    next_step = SECOND_FACTOR_URL if signed_in.staff.totp_enabled else ENROL_URL
    return with_session_cookie(request, redirect(next_step), signed_in.token)


# Second factor --------------------------------------------------------------------------------


def _at_second_factor(current: Current | None) -> Current | Response:
    """The session waiting for its second step, or where to send someone who is not."""
    if current is None:
        return redirect(LOGIN_URL)
    if current.staff_session.second_factor_done:
        return redirect(HOME_URL)
    if not current.staff.totp_enabled:
        return redirect(ENROL_URL)
    return current


@router.get(SECOND_FACTOR_URL)
def second_factor_form(request: Request, pending: Pending) -> Response:
    current = _at_second_factor(pending)
    if isinstance(current, Response):
        return current
    return render(request, "second_factor.html", {"csrf_token": current.staff_session.csrf_token})


@router.post(SECOND_FACTOR_URL)
def second_factor(
    request: Request,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
    pending: Pending,
    code: FormText = "",
    csrf_token: FormText = "",
) -> Response:
    current = _at_second_factor(pending)
    if isinstance(current, Response):
        return current
    if not _csrf_ok(csrf_token, current):
        return _form_expired(request)
    try:
        signed_in = staff_service.second_factor(
            session=session,
            keyring=keyring,
            staff_session=current.staff_session,
            code=clip(code, 64),
            now=now,
        )
    except Invalid as error:
        return render(
            request,
            "second_factor.html",
            {"csrf_token": current.staff_session.csrf_token, "problems": Problems.of(error)},
            status_code=error.status,
        )
    except DomainError as error:
        # Too slow, or the account was disabled meanwhile: start again from the password.
        response = render(
            request,
            "login.html",
            {"email": "", "notice": None, "problems": Problems.of(error)},
            status_code=error.status,
        )
        return without_session_cookie(request, response)
    return with_session_cookie(request, redirect(HOME_URL), signed_in.token)


# Setting up the second factor -----------------------------------------------------------------


def _enrolment_page(
    request: Request, current: Current, enrolment: Enrolment, problems: Problems | None = None
) -> Response:
    secret = enrolment.secret
    return render(
        request,
        "enrol.html",
        {
            "csrf_token": current.staff_session.csrf_token,
            "email": current.staff.email,
            # segno draws the code on the server from the secret alone: no outside text.
            "qr_svg": Markup(enrolment.qr_svg),  # noqa: S704
            "secret_groups": [secret[start : start + 4] for start in range(0, len(secret), 4)],
            "problems": problems or NO_PROBLEMS,
        },
        status_code=422 if problems else 200,
    )


def _enrolling(current: Current | None, now: datetime) -> Current | Response:
    """The session setting up its second factor, or where to send someone who has no
    business doing so now."""
    if current is None:
        return redirect(LOGIN_URL)
    if current.staff.totp_enabled:
        return redirect(HOME_URL if current.staff_session.second_factor_done else SECOND_FACTOR_URL)
    # Only right after the password: the same limit as for typing a code.
    if now - current.staff_session.created_at > staff_service.SECOND_FACTOR_LIMIT:
        return redirect(f"{LOGIN_URL}?done=expired")
    return current


@router.get(ENROL_URL)
def enrol_form(
    request: Request, session: SessionDep, keyring: KeyRingDep, now: Now, pending: Pending
) -> Response:
    current = _enrolling(pending, now)
    if isinstance(current, Response):
        return current
    # The same secret on every reload until it is confirmed, so a scanned code stays good.
    enrolment = staff_service.pending_enrolment(
        keyring=keyring, staff=current.staff
    ) or staff_service.start_enrolment(session=session, keyring=keyring, staff=current.staff)
    return _enrolment_page(request, current, enrolment)


@router.post(ENROL_URL)
def enrol(
    request: Request,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
    pending: Pending,
    code: FormText = "",
    csrf_token: FormText = "",
) -> Response:
    current = _enrolling(pending, now)
    if isinstance(current, Response):
        return current
    if not _csrf_ok(csrf_token, current):
        return _form_expired(request)
    try:
        done = staff_service.confirm_enrolment(
            session=session,
            keyring=keyring,
            staff_session=current.staff_session,
            code=clip(code, 64),
            now=now,
        )
    except DomainError as error:
        enrolment = staff_service.pending_enrolment(keyring=keyring, staff=current.staff)
        if enrolment is None:
            return redirect(ENROL_URL)
        return _enrolment_page(request, current, enrolment, Problems.of(error))
    # Enrolling proved the second factor: the person is signed in from here on.
    page = render(
        request,
        "recovery_codes.html",
        {"recovery_codes": done.recovery_codes, "continue_url": HOME_URL},
    )
    return with_session_cookie(request, page, done.signed_in.token)


# The invitation -------------------------------------------------------------------------------


def _welcome_page(
    request: Request, token: str, email: str, problems: Problems | None = None
) -> Response:
    return render(
        request,
        "welcome.html",
        {"token": token, "email": email, "problems": problems or NO_PROBLEMS},
        status_code=422 if problems else 200,
    )


@router.get(PREFIX + "/welcome/{token}")
def welcome_form(request: Request, session: SessionDep, now: Now, token: str) -> Response:
    token = clip(token, 100)
    staff = staff_service.staff_for_invitation(session=session, token=token, now=now)
    return _welcome_page(request, token, staff.email)


@router.post(PREFIX + "/welcome/{token}")
def welcome(
    request: Request,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
    token: str,
    password: FormText = "",
    password_again: FormText = "",
) -> Response:
    token = clip(token, 100)
    staff = staff_service.staff_for_invitation(session=session, token=token, now=now)
    if password != password_again:
        problems = Problems.field("password_again", N_("The two passwords are not the same."))
        return _welcome_page(request, token, staff.email, problems)
    try:
        staff_service.accept_invitation(
            session=session, keyring=keyring, token=token, password=clip(password, 257), now=now
        )
    except Invalid as error:
        return _welcome_page(request, token, staff.email, Problems.of(error))
    return redirect(f"{LOGIN_URL}?done=password")
