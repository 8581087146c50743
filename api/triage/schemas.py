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


TLP_LABELS = ("RED", "AMBER+STRICT", "AMBER", "GREEN", "CLEAR")
RESOLUTIONS = (
    "referred_and_handled",
    "substantiated",
    "not_substantiated",
    "not_enough_information",
    "duplicate",
    "out_of_scope",
)


class CaseUpdate(BaseModel):
    """Triage's classification; every field left out stays as it is."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, max_length=200)
    severity: int | None = Field(default=None, ge=1, le=4)
    tlp: str | None = Field(default=None, pattern="^(RED|AMBER\\+STRICT|AMBER|GREEN|CLEAR)$")
    tags: list[str] | None = Field(default=None, max_length=20)
    assignee_id: int | None = None
    kind: str | None = Field(default=None, pattern="^(integrity|incident)$")
    category: str | None = Field(default=None, max_length=48)

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        cleaned = [tag.strip().lower()[:40] for tag in value if tag.strip()]
        return list(dict.fromkeys(cleaned))


class CaseClose(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resolution: str = Field(
        pattern="^(referred_and_handled|substantiated|not_substantiated|not_enough_information|duplicate|out_of_scope)$"
    )
    outcome: str = Field(min_length=1, max_length=5_000, description="What the reporter reads.")


class LinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    report: str = Field(max_length=16, description="The report to move into this case.")
