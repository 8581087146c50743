from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from api.ids import Id


class CaseStatus(StrEnum):
    new = "new"
    acknowledged = "acknowledged"
    in_progress = "in_progress"
    waiting_for_reporter = "waiting_for_reporter"
    referred = "referred"
    closed = "closed"


class QueueFilter(BaseModel):
    status: list[CaseStatus] = Field(default_factory=list)
    kind: str | None = None
    category: str | None = None
    port: str | None = None
    zone: str | None = None
    severity: int | None = Field(default=None, ge=1, le=4)
    assignee_id: Id | None = None
    overdue: bool = False
    cargo_direction: str | None = None
    body: str | None = Field(default=None, description="Referred to this body (its code).")
    search: str | None = Field(default=None, max_length=100)


class CaseRow(BaseModel):
    id: int
    reference: str
    title: str
    status: CaseStatus
    kind: str
    category: str
    port: str
    zone: str | None
    severity: int | None
    assignee_id: int | None
    cargo_direction: str
    received_hour: datetime
    due_at: datetime | None
    due: str = Field(description='"acknowledge" or "feedback": which deadline due_at is.')
    overdue: bool
    reports: int
    tags: list[str]


class QueuePage(BaseModel):
    total: int
    page: int
    page_size: int
    rows: list[CaseRow]
