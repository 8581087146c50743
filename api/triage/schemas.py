from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.cases.schemas import CaseStatus
from api.errors import DomainMessage
from api.i18n import N_
from api.reports.schemas import StaffReportView


class CaseDetail(BaseModel):
    id: int
    reference: str
    status: CaseStatus
    title: str
    kind: str
    category: str
    severity: int | None
    tlp: str
    received_hour: datetime
    acknowledge_due: datetime
    acknowledged_at: datetime | None
    feedback_due: datetime | None
    due_at: datetime | None
    overdue: bool
    reports: list[StaffReportView]


class ReplyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    report: str = Field(max_length=16, description="Which report's reporter to write to.")
    body: str = Field(min_length=1, max_length=10_000)
    question: bool = Field(
        default=False, description="Ask for more: the case waits for the reporter."
    )

    @field_validator("body")
    @classmethod
    def _has_words(cls, value: str) -> str:
        if not value.strip():
            raise DomainMessage(N_("Write a message first."))
        return value.strip()
