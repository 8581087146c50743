"""Ports as administrators configure them: the deadlines each port gives its triagers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from api.deps import KeyRingDep, Now, SessionDep, require
from api.errors import STAFF_ONLY, error_responses
from api.policy import Permission
from api.ports import service
from api.ports.models import Port
from api.ports.schemas import DeadlinesIn, PortDeadlines
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
