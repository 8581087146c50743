"""The console's first visit: creating the first administrator, as ``portline init`` does.

The page exists only for the holder of the one-time set-up token that ``portline serve``
printed on the server's console (api.installation.SetupToken), and only while the
installation has no administrator: otherwise it answers like an address where there is
nothing. Being a secret only the server's operator has, the token also does the work of a
CSRF token for this form, which no session carries yet."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlmodel import Session

from admin.shell import NO_PROBLEMS, PREFIX, ConsoleRoute, Problems, clip, error_page, render
from admin.staff import invitation_url
from api import installation
from api.deps import KeyRingDep, Now, Public, SessionDep
from api.errors import DomainError
from api.i18n import N_

SETUP_URL = f"{PREFIX}/setup"
TOKEN_LIMIT = 100  # longer than any token drawn, so a cut one is still wrong

router = APIRouter(route_class=ConsoleRoute, dependencies=[Public])

FormText = Annotated[str, Form()]


def _offered(request: Request, session: Session, token: str) -> bool:
    """Whether this request may see the page: the process's token, and no administrator."""
    setup_token: installation.SetupToken | None = request.app.state.setup_token
    if setup_token is None or not setup_token.matches(token):
        return False
    return not installation.is_installed(session)


def _setup_page(
    request: Request,
    token: str,
    values: dict[str, str],
    problems: Problems | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "setup.html",
        {
            "token": token,
            "values": values,
            "problems": problems or NO_PROBLEMS,
            "invitation_url": None,
        },
        status_code=status_code,
    )


@router.get(SETUP_URL)
def setup_form(request: Request, session: SessionDep, token: str = "") -> Response:
    token = clip(token, TOKEN_LIMIT)
    if not _offered(request, session, token):
        return error_page(request, 404)
    return _setup_page(request, token, {"email": "", "display_name": ""})


@router.post(SETUP_URL)
def set_up(
    request: Request,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
    token: FormText = "",
    email: FormText = "",
    display_name: FormText = "",
) -> Response:
    token = clip(token, TOKEN_LIMIT)
    if not _offered(request, session, token):
        return error_page(request, 404)
    values = {"email": clip(email, 254), "display_name": clip(display_name, 120)}
    try:
        account = installation.install(
            session=session,
            keyring=keyring,
            email=values["email"],
            display_name=values["display_name"],
            now=now,
        )
    except installation.AlreadyInstalled:
        # Another request (or portline init) made the first administrator meanwhile.
        session.rollback()
        return error_page(request, 404)
    except DomainError as error:
        session.rollback()  # the categories installed before the refusal go too
        return _setup_page(request, token, values, Problems.of(error), error.status)
    # Single use. Should the commit that follows fail, the page is gone all the same, and
    # restarting the server prints a new token.
    request.app.state.setup_token = None
    return render(
        request,
        "setup.html",
        {
            "notice": N_("The account of {email} is created."),
            "notice_params": {"email": account.staff.email},
            "invitation_url": invitation_url(request, account.invitation),
        },
    )
