"""Receiving bodies as administrators configure them. The console does the same."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from api.agencies import service
from api.agencies.schemas import BodyAdmin, BodyCreate, BodySaved, BodyUpdate
from api.deps import KeyRingDep, Now, SessionDep, require
from api.errors import STAFF_ONLY, error_responses
from api.policy import Permission
from api.staff.models import Staff

router = APIRouter(prefix="/bodies", tags=["configuration"], responses=STAFF_ONLY)
Administrator = Annotated[Staff, Depends(require(Permission.manage_staff))]
BodyCode = Annotated[str, Path(max_length=48)]


@router.get("", summary="Receiving bodies, retired ones too")
def get_bodies(actor: Administrator, session: SessionDep) -> list[BodyAdmin]:
    return service.list_bodies(session=session, actor=actor)


@router.post("", status_code=201, summary="Add a receiving body", responses=error_responses(409))
def post_body(
    body_in: BodyCreate, actor: Administrator, session: SessionDep, keyring: KeyRingDep, now: Now
) -> BodySaved:
    return service.create_body(
        session=session, keyring=keyring, actor=actor, body_in=body_in, now=now
    )


@router.get("/{code}", summary="One receiving body", responses=error_responses(404))
def get_body(code: BodyCode, actor: Administrator, session: SessionDep) -> BodyAdmin:
    return service.body_view(session=session, actor=actor, code=code)


@router.patch(
    "/{code}",
    summary="Change a receiving body (each field left out stays as it is)",
    responses=error_responses(404),
)
def patch_body(
    code: BodyCode,
    body_in: BodyUpdate,
    actor: Administrator,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
) -> BodySaved:
    return service.update_body(
        session=session, keyring=keyring, actor=actor, code=code, body_in=body_in, now=now
    )
