from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from api.cases import service
from api.cases.schemas import CaseStatus, QueueFilter, QueuePage
from api.deps import Now, SessionDep, require
from api.errors import STAFF_ONLY, error_responses
from api.ids import Id
from api.policy import Permission
from api.staff.models import Staff

router = APIRouter(prefix="/cases", tags=["triage"], responses=STAFF_ONLY)
Triager = Annotated[Staff, Depends(require(Permission.triage))]


@router.get("", summary="The triage queue, what is due first")
def get_queue(
    actor: Triager,
    session: SessionDep,
    now: Now,
    status: Annotated[list[CaseStatus] | None, Query()] = None,
    kind: Annotated[str | None, Query(max_length=16)] = None,
    category: Annotated[str | None, Query(max_length=48)] = None,
    port: Annotated[str | None, Query(max_length=16)] = None,
    zone: Annotated[str | None, Query(max_length=32)] = None,
    severity: Annotated[int | None, Query(ge=1, le=4)] = None,
    assignee_id: Id | None = None,
    overdue: bool = False,
    cargo_direction: Annotated[str | None, Query(max_length=16)] = None,
    body: Annotated[str | None, Query(max_length=48, description="Referred to this body.")] = None,
    search: Annotated[str | None, Query(max_length=100)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> QueuePage:
    filters = QueueFilter(
        status=status or [],
        kind=kind,
        category=category,
        port=port,
        zone=zone,
        severity=severity,
        assignee_id=assignee_id,
        overdue=overdue,
        cargo_direction=cargo_direction,
        body=body,
        search=search,
    )
    return service.queue(
        session=session, actor=actor, filters=filters, now=now, page=page, page_size=page_size
    )


class RelatedCase(BaseModel):
    id: int
    reference: str
    reasons: list[str]


@router.get(
    "/{case_id}/related",
    summary="Cases that may be about the same thing",
    responses=error_responses(404),
)
def get_related(case_id: Id, actor: Triager, session: SessionDep) -> list[RelatedCase]:
    return [
        RelatedCase(id=related.case_id, reference=related.reference, reasons=list(related.reasons))
        for related in service.related_cases(session=session, actor=actor, case_id=case_id)
    ]
