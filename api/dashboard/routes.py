"""The triage dashboard as JSON and as CSV: aggregate figures only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from api.dashboard import service
from api.dashboard.schemas import Dashboard
from api.deps import Now, SessionDep, require
from api.errors import STAFF_ONLY
from api.policy import Permission
from api.staff.models import Staff

router = APIRouter(tags=["triage"], responses=STAFF_ONLY)
Triager = Annotated[Staff, Depends(require(Permission.triage))]
Weeks = Annotated[
    int,
    Query(
        ge=service.FEWEST_WEEKS,
        le=service.MOST_WEEKS,
        description="How many ISO weeks (UTC), ending with this one.",
    ),
]
PortCode = Annotated[str | None, Query(max_length=16, description="Only this port (its code).")]


@router.get("/dashboard", summary="Reports and cases week by week, for triage")
def get_dashboard(
    actor: Triager,
    session: SessionDep,
    now: Now,
    weeks: Weeks = service.DEFAULT_WEEKS,
    port: PortCode = None,
) -> Dashboard:
    return service.dashboard(session=session, actor=actor, now=now, weeks=weeks, port=port)


@router.get(
    "/dashboard.csv",
    summary="The dashboard's figures as CSV: section, week, key, value",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
def get_dashboard_csv(
    actor: Triager,
    session: SessionDep,
    now: Now,
    weeks: Weeks = service.DEFAULT_WEEKS,
    port: PortCode = None,
) -> Response:
    content, filename = service.dashboard_csv(
        session=session, actor=actor, now=now, weeks=weeks, port=port
    )
    return Response(
        content,
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{filename}"'},
    )
