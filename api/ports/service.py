from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, col, select

from api.audit import service as audit_service
from api.crypto import KeyRing
from api.errors import NotFound
from api.i18n import N_
from api.policy import Permission
from api.ports.models import EmergencyNumber, Port, Zone
from api.staff import service as staff_service
from api.staff.models import Staff
from api.staff.service import authorize


def active_ports(*, session: Session) -> Sequence[Port]:
    return session.exec(select(Port).where(col(Port.active)).order_by(col(Port.name))).all()


def ports_for(*, session: Session, actor: Staff) -> Sequence[Port]:
    """The active ports ``actor`` sees (all, unless their account is limited to some)."""
    ports = staff_service.visible_ports(session=session, actor=actor)
    return [port for port in active_ports(session=session) if ports is None or port.id in ports]


def zones_by_port(*, session: Session) -> dict[int, list[Zone]]:
    zones: dict[int, list[Zone]] = {}
    query = select(Zone).where(col(Zone.active)).order_by(col(Zone.position), col(Zone.name))
    for zone in session.exec(query):
        zones.setdefault(zone.port_id, []).append(zone)
    return zones


def emergency_numbers_by_port(*, session: Session) -> dict[int, list[EmergencyNumber]]:
    numbers: dict[int, list[EmergencyNumber]] = {}
    query = (
        select(EmergencyNumber)
        .where(col(EmergencyNumber.active))
        .order_by(col(EmergencyNumber.position))
    )
    for number in session.exec(query):
        numbers.setdefault(number.port_id, []).append(number)
    return numbers


def find_port(*, session: Session, code: str) -> Port | None:
    return session.exec(select(Port).where(Port.code == code, col(Port.active))).first()


def find_zone(*, session: Session, port_id: int, code: str) -> Zone | None:
    query = select(Zone).where(Zone.port_id == port_id, Zone.code == code, col(Zone.active))
    return session.exec(query).first()


# Deadlines, set by administrators ------------------------------------------------------------

# EU Directive 2019/1937, art. 9(1)(b) and (f): acknowledge within seven days, give feedback
# within three months of that. A port may be quicker, never slower.
MAX_ACKNOWLEDGE_DAYS = 7
MAX_FEEDBACK_DAYS = 92


def all_ports(*, session: Session, actor: Staff) -> Sequence[Port]:
    """Every port ``actor`` sees, inactive ones too, by name."""
    authorize(actor, Permission.manage_staff)
    query = select(Port).order_by(col(Port.name))
    ports = staff_service.visible_ports(session=session, actor=actor)
    if ports is not None:
        query = query.where(col(Port.id).in_(ports))
    return session.exec(query).all()


def set_deadlines(
    *,
    session: Session,
    keyring: KeyRing,
    actor: Staff,
    code: str,
    acknowledge_days: int,
    feedback_days: int,
    now: datetime,
) -> Port:
    """New cases of the port get these deadlines; cases already open keep theirs."""
    authorize(actor, Permission.manage_staff)
    port = session.exec(select(Port).where(Port.code == code)).first()
    if port is None or not staff_service.sees_port(session=session, actor=actor, port_id=port.id):
        raise NotFound(N_("There is no such port."))
    before = (port.acknowledge_days, port.feedback_days)
    port.acknowledge_days, port.feedback_days = acknowledge_days, feedback_days
    session.add(port)
    audit_service.record(
        session=session,
        keyring=keyring,
        action="port.deadlines_changed",
        now=now,
        actor_id=actor.id,
        actor=actor.email,
        object_type="port",
        object_id=port.code,
        detail={
            "acknowledge_days": f"{before[0]} -> {acknowledge_days}",
            "feedback_days": f"{before[1]} -> {feedback_days}",
        },
    )
    return port
