"""The staff JSON API: signing in with two factors, one's own account, and accounts
(administrators). The console does the same through its pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from sqlmodel import Session

from api.deps import (
    STAFF_COOKIE,
    KeyRingDep,
    Now,
    Public,
    SessionDep,
    clear_staff_cookie,
    require,
    secure_cookie,
)
from api.errors import STAFF_ONLY, Unauthorized, error_responses
from api.i18n import N_
from api.ids import Id
from api.policy import Permission, Role
from api.staff import service
from api.staff.models import Staff
from api.staff.schemas import (
    CodeIn,
    EnrolledOut,
    EnrolmentOut,
    PasswordChange,
    PasswordIn,
    SessionPublic,
    SignedIn,
    SignInIn,
    StaffCreate,
    StaffCreated,
    StaffPorts,
    StaffPublic,
)

router = APIRouter(prefix="/staff", tags=["staff"])

OwnAccount = Annotated[Staff, Depends(require(Permission.own_account))]
Administrator = Annotated[Staff, Depends(require(Permission.manage_staff))]


def public_view(session: Session, staff: Staff) -> StaffPublic:
    assert staff.id is not None
    return StaffPublic(
        id=staff.id,
        email=staff.email,
        display_name=staff.display_name,
        role=Role(staff.role),
        body_id=staff.body_id,
        active=staff.active,
        second_factor=staff.totp_enabled,
        ports=service.port_codes(session=session, staff=staff),
    )


def set_staff_cookie(response: Response, request: Request, token: str) -> None:
    response.set_cookie(
        STAFF_COOKIE,
        token,
        httponly=True,
        secure=secure_cookie(request),
        samesite="strict",
        path="/",
        max_age=int(service.ABSOLUTE_LIMIT.total_seconds()),
    )


def _pending(request: Request, session: SessionDep, now: Now) -> service.Current:
    return service.session_for_token(
        session=session, token=request.cookies.get(STAFF_COOKIE, ""), now=now, pending_ok=True
    )


Pending = Annotated[service.Current, Depends(_pending)]


@router.post(
    "/session",
    dependencies=[Public],
    summary="Sign in: the password step",
    responses=error_responses(401),
)
def sign_in(
    body: SignInIn,
    request: Request,
    response: Response,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
) -> SignedIn:
    signed = service.sign_in(
        session=session, keyring=keyring, email=body.email, password=body.password, now=now
    )
    set_staff_cookie(response, request, signed.token)
    return SignedIn(
        second_factor_needed=True,
        enrolment_needed=not signed.staff.totp_enabled,
        csrf_token=signed.csrf_token,
    )


@router.post(
    "/session/second-factor",
    dependencies=[Public],
    summary="Sign in: the code step",
    responses=error_responses(401),
)
def second_factor(
    body: CodeIn,
    request: Request,
    response: Response,
    pending: Pending,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
) -> SignedIn:
    signed = service.second_factor(
        session=session,
        keyring=keyring,
        staff_session=pending.staff_session,
        code=body.code,
        now=now,
    )
    set_staff_cookie(response, request, signed.token)
    return SignedIn(second_factor_needed=False, csrf_token=signed.csrf_token)


@router.post(
    "/enrolment",
    dependencies=[Public],
    summary="Start setting up the authenticator",
    responses=error_responses(401, 409),
)
def start_enrolment(pending: Pending, session: SessionDep, keyring: KeyRingDep) -> EnrolmentOut:
    if pending.staff_session.second_factor_done:
        raise Unauthorized(N_("Please sign in."))
    enrolment = service.pending_enrolment(
        keyring=keyring, staff=pending.staff
    ) or service.start_enrolment(session=session, keyring=keyring, staff=pending.staff)
    return EnrolmentOut(secret=enrolment.secret, uri=enrolment.uri, qr_svg=enrolment.qr_svg)


@router.post(
    "/enrolment/confirm",
    dependencies=[Public],
    summary="Confirm with a first code",
    responses=error_responses(401, 409),
)
def confirm_enrolment(
    body: CodeIn,
    request: Request,
    response: Response,
    pending: Pending,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
) -> EnrolledOut:
    done = service.confirm_enrolment(
        session=session,
        keyring=keyring,
        staff_session=pending.staff_session,
        code=body.code,
        now=now,
    )
    set_staff_cookie(response, request, done.signed_in.token)
    return EnrolledOut(recovery_codes=done.recovery_codes, csrf_token=done.signed_in.csrf_token)


@router.post(
    "/invitations/{token}",
    dependencies=[Public],
    summary="Choose a password",
    responses=error_responses(404),
)
def accept_invitation(
    token: str, body: PasswordIn, session: SessionDep, keyring: KeyRingDep, now: Now
) -> StaffPublic:
    staff = service.accept_invitation(
        session=session, keyring=keyring, token=token, password=body.password, now=now
    )
    return public_view(session, staff)


@router.delete("/session", status_code=204, summary="Sign out", responses=STAFF_ONLY)
def sign_out(
    actor: OwnAccount,
    request: Request,
    response: Response,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
) -> None:
    current = service.Current(actor, request.state.staff_session)
    service.sign_out(session=session, keyring=keyring, current=current, now=now)
    clear_staff_cookie(request, response)


@router.get("/me", summary="Who I am", responses=STAFF_ONLY)
def me(actor: OwnAccount, session: SessionDep) -> StaffPublic:
    return public_view(session, actor)


@router.post("/me/password", status_code=204, summary="Change my password", responses=STAFF_ONLY)
def change_password(
    body: PasswordChange,
    actor: OwnAccount,
    request: Request,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
) -> None:
    service.change_password(
        session=session,
        keyring=keyring,
        actor=actor,
        current=body.current_password,
        new=body.new_password,
        now=now,
        keep=request.state.staff_session,
    )


@router.get("/me/sessions", summary="My signed-in browsers", responses=STAFF_ONLY)
def my_sessions(actor: OwnAccount, request: Request, session: SessionDep) -> list[SessionPublic]:
    mine = request.state.staff_session
    return [
        SessionPublic(
            created_at=item.created_at,
            last_seen_at=item.last_seen_at,
            current=item.id_hash == mine.id_hash,
        )
        for item in service.sessions_of(session=session, actor=actor)
    ]


@router.delete("/me/sessions", status_code=204, summary="Sign out everywhere", responses=STAFF_ONLY)
def sign_out_everywhere(
    actor: OwnAccount,
    request: Request,
    response: Response,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
) -> None:
    service.sign_out_everywhere(session=session, keyring=keyring, actor=actor, now=now)
    clear_staff_cookie(request, response)


@router.get("/accounts", summary="Every staff account", responses=STAFF_ONLY)
def list_accounts(actor: Administrator, session: SessionDep) -> list[StaffPublic]:
    return [
        public_view(session, staff) for staff in service.list_accounts(session=session, actor=actor)
    ]


@router.post(
    "/accounts",
    status_code=201,
    summary="Create an account",
    responses={**STAFF_ONLY, **error_responses(409)},
)
def create_account(
    body: StaffCreate,
    actor: Administrator,
    request: Request,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
) -> StaffCreated:
    account = service.create_account(
        session=session,
        keyring=keyring,
        actor=actor,
        email=body.email,
        role=body.role,
        display_name=body.display_name,
        body_id=body.body_id,
        language=body.language,
        ports=body.ports,
        now=now,
    )
    return StaffCreated(
        account=public_view(session, account.staff),
        invitation_url=service.invitation_link(
            request.app.state.settings.public_url, account.invitation
        ),
    )


@router.post(
    "/accounts/{staff_id}/disable",
    summary="Disable an account",
    responses={**STAFF_ONLY, **error_responses(404, 409)},
)
def disable(
    staff_id: Id, actor: Administrator, session: SessionDep, keyring: KeyRingDep, now: Now
) -> StaffPublic:
    staff = service.set_active(
        session=session, keyring=keyring, actor=actor, staff_id=staff_id, active=False, now=now
    )
    return public_view(session, staff)


@router.post(
    "/accounts/{staff_id}/enable",
    summary="Enable an account again",
    responses={**STAFF_ONLY, **error_responses(404)},
)
def enable(
    staff_id: Id, actor: Administrator, session: SessionDep, keyring: KeyRingDep, now: Now
) -> StaffPublic:
    staff = service.set_active(
        session=session, keyring=keyring, actor=actor, staff_id=staff_id, active=True, now=now
    )
    return public_view(session, staff)


@router.put(
    "/accounts/{staff_id}/ports",
    summary="Limit a triager or an administrator to some ports (none: every port)",
    responses={**STAFF_ONLY, **error_responses(404, 409, 422)},
)
def put_ports(
    staff_id: Id,
    body: StaffPorts,
    actor: Administrator,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
) -> StaffPublic:
    staff = service.set_ports(
        session=session, keyring=keyring, actor=actor, staff_id=staff_id, ports=body.ports, now=now
    )
    return public_view(session, staff)


@router.post(
    "/accounts/{staff_id}/reset-second-factor",
    summary="Reset a second factor",
    responses={**STAFF_ONLY, **error_responses(404)},
)
def reset_second_factor(
    staff_id: Id,
    actor: Administrator,
    request: Request,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
) -> StaffCreated:
    token = service.reset_second_factor(
        session=session, keyring=keyring, actor=actor, staff_id=staff_id, now=now
    )
    staff = service.get_account(session=session, actor=actor, staff_id=staff_id)
    return StaffCreated(
        account=public_view(session, staff),
        invitation_url=service.invitation_link(request.app.state.settings.public_url, token),
    )
