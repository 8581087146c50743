"""Ports, their zones and emergency numbers, as administrators change them one at a time
(the console and the API; a whole port at once is api/profiles).

Every change is audited with each field's value before and after. Nothing is ever deleted
here: a port, zone or number is retired (``active`` false), so the cases that name it keep
it while reporters no longer see it. An administrator limited to some ports changes only
those, and adds none (a new port would be outside what they see)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from api.audit import service as audit_service
from api.crypto import KeyRing
from api.errors import Conflict, Forbidden, NotFound, invalid_field
from api.i18n import N_, in_language
from api.moves import move_among
from api.policy import Permission
from api.ports.models import EmergencyNumber, Port, Zone
from api.ports.schemas import (
    EmergencyNumberAdmin,
    EmergencyNumberChange,
    EmergencyNumberIn,
    PortAdmin,
    PortChange,
    PortIn,
    ZoneAdmin,
    ZoneChange,
    ZoneIn,
)
from api.ports.service import all_ports
from api.staff import service as staff_service
from api.staff.models import Staff
from api.staff.service import authorize


def apply(row: Any, wanted: Mapping[str, object]) -> dict[str, str]:
    """Set each of ``wanted`` on ``row``; the fields that changed, as "before -> after"."""
    changed: dict[str, str] = {}
    for name, value in wanted.items():
        before = getattr(row, name)
        if value is not None and before != value:
            changed[name] = f"{_shown(before)} -> {_shown(value)}"
            setattr(row, name, value)
    return changed


def _shown(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _audit(
    session: Session,
    keyring: KeyRing,
    actor: Staff,
    action: str,
    object_id: str,
    now: datetime,
    detail: Mapping[str, str | int | bool | None],
) -> None:
    audit_service.record(
        session=session,
        keyring=keyring,
        action=action,
        now=now,
        actor_id=actor.id,
        actor=actor.email,
        object_type="port",
        object_id=object_id,
        detail=detail,
    )


# Reading ------------------------------------------------------------------------------------


def _view(session: Session, port: Port) -> PortAdmin:
    zones = session.exec(
        select(Zone).where(Zone.port_id == port.id).order_by(col(Zone.position), col(Zone.id))
    ).all()
    numbers = session.exec(
        select(EmergencyNumber)
        .where(EmergencyNumber.port_id == port.id)
        .order_by(col(EmergencyNumber.position), col(EmergencyNumber.id))
    ).all()
    return PortAdmin(
        code=port.code,
        name=port.name,
        names=port.names or {port.languages[0]: port.name},
        country=port.country,
        timezone=port.timezone,
        languages=port.languages,
        acknowledge_days=port.acknowledge_days,
        feedback_days=port.feedback_days,
        retention_days=port.retention_days,
        triage_email=port.triage_email,
        active=port.active,
        zones=[
            ZoneAdmin(
                code=zone.code,
                kind=zone.kind,
                name=zone.name,
                names=zone.names or {port.languages[0]: zone.name},
                position=zone.position,
                active=zone.active,
            )
            for zone in zones
        ],
        emergency_numbers=[
            EmergencyNumberAdmin(
                id=number.id or 0,
                number=number.number,
                label=number.label,
                labels=number.labels or {port.languages[0]: number.label},
                when=number.when,
                position=number.position,
                active=number.active,
            )
            for number in numbers
        ],
    )


def port_for(*, session: Session, actor: Staff, code: str, lock: bool = False) -> Port:
    """The port, active or retired, if ``actor`` administers it; else 404."""
    authorize(actor, Permission.manage_staff)
    query = select(Port).where(Port.code == code)
    if lock:
        query = query.with_for_update()
    port = session.exec(query).first()
    if port is None or not staff_service.sees_port(session=session, actor=actor, port_id=port.id):
        raise NotFound(N_("There is no such port."))
    return port


def port_view(*, session: Session, actor: Staff, code: str) -> PortAdmin:
    return _view(session, port_for(session=session, actor=actor, code=code))


def port_views(*, session: Session, actor: Staff) -> list[PortAdmin]:
    return [_view(session, port) for port in all_ports(session=session, actor=actor)]


# Ports --------------------------------------------------------------------------------------


def _first_language_named(names: Mapping[str, str], languages: Sequence[str], field: str) -> None:
    if not names.get(languages[0]):
        raise invalid_field(
            field,
            N_("Give the name in {language}, the port's first language."),
            language=languages[0],
        )


def create_port(
    *, session: Session, keyring: KeyRing, actor: Staff, port_in: PortIn, now: datetime
) -> PortAdmin:
    authorize(actor, Permission.manage_staff)
    if staff_service.visible_ports(session=session, actor=actor) is not None:
        raise Forbidden(N_("Only an administrator of every port can add a port."))
    _first_language_named(port_in.name, port_in.languages, "name")
    taken = Conflict(N_("A port with this code exists already."))
    if session.exec(select(Port.id).where(Port.code == port_in.code)).first() is not None:
        raise taken
    port = Port(
        code=port_in.code,
        name=port_in.name[port_in.languages[0]],
        names=dict(port_in.name),
        languages=list(port_in.languages),
        country=port_in.country,
        timezone=port_in.timezone,
        triage_email=port_in.triage_email,
    )
    # Two administrators adding the same code at once: the second meets the unique code.
    try:
        with session.begin_nested():
            session.add(port)
    except IntegrityError:
        raise taken from None
    _audit(
        session,
        keyring,
        actor,
        "port.created",
        port.code,
        now,
        {"name": port.name, "languages": ",".join(port.languages)},
    )
    return _view(session, port)


def change_port(
    *,
    session: Session,
    keyring: KeyRing,
    actor: Staff,
    code: str,
    change: PortChange,
    now: datetime,
) -> PortAdmin:
    port = port_for(session=session, actor=actor, code=code, lock=True)
    languages = list(change.languages or port.languages)
    names = dict(change.name) if change.name is not None else dict(port.names)
    if change.name is not None or change.languages is not None:
        _first_language_named(names, languages, "name")
    changed = apply(
        port,
        {
            "names": names if change.name is not None else None,
            "name": in_language(names, languages[0]),
            "languages": languages if change.languages is not None else None,
            "country": change.country,
            "timezone": change.timezone,
            "triage_email": change.triage_email,
            "active": change.active,
        },
    )
    if changed:
        session.add(port)
        session.flush()
        action = "port.changed"
        if "active" in changed:
            action = "port.restored" if port.active else "port.retired"
        _audit(session, keyring, actor, action, port.code, now, changed)
    return _view(session, port)


# Zones --------------------------------------------------------------------------------------


def _zones(session: Session, port: Port) -> list[Zone]:
    query = select(Zone).where(Zone.port_id == port.id).order_by(col(Zone.position), col(Zone.id))
    return list(session.exec(query).all())


def _zone(session: Session, port: Port, code: str) -> Zone:
    zone = session.exec(select(Zone).where(Zone.port_id == port.id, Zone.code == code)).first()
    if zone is None:
        raise NotFound(N_("This port has no such zone."))
    return zone


def add_zone(
    *,
    session: Session,
    keyring: KeyRing,
    actor: Staff,
    code: str,
    zone_in: ZoneIn,
    now: datetime,
) -> PortAdmin:
    """A new zone, offered last."""
    port = port_for(session=session, actor=actor, code=code, lock=True)
    _first_language_named(zone_in.name, port.languages, "name")
    if session.exec(
        select(Zone.id).where(Zone.port_id == port.id, Zone.code == zone_in.code)
    ).first():
        raise Conflict(N_("This port has a zone with this code already."))
    last = session.exec(select(func.max(Zone.position)).where(Zone.port_id == port.id)).one()
    zone = Zone(
        port_id=port.id or 0,
        code=zone_in.code,
        kind=zone_in.kind,
        name=in_language(zone_in.name, port.languages[0]),
        names=dict(zone_in.name),
        position=(last or 0) + 1,
    )
    session.add(zone)
    session.flush()
    detail = {"zone": zone.code, "kind": zone.kind, "names": _shown(zone.names)}
    _audit(session, keyring, actor, "port.zone_added", port.code, now, detail)
    return _view(session, port)


def change_zone(
    *,
    session: Session,
    keyring: KeyRing,
    actor: Staff,
    code: str,
    zone_code: str,
    change: ZoneChange,
    now: datetime,
) -> PortAdmin:
    port = port_for(session=session, actor=actor, code=code, lock=True)
    zone = _zone(session, port, zone_code)
    if change.name is not None:
        _first_language_named(change.name, port.languages, "name")
    changed = apply(
        zone,
        {
            "names": dict(change.name) if change.name is not None else None,
            "name": in_language(change.name, port.languages[0]) if change.name else None,
            "kind": change.kind,
            "active": change.active,
        },
    )
    if changed:
        session.add(zone)
        session.flush()
        action = "port.zone_changed"
        if "active" in changed:
            action = "port.zone_restored" if zone.active else "port.zone_retired"
        _audit(session, keyring, actor, action, port.code, now, {"zone": zone.code, **changed})
    return _view(session, port)


def move_zone(
    *,
    session: Session,
    keyring: KeyRing,
    actor: Staff,
    code: str,
    zone_code: str,
    up: bool,
    now: datetime,
) -> PortAdmin:
    """One place up or down in the order reporters are offered the zones."""
    port = port_for(session=session, actor=actor, code=code, lock=True)
    zones = _zones(session, port)
    zone = _zone(session, port, zone_code)
    before = zone.position
    if move_among(zones, zone, up):
        session.add_all(zones)
        session.flush()
        detail = {"zone": zone.code, "position": f"{before} -> {zone.position}"}
        _audit(session, keyring, actor, "port.zone_moved", port.code, now, detail)
    return _view(session, port)


# Emergency numbers --------------------------------------------------------------------------


def _numbers(session: Session, port: Port) -> list[EmergencyNumber]:
    query = (
        select(EmergencyNumber)
        .where(EmergencyNumber.port_id == port.id)
        .order_by(col(EmergencyNumber.position), col(EmergencyNumber.id))
    )
    return list(session.exec(query).all())


def _number(session: Session, port: Port, number_id: int) -> EmergencyNumber:
    number = session.get(EmergencyNumber, number_id)
    if number is None or number.port_id != port.id:
        raise NotFound(N_("This port has no such emergency number."))
    return number


def add_number(
    *,
    session: Session,
    keyring: KeyRing,
    actor: Staff,
    code: str,
    number_in: EmergencyNumberIn,
    now: datetime,
) -> PortAdmin:
    """A new emergency number, shown last."""
    port = port_for(session=session, actor=actor, code=code, lock=True)
    _first_language_named(number_in.label, port.languages, "label")
    last = session.exec(
        select(func.max(EmergencyNumber.position)).where(EmergencyNumber.port_id == port.id)
    ).one()
    number = EmergencyNumber(
        port_id=port.id or 0,
        number=number_in.number,
        label=in_language(number_in.label, port.languages[0]),
        labels=dict(number_in.label),
        when=dict(number_in.when),
        position=(last or 0) + 1,
    )
    session.add(number)
    session.flush()
    detail = {"number": number.number, "labels": _shown(number.labels)}
    _audit(session, keyring, actor, "port.number_added", port.code, now, detail)
    return _view(session, port)


def change_number(
    *,
    session: Session,
    keyring: KeyRing,
    actor: Staff,
    code: str,
    number_id: int,
    change: EmergencyNumberChange,
    now: datetime,
) -> PortAdmin:
    port = port_for(session=session, actor=actor, code=code, lock=True)
    number = _number(session, port, number_id)
    if change.label is not None:
        _first_language_named(change.label, port.languages, "label")
    shown_before = number.number
    changed = apply(
        number,
        {
            "number": change.number,
            "labels": dict(change.label) if change.label is not None else None,
            "label": in_language(change.label, port.languages[0]) if change.label else None,
            "when": dict(change.when) if change.when is not None else None,
            "active": change.active,
        },
    )
    if changed:
        session.add(number)
        session.flush()
        action = "port.number_changed"
        if "active" in changed:
            action = "port.number_restored" if number.active else "port.number_retired"
        detail = {"number": shown_before, **changed}
        _audit(session, keyring, actor, action, port.code, now, detail)
    return _view(session, port)


def move_number(
    *,
    session: Session,
    keyring: KeyRing,
    actor: Staff,
    code: str,
    number_id: int,
    up: bool,
    now: datetime,
) -> PortAdmin:
    port = port_for(session=session, actor=actor, code=code, lock=True)
    numbers = _numbers(session, port)
    number = _number(session, port, number_id)
    before = number.position
    if move_among(numbers, number, up):
        session.add_all(numbers)
        session.flush()
        detail = {"number": number.number, "position": f"{before} -> {number.position}"}
        _audit(session, keyring, actor, "port.number_moved", port.code, now, detail)
    return _view(session, port)
