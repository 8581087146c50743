"""Routing rules: administrators write them, triagers read them. The console does the same."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from api.deps import KeyRingDep, Now, SessionDep, require
from api.errors import STAFF_ONLY, error_responses
from api.ids import Id
from api.moves import MoveIn
from api.policy import Permission
from api.routing import service
from api.routing.schemas import RuleIn, RulePublic
from api.staff.models import Staff

router = APIRouter(prefix="/routing-rules", tags=["configuration"], responses=STAFF_ONLY)
Administrator = Annotated[Staff, Depends(require(Permission.manage_staff))]
Reader = Annotated[Staff, Depends(require(Permission.read_routing))]


@router.get("", summary="Routing rules in the order they are read")
def get_rules(actor: Reader, session: SessionDep) -> list[RulePublic]:
    return service.list_rules(session=session, actor=actor)


@router.post("", status_code=201, summary="Add a routing rule (read after all the others)")
def post_rule(
    rule_in: RuleIn, actor: Administrator, session: SessionDep, keyring: KeyRingDep, now: Now
) -> RulePublic:
    return service.create_rule(
        session=session, keyring=keyring, actor=actor, rule_in=rule_in, now=now
    )


@router.get("/{rule_id}", summary="One routing rule", responses=error_responses(404))
def get_rule(rule_id: Id, actor: Reader, session: SessionDep) -> RulePublic:
    return service.get_rule(session=session, actor=actor, rule_id=rule_id)


@router.put(
    "/{rule_id}",
    summary="Replace a routing rule (its place in the order stays)",
    responses=error_responses(404),
)
def put_rule(
    rule_id: Id,
    rule_in: RuleIn,
    actor: Administrator,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
) -> RulePublic:
    return service.update_rule(
        session=session, keyring=keyring, actor=actor, rule_id=rule_id, rule_in=rule_in, now=now
    )


@router.post(
    "/{rule_id}/move",
    summary="Move a rule one place up or down; returns every rule",
    responses=error_responses(404),
)
def move_rule(
    rule_id: Id,
    move: MoveIn,
    actor: Administrator,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
) -> list[RulePublic]:
    return service.move_rule(
        session=session,
        keyring=keyring,
        actor=actor,
        rule_id=rule_id,
        direction=move.direction,
        now=now,
    )


@router.delete(
    "/{rule_id}",
    status_code=204,
    summary="Delete a routing rule",
    responses=error_responses(404),
)
def delete_rule(
    rule_id: Id, actor: Administrator, session: SessionDep, keyring: KeyRingDep, now: Now
) -> None:
    service.delete_rule(session=session, keyring=keyring, actor=actor, rule_id=rule_id, now=now)
