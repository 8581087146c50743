"""Receiving bodies: those a reporter may exclude, and their administration (kind, where
each may act, how it is notified, the webhook secret sealed under a data key of its own)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, exists
from sqlmodel import Session, col, select

from api.agencies.models import Body, BodyJurisdiction
from api.agencies.schemas import (
    BodyAdmin,
    BodyCreate,
    BodySaved,
    BodyUpdate,
    JurisdictionIn,
    JurisdictionPublic,
)
from api.audit import service as audit_service
from api.crypto import KeyRing, open_text, seal_text
from api.errors import Conflict, FieldProblem, Forbidden, Invalid, NotFound, invalid_field
from api.i18n import N_
from api.keystore import service as keystore
from api.policy import Permission
from api.ports import service as ports_service
from api.ports.models import Port, Zone
from api.staff import service as staff_service
from api.staff.models import Staff
from api.staff.service import authorize


def excludable_bodies(*, session: Session) -> Sequence[Body]:
    query = (
        select(Body)
        .where(col(Body.active), col(Body.reporter_may_exclude))
        .order_by(col(Body.name))
    )
    return session.exec(query).all()


def find_excludable(*, session: Session, codes: Sequence[str]) -> dict[str, Body]:
    """The bodies a reporter may exclude among ``codes``, by code."""
    if not codes:
        return {}
    query = select(Body).where(col(Body.code).in_(codes), col(Body.reporter_may_exclude))
    return {body.code: body for body in session.exec(query)}


def receiving_bodies(*, session: Session) -> Sequence[Body]:
    """Every body, retired ones too, so accounts of a retired body still show its name."""
    return session.exec(select(Body).order_by(col(Body.name))).all()


# What staff limited to some ports see of the bodies --------------------------------------------


def visible_condition(ports: frozenset[int] | None) -> ColumnElement[bool] | None:
    """Which bodies one who sees ``ports`` sees: those that act everywhere (no jurisdiction)
    or in one of those ports. None when every body is seen."""
    if ports is None:
        return None
    anywhere = exists().where(col(BodyJurisdiction.body_id) == col(Body.id))
    in_ports = exists().where(
        col(BodyJurisdiction.body_id) == col(Body.id), col(BodyJurisdiction.port_id).in_(ports)
    )
    return ~anywhere | in_ports


def bodies_for(*, session: Session, actor: Staff) -> Sequence[Body]:
    """Every body ``actor`` sees, retired ones too, by name."""
    query = select(Body).order_by(col(Body.name))
    seen = visible_condition(staff_service.visible_ports(session=session, actor=actor))
    if seen is not None:
        query = query.where(seen)
    return session.exec(query).all()


def sees_body(*, session: Session, actor: Staff, body: Body) -> bool:
    ports = staff_service.visible_ports(session=session, actor=actor)
    if ports is None:
        return True
    reach = {row.port_id for row in _reach_rows(session, body)}
    return not reach or bool(reach & ports)


def find_body_for(*, session: Session, actor: Staff, code: str) -> Body | None:
    """The body of ``code`` if ``actor`` sees it; None otherwise, as for an unknown code."""
    body = session.exec(select(Body).where(Body.code == code)).first()
    if body is None or not sees_body(session=session, actor=actor, body=body):
        return None
    return body


def _reach_rows(session: Session, body: Body) -> Sequence[BodyJurisdiction]:
    return session.exec(select(BodyJurisdiction).where(BodyJurisdiction.body_id == body.id)).all()


BEYOND_YOUR_PORTS = N_(
    "This body also acts beyond your ports: only an administrator of every port can change it."
)


def _refuse_change_beyond(session: Session, actor: Staff, body: Body) -> None:
    """One limited to some ports changes only a body that acts in those ports alone: a
    body acting everywhere, or in another port too, is for an administrator of every port."""
    ports = staff_service.visible_ports(session=session, actor=actor)
    if ports is None:
        return
    reach = {row.port_id for row in _reach_rows(session, body)}
    if not reach or not reach <= ports:
        raise Forbidden(BEYOND_YOUR_PORTS)


# Administration ------------------------------------------------------------------------------

WEBHOOK_SECRET_LABEL = b"body.webhook-secret"


def _view(body: Body, reach: Sequence[tuple[Port, Zone | None]]) -> BodyAdmin:
    return BodyAdmin(
        code=body.code,
        name=body.name,
        kind=body.kind,
        jurisdiction=[
            JurisdictionPublic(
                port=port.code,
                port_name=port.name,
                zone=zone.code if zone else None,
                zone_name=zone.name if zone else None,
            )
            for port, zone in reach
        ],
        notification_email=body.notification_email,
        webhook_url=body.webhook_url,
        has_webhook_secret=body.webhook_secret_sealed is not None,
        active=body.active,
        reporter_may_exclude=body.reporter_may_exclude,
        named_to_reporter=body.named_to_reporter,
    )


def jurisdictions(
    *, session: Session, body_ids: Sequence[int] | None = None
) -> dict[int, list[tuple[Port, Zone | None]]]:
    """Where each body may act, by body id (a body without rows acts everywhere)."""
    query = (
        select(BodyJurisdiction, Port, Zone)
        .join(Port, col(Port.id) == col(BodyJurisdiction.port_id))
        .outerjoin(Zone, col(Zone.id) == col(BodyJurisdiction.zone_id))
        .order_by(col(Port.name), col(Zone.position).nulls_first(), col(Zone.name))
    )
    if body_ids is not None:
        query = query.where(col(BodyJurisdiction.body_id).in_(body_ids))
    reach: dict[int, list[tuple[Port, Zone | None]]] = {}
    for row, port, zone in session.exec(query):
        reach.setdefault(row.body_id, []).append((port, zone))
    return reach


def list_bodies(*, session: Session, actor: Staff) -> list[BodyAdmin]:
    authorize(actor, Permission.manage_staff)
    reach = jurisdictions(session=session)
    return [
        _view(body, reach.get(body.id or 0, []))
        for body in bodies_for(session=session, actor=actor)
    ]


def get_body(*, session: Session, actor: Staff, code: str, to_change: bool = False) -> Body:
    """The body of ``code``, if ``actor`` sees it; ``to_change``: if they may change it."""
    authorize(actor, Permission.manage_staff)
    body = find_body_for(session=session, actor=actor, code=code)
    if body is None:
        raise NotFound(N_("There is no such receiving body."))
    if to_change:
        _refuse_change_beyond(session, actor, body)
    return body


def changeable_codes(*, session: Session, actor: Staff) -> set[str]:
    """The codes of the bodies ``actor`` may change, of those they see."""
    ports = staff_service.visible_ports(session=session, actor=actor)
    reach = jurisdictions(session=session)
    return {
        body.code
        for body in bodies_for(session=session, actor=actor)
        if ports is None
        or (reach.get(body.id or 0) and {port.id for port, _zone in reach[body.id or 0]} <= ports)
    }


def body_view(*, session: Session, actor: Staff, code: str, to_change: bool = False) -> BodyAdmin:
    body = get_body(session=session, actor=actor, code=code, to_change=to_change)
    assert body.id is not None
    return _view(body, jurisdictions(session=session, body_ids=[body.id]).get(body.id, []))


def _resolve_reach(
    session: Session, actor: Staff, entries: Sequence[JurisdictionIn]
) -> list[tuple[int, int | None]]:
    """(port id, zone id or None) for each entry; a whole port takes in its zones. One
    limited to some ports chooses among those, and at least one: no jurisdiction is every
    port."""
    ports = staff_service.visible_ports(session=session, actor=actor)
    if ports is not None and not entries:
        raise invalid_field("jurisdiction", N_("Choose where the body acts, in your ports."))
    problems: list[FieldProblem] = []
    chosen: list[tuple[int, int | None]] = []
    for index, entry in enumerate(entries):
        port = ports_service.find_port(session=session, code=entry.port)
        if port is None or port.id is None or (ports is not None and port.id not in ports):
            problems.append(
                FieldProblem(f"jurisdiction[{index}].port", N_("There is no such port."))
            )
            continue
        zone_id: int | None = None
        if entry.zone:
            zone = ports_service.find_zone(session=session, port_id=port.id, code=entry.zone)
            if zone is None:
                problems.append(
                    FieldProblem(f"jurisdiction[{index}].zone", N_("This port has no such zone."))
                )
                continue
            zone_id = zone.id
        if (port.id, zone_id) not in chosen:
            chosen.append((port.id, zone_id))
    if problems:
        raise Invalid(
            N_("The request has a problem in {field}."), fields=problems, field=problems[0].field
        )
    whole_ports = {port_id for port_id, zone_id in chosen if zone_id is None}
    return [
        (port_id, zone_id)
        for port_id, zone_id in chosen
        if zone_id is None or port_id not in whole_ports
    ]


def _set_reach(session: Session, body_id: int, reach: Sequence[tuple[int, int | None]]) -> bool:
    """Replace the body's jurisdiction; whether it changed."""
    rows = session.exec(select(BodyJurisdiction).where(BodyJurisdiction.body_id == body_id)).all()
    if {(row.port_id, row.zone_id) for row in rows} == set(reach):
        return False
    for row in rows:
        session.delete(row)
    for port_id, zone_id in reach:
        session.add(BodyJurisdiction(body_id=body_id, port_id=port_id, zone_id=zone_id))
    session.flush()
    return True


def _set_secret(
    session: Session, keyring: KeyRing, body: Body, secret: str | None, generate: bool
) -> tuple[str, str | None]:
    """Apply a secret change: what happened (for the audit log) and a generated secret."""
    if generate and secret is not None:
        raise invalid_field("webhook_secret", N_("Either set a secret or generate one, not both."))
    if generate:
        secret = new_webhook_secret()
    if secret is None:
        return "", None
    if not secret:
        body.webhook_wrapped_key = body.webhook_secret_sealed = None
        return "removed", None
    data_key, wrapped = keystore.new_data_key(session, keyring)
    body.webhook_wrapped_key = wrapped
    body.webhook_secret_sealed = seal_text(data_key, secret, label=WEBHOOK_SECRET_LABEL)
    return ("generated", secret) if generate else ("set", None)


def new_webhook_secret() -> str:
    return secrets.token_urlsafe(32)


def _check_webhook(body: Body) -> None:
    if body.webhook_url and body.webhook_secret_sealed is None:
        raise invalid_field(
            "webhook_secret",
            N_("A webhook needs a secret to sign what it sends: generate one or set one."),
        )


def _audit(
    session: Session,
    keyring: KeyRing,
    actor: Staff,
    action: str,
    body: Body,
    changed: Sequence[str],
    secret_change: str,
    now: datetime,
) -> None:
    detail: dict[str, str | bool] = {"changed": ",".join(changed)}
    if secret_change:
        detail["webhook_secret"] = secret_change
    if "active" in changed:
        detail["active"] = body.active
    audit_service.record(
        session=session,
        keyring=keyring,
        action=action,
        now=now,
        actor_id=actor.id,
        actor=actor.email,
        object_type="body",
        object_id=body.code,
        detail=detail,
    )


def create_body(
    *, session: Session, keyring: KeyRing, actor: Staff, body_in: BodyCreate, now: datetime
) -> BodySaved:
    authorize(actor, Permission.manage_staff)
    if session.exec(select(Body.id).where(Body.code == body_in.code)).first() is not None:
        raise Conflict(
            N_("A receiving body with this code already exists."),
            fields=[FieldProblem("code", N_("A receiving body with this code already exists."))],
        )
    reach = _resolve_reach(session, actor, body_in.jurisdiction)
    body = Body(
        code=body_in.code,
        name=body_in.name,
        kind=body_in.kind,
        notification_email=body_in.notification_email,
        webhook_url=body_in.webhook_url,
        active=body_in.active,
        reporter_may_exclude=body_in.reporter_may_exclude,
        named_to_reporter=body_in.named_to_reporter,
    )
    secret_change, generated = _set_secret(
        session, keyring, body, body_in.webhook_secret, body_in.generate_webhook_secret
    )
    _check_webhook(body)
    session.add(body)
    session.flush()
    assert body.id is not None
    _set_reach(session, body.id, reach)
    _audit(session, keyring, actor, "body.created", body, [], secret_change, now)
    return _saved(session, body, generated)


_PLAIN_FIELDS = (
    "name",
    "kind",
    "notification_email",
    "webhook_url",
    "active",
    "reporter_may_exclude",
    "named_to_reporter",
)


def update_body(
    *,
    session: Session,
    keyring: KeyRing,
    actor: Staff,
    code: str,
    body_in: BodyUpdate,
    now: datetime,
) -> BodySaved:
    body = get_body(session=session, actor=actor, code=code, to_change=True)
    assert body.id is not None
    reach = (
        None
        if body_in.jurisdiction is None
        else _resolve_reach(session, actor, body_in.jurisdiction)
    )
    changed: list[str] = []
    for name in _PLAIN_FIELDS:
        value = getattr(body_in, name)
        if value is not None and value != getattr(body, name):
            setattr(body, name, value)
            changed.append(name)
    if reach is not None and _set_reach(session, body.id, reach):
        changed.append("jurisdiction")
    secret_change, generated = _set_secret(
        session, keyring, body, body_in.webhook_secret, body_in.generate_webhook_secret
    )
    _check_webhook(body)
    session.add(body)
    session.flush()
    if changed or secret_change:
        _audit(session, keyring, actor, "body.changed", body, changed, secret_change, now)
    return _saved(session, body, generated)


def _saved(session: Session, body: Body, generated: str | None) -> BodySaved:
    assert body.id is not None
    reach = jurisdictions(session=session, body_ids=[body.id]).get(body.id, [])
    return BodySaved(**_view(body, reach).model_dump(), generated_webhook_secret=generated)


def webhook_secret(*, session: Session, keyring: KeyRing, body: Body) -> str | None:
    """The secret that signs the body's webhook calls, for the delivery worker; ``None``
    when the body has none. Never log it, never put it in a response."""
    if body.webhook_wrapped_key is None or body.webhook_secret_sealed is None:
        return None
    data_key = keyring.unwrap(body.webhook_wrapped_key)
    return open_text(data_key, body.webhook_secret_sealed, label=WEBHOOK_SECRET_LABEL)
