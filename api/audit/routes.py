from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from api.audit import service
from api.deps import SessionDep, require
from api.errors import STAFF_ONLY
from api.ids import Offset
from api.policy import Permission
from api.staff.models import Staff

router = APIRouter(prefix="/audit", tags=["audit"], responses=STAFF_ONLY)
Auditor = Annotated[Staff, Depends(require(Permission.read_audit))]


class AuditEntryPublic(BaseModel):
    seq: int
    at: datetime
    actor: str
    action: str
    object_type: str
    object_id: str
    detail: str


class AuditPage(BaseModel):
    total: int
    entries: list[AuditEntryPublic]


@router.get("", summary="The audit log, newest first, with filters")
def search(
    actor: Auditor,
    session: SessionDep,
    who: Annotated[str | None, Query(alias="actor", max_length=254)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    object_type: Annotated[str | None, Query(max_length=32)] = None,
    object_id: Annotated[str | None, Query(max_length=64)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Offset = 0,
) -> AuditPage:
    entries, total = service.search(
        session=session,
        filters=service.AuditFilter(who, action, object_type, object_id, since, until),
        limit=limit,
        offset=offset,
    )
    return AuditPage(
        total=total,
        entries=[
            AuditEntryPublic(
                seq=entry.seq,
                at=entry.at,
                actor=entry.actor,
                action=entry.action,
                object_type=entry.object_type,
                object_id=entry.object_id,
                detail=entry.detail,
            )
            for entry in entries
        ],
    )
