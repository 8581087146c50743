from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.cases.schemas import CaseStatus
from api.errors import DomainMessage
from api.i18n import N_
from api.ids import Id
from api.reports.schemas import StaffReportView

# Severity 1-4: what each step means, so that two triagers grade alike.
SEVERITIES: dict[int, str] = {
    1: N_("No one is at risk now; a matter of procedure, or a pattern worth watching."),
    2: N_("Rules or controls broken with limited harm; act within weeks."),
    3: N_("Ongoing corruption, intimidation, smuggling or a security breach; act within days."),
    4: N_(
        "People in danger, or an attack, theft or smuggling under way or about to happen; act now."
    ),
}
SEVERITY_NAMES: dict[int, str] = {
    1: N_("Low"),
    2: N_("Moderate"),
    3: N_("High"),
    4: N_("Critical"),
}


class NoteView(BaseModel):
    id: int
    author: str = Field(description="The staff member who wrote it.")
    body: str = Field(description="Text, never HTML.")
    created_at: datetime


class CaseDetail(BaseModel):
    id: int
    reference: str
    status: CaseStatus
    title: str
    kind: str
    category: str
    category_code: str
    port: str
    port_code: str
    zone: str | None
    cargo_direction: str
    severity: int | None
    tlp: str
    tags: list[str]
    assignee_id: int | None
    resolution: str
    closed_at: datetime | None
    received_hour: datetime
    acknowledge_due: datetime
    acknowledged_at: datetime | None
    feedback_due: datetime | None
    due_at: datetime | None
    overdue: bool
    due: str = Field(
        description='"acknowledge", "feedback" or "" (closed): which deadline due_at is.'
    )
    purge_at: datetime | None = Field(
        description="When the closed case is purged under its port's retention; null while "
        "it is open or on legal hold."
    )
    legal_hold_reason: str = Field(description='Why it is on legal hold; "" when it is not.')
    reports: list[StaffReportView]
    notes: list[NoteView]


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str = Field(min_length=1, max_length=10_000)

    @field_validator("body")
    @classmethod
    def _has_words(cls, value: str) -> str:
        if not value.strip():
            raise DomainMessage(N_("Write a note first."))
        return value.strip()


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
    severity: int | None = Field(
        default=None,
        ge=1,
        le=4,
        description="1 low, 2 moderate, 3 high, 4 critical (definitions: SEVERITIES).",
    )
    tlp: str | None = Field(default=None, pattern="^(RED|AMBER\\+STRICT|AMBER|GREEN|CLEAR)$")
    tags: list[str] | None = Field(default=None, max_length=20)
    assignee_id: Id | None = None
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
