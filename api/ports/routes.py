"""Ports as administrators configure them: their names and languages, the deadlines each
port gives its triagers, its zones and emergency numbers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from api.deps import KeyRingDep, Now, SessionDep, require
from api.errors import STAFF_ONLY, error_responses
from api.ids import Id
from api.moves import Direction, MoveIn
from api.policy import Permission
from api.ports import config, service
from api.ports.models import Port
from api.ports.schemas import (
    DeadlinesIn,
    EmergencyNumberChange,
    EmergencyNumberIn,
    PortAdmin,
    PortChange,
    PortDeadlines,
    PortIn,
    ZoneChange,
    ZoneIn,
)
from api.staff.models import Staff

router = APIRouter(prefix="/ports", tags=["configuration"], responses=STAFF_ONLY)
Administrator = Annotated[Staff, Depends(require(Permission.manage_staff))]


def _out(port: Port) -> PortDeadlines:
    return PortDeadlines(
        code=port.code,
        name=port.name,
        acknowledge_days=port.acknowledge_days,
        feedback_days=port.feedback_days,
    )


@router.get("", summary="Ports and their deadlines")
def get_ports(actor: Administrator, session: SessionDep) -> list[PortDeadlines]:
    return [_out(port) for port in service.all_ports(session=session, actor=actor)]


@router.put(
    "/{code}/deadlines",
    summary="Set a port's deadlines (for cases opened from now on)",
    responses=error_responses(404),
)
def put_deadlines(
    code: Annotated[str, Path(max_length=16)],
    deadlines: DeadlinesIn,
    actor: Administrator,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
) -> PortDeadlines:
    port = service.set_deadlines(
        session=session,
        keyring=keyring,
        actor=actor,
        code=code,
        acknowledge_days=deadlines.acknowledge_days,
        feedback_days=deadlines.feedback_days,
        now=now,
    )
    return _out(port)


# Ports, zones and emergency numbers ----------------------------------------------------------

PortCode = Annotated[str, Path(max_length=16)]
ZoneCode = Annotated[str, Path(max_length=32)]


@router.get(
    "/{code}",
    summary="One port, with its zones and emergency numbers",
    responses=error_responses(404),
)
def get_port(code: PortCode, actor: Administrator, session: SessionDep) -> PortAdmin:
    return config.port_view(session=session, actor=actor, code=code)


@router.post("", status_code=201, summary="Add a port", responses=error_responses(409))
def post_port(
    port_in: PortIn, actor: Administrator, session: SessionDep, keyring: KeyRingDep, now: Now
) -> PortAdmin:
    return config.create_port(
        session=session, keyring=keyring, actor=actor, port_in=port_in, now=now
    )


@router.patch(
    "/{code}",
    summary="Change a port's names, languages, country or time zone; retire or restore it",
    responses=error_responses(404),
)
def patch_port(
    code: PortCode,
    change: PortChange,
    actor: Administrator,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
) -> PortAdmin:
    return config.change_port(
        session=session, keyring=keyring, actor=actor, code=code, change=change, now=now
    )


@router.post(
    "/{code}/zones",
    status_code=201,
    summary="Add a zone (offered last)",
    responses=error_responses(404, 409),
)
def post_zone(
    code: PortCode,
    zone_in: ZoneIn,
    actor: Administrator,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
) -> PortAdmin:
    return config.add_zone(
        session=session, keyring=keyring, actor=actor, code=code, zone_in=zone_in, now=now
    )


@router.patch(
    "/{code}/zones/{zone}",
    summary="Rename a zone per language, change its kind; retire or restore it",
    responses=error_responses(404),
)
def patch_zone(
    code: PortCode,
    zone: ZoneCode,
    change: ZoneChange,
    actor: Administrator,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
) -> PortAdmin:
    return config.change_zone(
        session=session,
        keyring=keyring,
        actor=actor,
        code=code,
        zone_code=zone,
        change=change,
        now=now,
    )


@router.post(
    "/{code}/zones/{zone}/move",
    summary="Move a zone one place up or down in the order reporters see",
    responses=error_responses(404),
)
def move_zone(
    code: PortCode,
    zone: ZoneCode,
    move: MoveIn,
    actor: Administrator,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
) -> PortAdmin:
    return config.move_zone(
        session=session,
        keyring=keyring,
        actor=actor,
        code=code,
        zone_code=zone,
        up=move.direction == Direction.up,
        now=now,
    )


@router.post(
    "/{code}/emergency-numbers",
    status_code=201,
    summary="Add an emergency number (shown last)",
    responses=error_responses(404),
)
def post_number(
    code: PortCode,
    number_in: EmergencyNumberIn,
    actor: Administrator,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
) -> PortAdmin:
    return config.add_number(
        session=session, keyring=keyring, actor=actor, code=code, number_in=number_in, now=now
    )


@router.patch(
    "/{code}/emergency-numbers/{number_id}",
    summary="Change an emergency number, its label or when to call it; retire or restore it",
    responses=error_responses(404),
)
def patch_number(
    code: PortCode,
    number_id: Id,
    change: EmergencyNumberChange,
    actor: Administrator,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
) -> PortAdmin:
    return config.change_number(
        session=session,
        keyring=keyring,
        actor=actor,
        code=code,
        number_id=number_id,
        change=change,
        now=now,
    )


@router.post(
    "/{code}/emergency-numbers/{number_id}/move",
    summary="Move an emergency number one place up or down",
    responses=error_responses(404),
)
def move_number(
    code: PortCode,
    number_id: Id,
    move: MoveIn,
    actor: Administrator,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
) -> PortAdmin:
    return config.move_number(
        session=session,
        keyring=keyring,
        actor=actor,
        code=code,
        number_id=number_id,
        up=move.direction == Direction.up,
        now=now,
    )
