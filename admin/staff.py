"""Administration of staff accounts: create, disable, enable, reset the second factor,
choose the ports a triager or an administrator sees.

Every change is a POST from a confirmation page or a form, with the session's CSRF token."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlmodel import Session

from admin.shell import (
    NO_PROBLEMS,
    PREFIX,
    Administrator,
    ConsoleRoute,
    Problems,
    clip,
    redirect,
    render,
)
from api.agencies import service as agencies_service
from api.config import Settings
from api.deps import KeyRingDep, Now, SessionDep
from api.errors import DomainError
from api.i18n import N_
from api.ids import Id
from api.policy import Role
from api.ports import service as ports_service
from api.staff import service as staff_service
from api.staff.models import Staff

STAFF_URL = f"{PREFIX}/staff"

router = APIRouter(route_class=ConsoleRoute)

FormText = Annotated[str, Form()]
FormChoices = Annotated[list[str] | None, Form()]


class StaffAction(StrEnum):
    disable = "disable"
    enable = "enable"
    reset_second_factor = "reset-second-factor"


# What the confirmation page says for each action: its title, what happens, the button.
CONFIRMATIONS: dict[StaffAction, tuple[str, str, str]] = {
    StaffAction.disable: (
        N_("Disable the account of {email}?"),
        N_(
            "They are signed out everywhere at once and cannot sign in again until an "
            "administrator enables the account."
        ),
        N_("Disable the account"),
    ),
    StaffAction.enable: (
        N_("Enable the account of {email}?"),
        N_("They can sign in again with their password and their second factor."),
        N_("Enable the account"),
    ),
    StaffAction.reset_second_factor: (
        N_("Reset the second factor of {email}?"),
        N_(
            "Their authenticator app and their recovery codes stop working, and they are "
            "signed out everywhere. You get a new invitation link: with it they choose a "
            "new password and set up the second factor again."
        ),
        N_("Reset the second factor"),
    ),
}

# Fixed notices after a redirect, chosen by a short key.
NOTICES = {
    "disabled": N_("The account is disabled and its sessions have ended."),
    "enabled": N_("The account is enabled again."),
    "ports": N_("The ports of the account are saved. They apply from the person's next page."),
}
EMPTY_VALUES: dict[str, Any] = {
    "email": "",
    "display_name": "",
    "role": "",
    "body_id": "",
    "scope": "all",
    "ports": [],
}


def invitation_url(request: Request, token: str) -> str:
    """The link of an invitation, at the installation's public address."""
    settings: Settings = request.app.state.settings
    return staff_service.invitation_link(settings.public_url, token)


def _staff_page(
    request: Request,
    session: Session,
    actor: Staff,
    *,
    values: dict[str, str] | None = None,
    problems: Problems | None = None,
    notice: str | None = None,
    notice_params: dict[str, Any] | None = None,
    invitation_url: str | None = None,
    status_code: int = 200,
) -> Response:
    bodies = agencies_service.receiving_bodies(session=session)
    accounts = staff_service.list_accounts(session=session, actor=actor)
    my_ports = staff_service.port_codes(session=session, staff=actor)
    return render(
        request,
        "staff.html",
        {
            "accounts": accounts,
            "port_codes": {
                account.id: staff_service.port_codes(session=session, staff=account)
                for account in accounts
            },
            "port_roles": {role.value for role in staff_service.PORT_ROLES},
            # An administrator limited to some ports creates triagers and administrators
            # of those ports only, and chooses no ports.
            "my_ports": my_ports,
            "ports": ports_service.all_ports(session=session, actor=actor),
            "bodies": [body for body in bodies if body.active],
            "body_names": {body.id: body.name for body in bodies},
            "roles": [role for role in Role if role in staff_service.PORT_ROLES]
            if my_ports
            else list(Role),
            "values": values or EMPTY_VALUES,
            "problems": problems or NO_PROBLEMS,
            "notice": notice,
            "notice_params": notice_params or {},
            "invitation_url": invitation_url,
        },
        staff=actor,
        status_code=status_code,
    )


@router.get(STAFF_URL)
def staff_list(
    request: Request, session: SessionDep, actor: Administrator, done: str = ""
) -> Response:
    return _staff_page(request, session, actor, notice=NOTICES.get(done))


def _chosen_role(role: str) -> Role | None:
    return Role(role) if role in {each.value for each in Role} else None


def _scope_values(scope: str, ports: list[str] | None) -> dict[str, Any]:
    """What the ports fieldset sent: "all", or "some" and the codes ticked."""
    return {
        "scope": "some" if scope == "some" else "all",
        "ports": [clip(code, 16) for code in (ports or [])[:200]],
    }


def _chosen_ports(values: dict[str, Any]) -> list[str] | None:
    """The codes to limit the account to (empty: every port); None when "some" was chosen
    with no port ticked."""
    if values["scope"] == "all":
        return []
    return list(values["ports"]) or None


NO_PORT_TICKED = N_("Tick at least one port, or choose all ports.")


@router.post(STAFF_URL)
def create_account(
    request: Request,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
    actor: Administrator,
    email: FormText = "",
    display_name: FormText = "",
    role: FormText = "",
    body_id: FormText = "",
    scope: FormText = "all",
    ports: FormChoices = None,
) -> Response:
    values: dict[str, Any] = {
        "email": clip(email, 254),
        "display_name": clip(display_name, 120),
        "role": clip(role, 16),
        "body_id": clip(body_id, 12),
        **_scope_values(scope, ports),
    }
    chosen_role = _chosen_role(values["role"])
    chosen_ports = _chosen_ports(values)
    if chosen_role is None or chosen_ports is None:
        problems = (
            Problems.field("role", N_("Choose a role."))
            if chosen_role is None
            else Problems.field("ports", NO_PORT_TICKED)
        )
        return _staff_page(
            request, session, actor, values=values, problems=problems, status_code=422
        )
    try:
        account = staff_service.create_account(
            session=session,
            keyring=keyring,
            actor=actor,
            email=values["email"],
            display_name=values["display_name"],
            role=chosen_role,
            body_id=int(values["body_id"]) if values["body_id"].isdigit() else None,
            ports=chosen_ports,
            now=now,
        )
    except DomainError as error:
        return _staff_page(
            request,
            session,
            actor,
            values=values,
            problems=Problems.of(error),
            status_code=error.status,
        )
    return _staff_page(
        request,
        session,
        actor,
        notice=N_("The account of {email} is created."),
        notice_params={"email": account.staff.email},
        invitation_url=invitation_url(request, account.invitation),
    )


# Before the routes of the other actions, whose last segment would take "ports" too.
@router.get(STAFF_URL + "/{staff_id}/ports")
def ports_form(
    request: Request, session: SessionDep, actor: Administrator, staff_id: Id
) -> Response:
    account = staff_service.ports_editable(session=session, actor=actor, staff_id=staff_id)
    codes = staff_service.port_codes(session=session, staff=account)
    values = {"scope": "some" if codes else "all", "ports": codes}
    return _ports_page(request, session, actor, account, values)


def _ports_page(
    request: Request,
    session: Session,
    actor: Staff,
    account: Staff,
    values: dict[str, Any],
    problems: Problems = NO_PROBLEMS,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "staff_ports.html",
        {
            "account": account,
            "ports": ports_service.all_ports(session=session, actor=actor),
            "values": values,
            "problems": problems,
        },
        staff=actor,
        status_code=status_code,
    )


@router.post(STAFF_URL + "/{staff_id}/ports")
def save_ports(
    request: Request,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
    actor: Administrator,
    staff_id: Id,
    scope: FormText = "all",
    ports: FormChoices = None,
) -> Response:
    account = staff_service.ports_editable(session=session, actor=actor, staff_id=staff_id)
    values = _scope_values(scope, ports)
    chosen = _chosen_ports(values)
    if chosen is None:
        problems = Problems.field("ports", NO_PORT_TICKED)
        return _ports_page(request, session, actor, account, values, problems, 422)
    try:
        staff_service.set_ports(
            session=session,
            keyring=keyring,
            actor=actor,
            staff_id=staff_id,
            ports=chosen,
            now=now,
        )
    except DomainError as error:
        session.rollback()
        return _ports_page(
            request, session, actor, account, values, Problems.of(error), error.status
        )
    return redirect(f"{STAFF_URL}?done=ports")


@router.get(STAFF_URL + "/{staff_id}/{action}")
def confirm_action(
    request: Request, session: SessionDep, actor: Administrator, staff_id: Id, action: StaffAction
) -> Response:
    account = staff_service.get_account(session=session, actor=actor, staff_id=staff_id)
    title, explanation, button = CONFIRMATIONS[action]
    return render(
        request,
        "staff_confirm.html",
        {
            "account": account,
            "action": action,
            "title": title,
            "explanation": explanation,
            "button": button,
        },
        staff=actor,
    )


@router.post(STAFF_URL + "/{staff_id}/{action}")
def do_action(
    request: Request,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
    actor: Administrator,
    staff_id: Id,
    action: StaffAction,
) -> Response:
    try:
        if action == StaffAction.reset_second_factor:
            token = staff_service.reset_second_factor(
                session=session, keyring=keyring, actor=actor, staff_id=staff_id, now=now
            )
            account = staff_service.get_account(session=session, actor=actor, staff_id=staff_id)
            return _staff_page(
                request,
                session,
                actor,
                notice=N_("The second factor of {email} is reset."),
                notice_params={"email": account.email},
                invitation_url=invitation_url(request, token),
            )
        active = action == StaffAction.enable
        staff_service.set_active(
            session=session,
            keyring=keyring,
            actor=actor,
            staff_id=staff_id,
            active=active,
            now=now,
        )
    except DomainError as error:
        # Refused before anything changed (no such account, or disabling oneself).
        return _staff_page(
            request, session, actor, problems=Problems.of(error), status_code=error.status
        )
    return redirect(f"{STAFF_URL}?done={'enabled' if active else 'disabled'}")
