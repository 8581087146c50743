from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, select

from api.ports.models import EmergencyNumber, Port, Zone


def active_ports(*, session: Session) -> Sequence[Port]:
    return session.exec(select(Port).where(col(Port.active)).order_by(col(Port.name))).all()


def zones_by_port(*, session: Session) -> dict[int, list[Zone]]:
    zones: dict[int, list[Zone]] = {}
    query = select(Zone).where(col(Zone.active)).order_by(col(Zone.position), col(Zone.name))
    for zone in session.exec(query):
        zones.setdefault(zone.port_id, []).append(zone)
    return zones


def emergency_numbers_by_port(*, session: Session) -> dict[int, list[EmergencyNumber]]:
    numbers: dict[int, list[EmergencyNumber]] = {}
    query = select(EmergencyNumber).order_by(col(EmergencyNumber.position))
    for number in session.exec(query):
        numbers.setdefault(number.port_id, []).append(number)
    return numbers


def find_port(*, session: Session, code: str) -> Port | None:
    return session.exec(select(Port).where(Port.code == code, col(Port.active))).first()


def find_zone(*, session: Session, port_id: int, code: str) -> Zone | None:
    query = select(Zone).where(Zone.port_id == port_id, Zone.code == code, col(Zone.active))
    return session.exec(query).first()
