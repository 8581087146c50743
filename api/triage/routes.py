from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from api.deps import KeyRingDep, Now, SessionDep, require
from api.policy import Permission
from api.staff.models import Staff
from api.triage import service
from api.triage.schemas import CaseDetail, ReplyIn

router = APIRouter(prefix="/cases", tags=["triage"])
Triager = Annotated[Staff, Depends(require(Permission.triage))]


@router.get("/{case_id}", summary="A case with its reports (the view is audited)")
def get_case(
    case_id: int, actor: Triager, session: SessionDep, keyring: KeyRingDep, now: Now
) -> CaseDetail:
    return service.case_detail(
        session=session, keyring=keyring, actor=actor, case_id=case_id, now=now
    )


@router.post(
    "/{case_id}/acknowledge", status_code=204, summary="Acknowledge receipt to the reporter"
)
def acknowledge(
    case_id: int, actor: Triager, session: SessionDep, keyring: KeyRingDep, now: Now
) -> None:
    service.acknowledge(session=session, keyring=keyring, actor=actor, case_id=case_id, now=now)


@router.post("/{case_id}/messages", status_code=204, summary="Write to a reporter")
def post_message(
    case_id: int,
    reply_in: ReplyIn,
    actor: Triager,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
) -> None:
    service.reply(
        session=session, keyring=keyring, actor=actor, case_id=case_id, reply_in=reply_in, now=now
    )
