"""Staff accounts, sign-in with two factors, and server-side sessions.

Every function that acts for someone takes the acting staff member and checks the policy
itself; the routes check it too, but a route that forgets cannot leak.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NoReturn

from sqlalchemy import ColumnElement, CursorResult, Delete, Update, delete, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, SQLModel, col, select

from api.agencies.models import Body
from api.audit import service as audit_service
from api.crypto import KeyRing, open_text
from api.errors import (
    Conflict,
    FieldProblem,
    Forbidden,
    Invalid,
    NotFound,
    Unauthorized,
    invalid_field,
)
from api.i18n import LANGUAGES, N_
from api.ids import is_id
from api.policy import Permission, Role, allows
from api.ports.models import Port
from api.staff import passwords, totp
from api.staff.models import Invitation, RecoveryCode, Staff, StaffPort, StaffSession

IDLE_LIMIT = timedelta(minutes=30)
ABSOLUTE_LIMIT = timedelta(hours=12)
SECOND_FACTOR_LIMIT = timedelta(minutes=10)
INVITATION_LIMIT = timedelta(days=3)
LOCK_AFTER_FAILURES = 5
LOCK_FOR = timedelta(minutes=15)
SECOND_FACTOR_TRIES = 5  # wrong codes before a half-signed-in session ends
_TOTP_LABEL = b"staff.totp_secret"


def authorize(actor: Staff, permission: Permission) -> None:
    """The policy, in the service layer: refuse unless the actor's role grants it."""
    if not actor.active or not allows(actor.role, permission):
        raise Forbidden(N_("You are not allowed to do this."))


# Ports ----------------------------------------------------------------------------------------

# The roles an account of which may be limited to some ports. A liaison officer already sees
# only the referrals to their own body, and an auditor reads the whole audit log.
PORT_ROLES = frozenset({Role.triager, Role.administrator})
ONLY_UNLIMITED_CHOOSE_PORTS = N_(
    "Only an administrator of every port chooses the ports of an account."
)
NO_PORTS_FOR_ROLE = N_(
    "Only triagers and administrators can be limited to some ports: a liaison officer sees "
    "the referrals to their own body, an auditor the whole audit log."
)


def visible_ports(*, session: Session, actor: Staff) -> frozenset[int] | None:
    """The ids of the ports whose cases, bodies, routing rules and figures ``actor`` may
    see, or None for every port: an account with no ports chosen, as every account was
    before ports could be chosen. Every listing and every look-up of those objects asks
    this, so that what lies in another port answers as if it did not exist."""
    if actor.id is None:
        return None
    found = session.exec(select(StaffPort.port_id).where(StaffPort.staff_id == actor.id)).all()
    return frozenset(found) or None


def sees_port(*, session: Session, actor: Staff, port_id: int | None) -> bool:
    ports = visible_ports(session=session, actor=actor)
    return ports is None or port_id in ports


def port_codes(*, session: Session, staff: Staff) -> list[str]:
    """The codes of the ports ``staff`` is limited to, by code; empty for every port."""
    query = (
        select(Port.code)
        .join(StaffPort, col(StaffPort.port_id) == col(Port.id))
        .where(StaffPort.staff_id == staff.id)
        .order_by(col(Port.code))
    )
    return list(session.exec(query).all())


def _scope_text(codes: Sequence[str]) -> str:
    """How the audit log writes an account's ports."""
    return ",".join(codes) if codes else "all"


def _resolve_ports(session: Session, codes: Sequence[str]) -> list[Port]:
    """The ports of ``codes`` (inactive ones too), each once; an unknown code is named."""
    found: dict[str, Port] = {}
    for code in codes:
        port = session.exec(select(Port).where(Port.code == code)).first()
        if port is None or port.id is None:
            raise invalid_field("ports", N_("There is no port {code}."), code=code)
        found[port.code] = port
    return sorted(found.values(), key=lambda port: port.code)


def _manages(session: Session, actor: Staff, staff: Staff) -> bool:
    """Whether ``actor`` may see and act on the account ``staff``. An administrator limited
    to some ports manages only the triagers and administrators of ports they have; taking
    over anyone else's account would give them what lies beyond their ports."""
    mine = visible_ports(session=session, actor=actor)
    if mine is None:
        return True
    theirs = visible_ports(session=session, actor=staff)
    return staff.role in PORT_ROLES and theirs is not None and theirs <= mine


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _audit(
    session: Session,
    keyring: KeyRing,
    action: str,
    now: datetime,
    *,
    actor: Staff | None,
    target: Staff | None = None,
    **detail: str | int | bool | None,
) -> None:
    audit_service.record(
        session=session,
        keyring=keyring,
        action=action,
        now=now,
        actor_id=actor.id if actor else None,
        actor=actor.email if actor else "system",
        object_type="staff" if target else "",
        object_id=target.id if target and target.id is not None else "",
        detail=detail,
    )


# Accounts --------------------------------------------------------------------------------


def invitation_link(public_url: str, token: str) -> str:
    """The link an invitation (or a second-factor reset) is opened at: always at
    ``PORTLINE_PUBLIC_URL``, never at whatever address a request happened to arrive by (a
    proxy's inner address, a Host header a client chose)."""
    return f"{public_url.rstrip('/')}/admin/welcome/{token}"


@dataclass(frozen=True)
class NewAccount:
    staff: Staff
    invitation: str  # a one-time token for the person to choose their password


def _invite(session: Session, staff: Staff, now: datetime) -> str:
    assert staff.id is not None
    session.exec(delete(Invitation).where(col(Invitation.staff_id) == staff.id))
    token = secrets.token_urlsafe(32)
    session.add(
        Invitation(
            token_hash=_token_hash(token), staff_id=staff.id, expires_at=now + INVITATION_LIMIT
        )
    )
    return token


def create_account(
    *,
    session: Session,
    keyring: KeyRing,
    actor: Staff | None,
    email: str,
    role: Role,
    now: datetime,
    display_name: str = "",
    body_id: int | None = None,
    language: str = "en",
    ports: Sequence[str] = (),
) -> NewAccount:
    """A new account with no password yet; ``actor`` None is the command line's bootstrap.

    ``ports`` (codes) limits a triager or an administrator to those ports; none means every
    port. An administrator limited to some ports creates only triagers and administrators,
    and they get that administrator's own ports."""
    limited_to: frozenset[int] | None = None
    if actor is not None:
        authorize(actor, Permission.manage_staff)
        limited_to = visible_ports(session=session, actor=actor)
    email = email.strip().lower()
    if "@" not in email or len(email) > 254 or email.startswith("@") or email.endswith("@"):
        raise Invalid(
            N_("The request has a problem in {field}."),
            fields=[FieldProblem("email", N_("This is not an e-mail address."))],
            field="email",
        )
    if role == Role.liaison and body_id is None:
        raise Invalid(
            N_("The request has a problem in {field}."),
            fields=[
                FieldProblem("body_id", N_("A liaison officer belongs to one receiving body."))
            ],
            field="body_id",
        )
    if (
        role == Role.liaison
        and body_id is not None
        and (not is_id(body_id) or session.get(Body, body_id) is None)
    ):
        raise invalid_field("body_id", N_("There is no such receiving body."))
    chosen = _resolve_ports(session, ports)
    if chosen and role not in PORT_ROLES:
        raise invalid_field("ports", NO_PORTS_FOR_ROLE)
    if limited_to is not None:
        if chosen:
            raise Forbidden(ONLY_UNLIMITED_CHOOSE_PORTS)
        if role not in PORT_ROLES:
            raise Forbidden(
                N_(
                    "An administrator limited to some ports creates only triagers and "
                    "administrators, for their own ports."
                )
            )
        chosen = list(session.exec(select(Port).where(col(Port.id).in_(limited_to))))
    if session.exec(select(Staff).where(Staff.email == email)).first() is not None:
        raise Conflict(
            N_("An account with this e-mail address already exists."),
            fields=[
                FieldProblem("email", N_("An account with this e-mail address already exists."))
            ],
        )
    staff = Staff(
        email=email,
        display_name=display_name.strip()[:120],
        role=role,
        body_id=body_id if role == Role.liaison else None,
        language=language if language in LANGUAGES else "en",
        created_at=now,
    )
    session.add(staff)
    session.flush()
    assert staff.id is not None
    session.add_all(StaffPort(staff_id=staff.id, port_id=port.id or 0) for port in chosen)
    session.flush()
    token = _invite(session, staff, now)
    _audit(
        session,
        keyring,
        "staff.created",
        now,
        actor=actor,
        target=staff,
        role=str(role),
        ports=_scope_text(sorted(port.code for port in chosen)),
    )
    return NewAccount(staff, token)


def list_accounts(*, session: Session, actor: Staff) -> Sequence[Staff]:
    """Every account the actor manages (see :func:`_manages`), by e-mail address."""
    authorize(actor, Permission.manage_staff)
    accounts = session.exec(select(Staff).order_by(col(Staff.email))).all()
    if visible_ports(session=session, actor=actor) is None:
        return accounts
    return [staff for staff in accounts if _manages(session, actor, staff)]


def triagers(*, session: Session, actor: Staff, port_id: int | None = None) -> Sequence[Staff]:
    """Who a case can be assigned to, for a triager choosing or filtering by assignee;
    disabled accounts too, since cases may still be theirs. With ``port_id``, only those
    who see that port."""
    authorize(actor, Permission.triage)
    query = (
        select(Staff)
        .where(Staff.role == Role.triager.value)
        .order_by(col(Staff.display_name), col(Staff.email))
    )
    if port_id is not None:
        limited = select(StaffPort.staff_id)
        seeing = select(StaffPort.staff_id).where(StaffPort.port_id == port_id)
        query = query.where(col(Staff.id).not_in(limited) | col(Staff.id).in_(seeing))
    return session.exec(query).all()


def get_account(*, session: Session, actor: Staff, staff_id: int) -> Staff:
    authorize(actor, Permission.manage_staff)
    staff = session.get(Staff, staff_id)
    if staff is None or not _manages(session, actor, staff):
        raise NotFound(N_("There is no such account."))
    return staff


def ports_editable(*, session: Session, actor: Staff, staff_id: int) -> Staff:
    """The account whose ports ``actor`` is about to choose, if they may: only an
    administrator of every port, for a triager's or an administrator's account other than
    their own."""
    authorize(actor, Permission.manage_staff)
    if visible_ports(session=session, actor=actor) is not None:
        raise Forbidden(ONLY_UNLIMITED_CHOOSE_PORTS)
    staff = get_account(session=session, actor=actor, staff_id=staff_id)
    if staff.id == actor.id:
        # One could lock oneself out of choosing ports, and no one else might be left to.
        raise Conflict(N_("You cannot change the ports of your own account."))
    if staff.role not in PORT_ROLES:
        raise Conflict(NO_PORTS_FOR_ROLE)
    return staff


def set_ports(
    *,
    session: Session,
    keyring: KeyRing,
    actor: Staff,
    staff_id: int,
    ports: Sequence[str],
    now: datetime,
) -> Staff:
    """Limit a triager or an administrator to ``ports`` (codes), or none for every port.
    It takes effect on the person's next request."""
    staff = ports_editable(session=session, actor=actor, staff_id=staff_id)
    chosen = _resolve_ports(session, ports)
    session.refresh(staff, with_for_update=True)  # two changes at once take turns
    before = port_codes(session=session, staff=staff)
    after = [port.code for port in chosen]
    if before != after:
        session.exec(delete(StaffPort).where(col(StaffPort.staff_id) == staff_id))
        session.add_all(StaffPort(staff_id=staff_id, port_id=port.id or 0) for port in chosen)
        session.flush()
        _audit(
            session,
            keyring,
            "staff.ports_changed",
            now,
            actor=actor,
            target=staff,
            ports=f"{_scope_text(before)} -> {_scope_text(after)}",
        )
    return staff


def set_active(
    *, session: Session, keyring: KeyRing, actor: Staff, staff_id: int, active: bool, now: datetime
) -> Staff:
    staff = get_account(session=session, actor=actor, staff_id=staff_id)
    if staff.id == actor.id and not active:
        raise Conflict(N_("You cannot disable your own account."))
    staff.active = active
    session.add(staff)
    if not active:
        end_all_sessions(session=session, staff=staff)
    _audit(
        session,
        keyring,
        "staff.enabled" if active else "staff.disabled",
        now,
        actor=actor,
        target=staff,
    )
    return staff


def reset_second_factor(
    *, session: Session, keyring: KeyRing, actor: Staff, staff_id: int, now: datetime
) -> str:
    """Forget the person's authenticator and recovery codes; they enrol again from a new
    invitation. Returns the invitation token."""
    staff = get_account(session=session, actor=actor, staff_id=staff_id)
    staff.totp_secret_sealed, staff.totp_enabled, staff.totp_last_step = None, False, 0
    session.add(staff)
    session.exec(delete(RecoveryCode).where(col(RecoveryCode.staff_id) == staff.id))
    end_all_sessions(session=session, staff=staff)
    token = _invite(session, staff, now)
    _audit(session, keyring, "staff.second_factor_reset", now, actor=actor, target=staff)
    return token


# Passwords and invitations ----------------------------------------------------------------


def _refuse_weak(password: str, staff: Staff) -> None:
    reason = passwords.weakness(
        password, personal=[staff.email, *staff.email.split("@"), staff.display_name]
    )
    if reason:
        raise Invalid(
            N_("The request has a problem in {field}."),
            fields=[FieldProblem("password", reason)],
            field="password",
        )


def staff_for_invitation(*, session: Session, token: str, now: datetime) -> Staff:
    invitation = session.get(Invitation, _token_hash(token))
    staff = session.get(Staff, invitation.staff_id) if invitation else None
    if invitation is None or staff is None or invitation.expires_at <= now or not staff.active:
        raise NotFound(
            N_("This link has expired or was already used. Ask an administrator for a new one.")
        )
    return staff


def accept_invitation(
    *, session: Session, keyring: KeyRing, token: str, password: str, now: datetime
) -> Staff:
    staff = staff_for_invitation(session=session, token=token, now=now)
    _refuse_weak(password, staff)
    staff.password_hash = passwords.hash_password(password)
    session.add(staff)
    session.exec(delete(Invitation).where(col(Invitation.staff_id) == staff.id))
    _audit(session, keyring, "staff.password_set", now, actor=staff, target=staff)
    return staff


def change_password(
    *,
    session: Session,
    keyring: KeyRing,
    actor: Staff,
    current: str,
    new: str,
    now: datetime,
    keep: StaffSession | None = None,
) -> None:
    """Change one's own password; every other session of the account ends."""
    authorize(actor, Permission.own_account)
    ok, _rehash = passwords.verify(current, actor.password_hash)
    if not ok:
        raise Invalid(
            N_("The request has a problem in {field}."),
            fields=[FieldProblem("current_password", N_("This is not your current password."))],
            field="current_password",
        )
    _refuse_weak(new, actor)
    actor.password_hash = passwords.hash_password(new)
    session.add(actor)
    others = delete(StaffSession).where(col(StaffSession.staff_id) == actor.id)
    if keep is not None:
        others = others.where(col(StaffSession.id_hash) != keep.id_hash)
    session.exec(others)
    _audit(session, keyring, "staff.password_changed", now, actor=actor, target=actor)


# Second factor ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Enrolment:
    secret: str
    uri: str
    qr_svg: str


def start_enrolment(*, session: Session, keyring: KeyRing, staff: Staff) -> Enrolment:
    """A new secret for the person's authenticator app, kept sealed until confirmed."""
    if staff.totp_enabled:
        raise Conflict(N_("The second factor is already set up."))
    secret = totp.new_secret()
    staff.totp_secret_sealed = seal_totp_secret(keyring, secret)
    session.add(staff)
    uri = totp.provisioning_uri(secret, staff.email)
    return Enrolment(secret=secret, uri=uri, qr_svg=totp.qr_svg(uri))


def pending_enrolment(*, keyring: KeyRing, staff: Staff) -> Enrolment | None:
    if staff.totp_enabled or staff.totp_secret_sealed is None:
        return None
    secret = open_totp_secret(keyring, staff.totp_secret_sealed)
    uri = totp.provisioning_uri(secret, staff.email)
    return Enrolment(secret=secret, uri=uri, qr_svg=totp.qr_svg(uri))


def seal_totp_secret(keyring: KeyRing, secret: str, *, kek_id: int | None = None) -> bytes:
    """A second factor's secret, sealed with the current key-encryption key (so a key
    rotation seals it again, api/rotation.py)."""
    return keyring.seal_secret(secret.encode(), label=_TOTP_LABEL, kek_id=kek_id)


def open_totp_secret(keyring: KeyRing, sealed: bytes) -> str:
    if sealed[:1] == b"\x01":
        # Sealed before key ids, under a key derived from the lookup key.
        legacy = bytes.fromhex(keyring.lookup_hash("staff-totp-key", "v1"))
        return open_text(legacy, sealed, label=_TOTP_LABEL)
    return keyring.open_secret(sealed, label=_TOTP_LABEL).decode()


@dataclass(frozen=True)
class EnrolmentDone:
    recovery_codes: list[str]  # shown once, stored hashed
    signed_in: SignIn  # enrolling proves the second factor: the sign-in completes


def confirm_enrolment(
    *,
    session: Session,
    keyring: KeyRing,
    staff_session: StaffSession,
    code: str,
    now: datetime,
) -> EnrolmentDone:
    """Switch the second factor on with a first good code, make ten recovery codes and
    replace the half-signed-in session with a full one."""
    staff = session.get(Staff, staff_session.staff_id)
    enrolment = pending_enrolment(keyring=keyring, staff=staff) if staff else None
    if staff is None or enrolment is None:
        raise Conflict(N_("Start setting up the second factor first."))
    step = totp.matching_step(enrolment.secret, code, now, after_step=0)
    if step is None or not _claim_step(session, staff, step):
        raise Invalid(
            N_("The request has a problem in {field}."),
            fields=[
                FieldProblem(
                    "code",
                    N_(
                        "This code is not right. Check the time on your phone and try the next code."
                    ),
                )
            ],
            field="code",
        )
    assert staff.id is not None
    staff.totp_enabled = True
    session.add(staff)
    codes = totp.new_recovery_codes()
    session.exec(delete(RecoveryCode).where(col(RecoveryCode.staff_id) == staff.id))
    for code_text in codes:
        session.add(
            RecoveryCode(
                staff_id=staff.id,
                code_hash=passwords.hash_password(totp.normalise_recovery_code(code_text)),
            )
        )
    _audit(session, keyring, "staff.second_factor_enrolled", now, actor=staff, target=staff)
    signed_in = _complete_sign_in(session, keyring, staff, staff_session, now, method="enrolment")
    return EnrolmentDone(codes, signed_in)


def _use_recovery_code(session: Session, staff: Staff, code: str, now: datetime) -> bool:
    """Spend one of the person's unused recovery codes matching ``code``. Spending is one
    conditional update, so the same code sent twice at once works once."""
    normalised = totp.normalise_recovery_code(code)
    if len(normalised) != 12:
        return False
    unused = session.exec(
        select(RecoveryCode).where(
            RecoveryCode.staff_id == staff.id, col(RecoveryCode.used_at).is_(None)
        )
    ).all()
    for recovery in unused:
        if passwords.verify(normalised, recovery.code_hash)[0]:
            return _changed_one(
                session,
                update(RecoveryCode)
                .where(col(RecoveryCode.id) == recovery.id, col(RecoveryCode.used_at).is_(None))
                .values(used_at=now),
            )
    return False


def _claim_step(session: Session, staff: Staff, step: int) -> bool:
    """Record ``step`` as the person's last used code step, if it is newer than the one
    recorded: one conditional update, so of two requests with the same code (on any
    number of processes) exactly one wins; the other sees the step already used."""
    claimed = _changed_one(
        session,
        update(Staff)
        .where(col(Staff.id) == staff.id, col(Staff.totp_last_step) < step)
        .values(totp_last_step=step),
    )
    if claimed:
        set_committed_value(staff, "totp_last_step", step)
    return claimed


def _add_one(
    session: Session, model: type[SQLModel], counter: str, where: ColumnElement[bool]
) -> int | None:
    """Add one to the ``counter`` column of the row ``where`` picks and return its new value
    (None when there is no such row): one atomic statement, so counts sent together all
    count."""
    column = getattr(model, counter)
    added: int | None = session.exec(
        update(model)
        .where(where)
        .values({counter: column + 1})
        .returning(column)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    return added


def _changed_one(session: Session, statement: Update | Delete) -> bool:
    """Run a conditional update (or delete) and say whether it changed exactly one row."""
    result: CursorResult[Any] = session.exec(statement.execution_options(synchronize_session=False))
    return result.rowcount == 1


# Signing in ----------------------------------------------------------------------------------


def _refused() -> Unauthorized:
    # One message for an unknown address, a wrong password and a locked account.
    return Unauthorized(
        N_(
            "The e-mail address or the password is not right, or the account is locked for a while."
        ),
    )


def _delay_for(failures: int) -> float:
    """Each failure in a row makes the next answer slower, up to 4 s."""
    return min(0.25 * (2 ** max(failures - 1, 0)), 4.0) if failures else 0.0


@dataclass(frozen=True)
class SignIn:
    staff: Staff
    token: str
    csrf_token: str
    second_factor_needed: bool


def sign_in(
    *, session: Session, keyring: KeyRing, email: str, password: str, now: datetime
) -> SignIn:
    """The password step. The failure count is committed even when the answer is no."""
    staff = session.exec(select(Staff).where(Staff.email == email.strip().lower())).first()
    locked = staff is not None and staff.locked_until is not None and staff.locked_until > now
    ok, new_hash = passwords.verify(password, staff.password_hash if staff else None)
    if staff is None or not staff.active or locked or not ok:
        failures = 1
        if staff is not None and not locked:
            failures = _count_failure(session, keyring, staff, now)
        _audit(
            session,
            keyring,
            "login.failed",
            now,
            actor=None,
            target=staff,
            reason="locked" if locked else "password",
        )
        if staff is not None and locked:
            failures = staff.failed_logins
        session.commit()  # on purpose: the failure must count even though we refuse
        time.sleep(_delay_for(failures))
        raise _refused()
    # The failure count starts again only once both factors pass (_complete_sign_in): one
    # who knows the password still meets the lock after wrong codes.
    if new_hash:
        staff.password_hash = new_hash
        session.add(staff)
    token, csrf = _new_session(session, staff, now, second_factor_done=False)
    _audit(session, keyring, "login.password_ok", now, actor=staff, target=staff)
    return SignIn(staff, token, csrf, second_factor_needed=True)


def _count_failure(session: Session, keyring: KeyRing, staff: Staff, now: datetime) -> int:
    """Count one failed sign-in step against the account and return the count in a row:
    one atomic increment, so failures sent together all count. From the fifth on, the
    account is locked for a while (audited)."""
    failures = _add_one(session, Staff, "failed_logins", col(Staff.id) == staff.id) or 0
    set_committed_value(staff, "failed_logins", failures)
    if failures >= LOCK_AFTER_FAILURES:
        staff.locked_until = now + LOCK_FOR
        session.add(staff)
        _audit(session, keyring, "login.locked", now, actor=None, target=staff)
    return failures


def second_factor(
    *, session: Session, keyring: KeyRing, staff_session: StaffSession, code: str, now: datetime
) -> SignIn:
    """The second step: a TOTP code (each accepted once) or a recovery code. On success
    the session is replaced by a new one, so the id used before sign-in is worthless.

    Using a code is one conditional update (:func:`_claim_step`, :func:`_use_recovery_code`)
    and so is ending the half-signed-in session: the same code sent twice at the same
    instant, on one session or on several, signs in once. The step has its own limit:
    after SECOND_FACTOR_TRIES wrong codes the half-signed-in session ends and the account
    counts a failed sign-in, as a wrong password does."""
    staff = session.get(Staff, staff_session.staff_id)
    if staff is None or not staff.active or staff_session.second_factor_done:
        raise _refused()
    if now - staff_session.created_at > SECOND_FACTOR_LIMIT:
        raise Unauthorized(N_("Too much time has passed. Sign in again."))
    secret = (
        open_totp_secret(keyring, staff.totp_secret_sealed)
        if staff.totp_enabled and staff.totp_secret_sealed
        else None
    )
    step = (
        totp.matching_step(secret, code, now, after_step=staff.totp_last_step) if secret else None
    )
    if step is not None and _claim_step(session, staff, step):
        method = "totp"
    elif _use_recovery_code(session, staff, code, now):
        method = "recovery_code"
    else:
        _wrong_code(session, keyring, staff, staff_session, now)
    return _complete_sign_in(session, keyring, staff, staff_session, now, method=method)


def _wrong_code(
    session: Session, keyring: KeyRing, staff: Staff, staff_session: StaffSession, now: datetime
) -> NoReturn:
    """Refuse a wrong (or already used) second-factor code, committing the count first."""
    _audit(session, keyring, "login.second_factor_failed", now, actor=staff, target=staff)
    # A session ended meanwhile (by another wrong code) counts as the last try.
    tries = (
        _add_one(
            session,
            StaffSession,
            "second_factor_failures",
            col(StaffSession.id_hash) == staff_session.id_hash,
        )
        or SECOND_FACTOR_TRIES
    )
    if tries < SECOND_FACTOR_TRIES:
        session.commit()  # on purpose: the wrong code counts even though we refuse
        raise Invalid(
            N_("The request has a problem in {field}."),
            fields=[FieldProblem("code", N_("This code is not right or was already used."))],
            field="code",
        )
    session.exec(delete(StaffSession).where(col(StaffSession.id_hash) == staff_session.id_hash))
    failures = _count_failure(session, keyring, staff, now)
    _audit(session, keyring, "login.second_factor_exhausted", now, actor=staff, target=staff)
    session.commit()  # on purpose: the session ends and the failure counts
    time.sleep(_delay_for(failures))
    raise Unauthorized(N_("Too many wrong codes. Sign in again."))


def _complete_sign_in(
    session: Session,
    keyring: KeyRing,
    staff: Staff,
    pending: StaffSession,
    now: datetime,
    *,
    method: str,
) -> SignIn:
    """Both factors passed: the half-signed-in session gives way to a new one, so the id
    used before the second factor is worthless."""
    ended = _changed_one(
        session,
        delete(StaffSession).where(
            col(StaffSession.id_hash) == pending.id_hash,
            col(StaffSession.second_factor_done).is_(False),
        ),
    )
    if not ended:  # another request finished this sign-in a moment ago
        raise _refused()
    staff.failed_logins, staff.locked_until = 0, None
    session.add(staff)
    token, csrf = _new_session(session, staff, now, second_factor_done=True)
    _audit(session, keyring, "login.succeeded", now, actor=staff, target=staff, method=method)
    return SignIn(staff, token, csrf, second_factor_needed=False)


def _new_session(
    session: Session, staff: Staff, now: datetime, *, second_factor_done: bool
) -> tuple[str, str]:
    assert staff.id is not None
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    session.add(
        StaffSession(
            id_hash=_token_hash(token),
            staff_id=staff.id,
            csrf_token=csrf,
            second_factor_done=second_factor_done,
            created_at=now,
            last_seen_at=now,
            expires_at=now + ABSOLUTE_LIMIT,
        )
    )
    session.flush()
    return token, csrf


@dataclass(frozen=True)
class Current:
    staff: Staff
    staff_session: StaffSession


def session_for_token(
    *, session: Session, token: str, now: datetime, pending_ok: bool = False
) -> Current:
    """The signed-in person behind a cookie, or 401: idle for 30 min, older than 12 h,
    disabled, or the second factor not done yet (unless ``pending_ok``)."""
    staff_session = session.get(StaffSession, _token_hash(token)) if token else None
    staff = session.get(Staff, staff_session.staff_id) if staff_session else None
    expired = staff_session is not None and (
        staff_session.expires_at <= now or now - staff_session.last_seen_at > IDLE_LIMIT
    )
    if staff_session is None or staff is None or not staff.active or expired:
        if staff_session is not None and expired:
            session.delete(staff_session)
        raise Unauthorized(N_("Please sign in."))
    if not staff_session.second_factor_done and not pending_ok:
        raise Unauthorized(N_("Please sign in."))
    if now - staff_session.last_seen_at > timedelta(minutes=1):
        staff_session.last_seen_at = now
        session.add(staff_session)
    return Current(staff, staff_session)


def sessions_of(*, session: Session, actor: Staff) -> Sequence[StaffSession]:
    authorize(actor, Permission.own_account)
    query = (
        select(StaffSession)
        .where(StaffSession.staff_id == actor.id, col(StaffSession.second_factor_done))
        .order_by(col(StaffSession.created_at).desc())
    )
    return session.exec(query).all()


def sign_out(*, session: Session, keyring: KeyRing, current: Current, now: datetime) -> None:
    session.delete(current.staff_session)
    _audit(session, keyring, "logout", now, actor=current.staff, target=current.staff)


def end_all_sessions(*, session: Session, staff: Staff) -> None:
    session.exec(delete(StaffSession).where(col(StaffSession.staff_id) == staff.id))


def sign_out_everywhere(*, session: Session, keyring: KeyRing, actor: Staff, now: datetime) -> None:
    authorize(actor, Permission.own_account)
    end_all_sessions(session=session, staff=actor)
    _audit(session, keyring, "logout.everywhere", now, actor=actor, target=actor)
