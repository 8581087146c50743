from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.errors import DomainMessage
from api.i18n import N_
from api.triage.schemas import TLP_LABELS


class BodyChoice(BaseModel):
    """A body triage might refer the case to, and why it may or may not."""

    code: str
    name: str
    kind: str
    recommended_by: str | None = Field(description="The name of the rule that recommends it.")
    blocked: str | None = Field(
        description='"excluded_by_reporter" or "implicated": it can never receive this case; '
        '"already_referred": it holds a live referral of it already.'
    )


class SharedPhoto(BaseModel):
    report: str
    seq: int
    name: str
    media_type: str
    width: int
    height: int


class SharedIdentity(BaseModel):
    report: str
    name: str | None
    contact: str | None


class ReferralDraft(BaseModel):
    """What triage starts from: a summary to edit, the photos and identities it may share."""

    case_id: int
    summary: str
    photos: list[SharedPhoto]
    identities: list[SharedIdentity] = Field(
        description="Only those the reporter gave and agreed to pass on."
    )
    tlp: str
    acknowledge_due: date
    bodies: list[BodyChoice]


class ReferralIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str = Field(max_length=48, description="The receiving body's code.")
    summary: str = Field(min_length=1, max_length=20_000)
    photos: list[str] = Field(
        default_factory=list, max_length=60, description='Photos to share, as "R-XXXXXXXX/1".'
    )
    identities: list[str] = Field(
        default_factory=list,
        max_length=30,
        description="References of the reports whose reporter's identity is shared.",
    )
    tlp: str = Field(
        pattern="^(" + "|".join(label.replace("+", "\\+") for label in TLP_LABELS) + ")$"
    )
    acknowledge_due: date | None = Field(
        default=None, description="Default: two working days from now."
    )

    @field_validator("summary")
    @classmethod
    def _has_words(cls, value: str) -> str:
        if not value.strip():
            raise DomainMessage(N_("Write what the body should know."))
        return value.strip()


class ReferralView(BaseModel):
    """A referral exactly as the receiving body sees it."""

    reference: str
    case_reference: str
    body: str
    body_name: str
    status: str
    kind: str
    category: str
    port: str
    zone: str | None
    severity: int | None
    tlp: str
    summary: str
    photos: list[SharedPhoto]
    identities: list[SharedIdentity]
    created_at: datetime | None
    acknowledge_due: datetime
    overdue: bool


class DeliveryView(BaseModel):
    """How one notice of a referral went: an e-mail or a webhook call."""

    id: int
    channel: str
    status: str = Field(description='"pending", "delivered", "failed" or "cancelled".')
    attempts: int
    last_error: str
    cancel_reason: str = Field(
        description='Why a cancelled notice was not sent: "excluded_by_reporter", '
        '"implicated", "withdrawn", "declined" or "closed".'
    )
    delivered_at: datetime | None
    next_attempt_at: datetime


class ReferralRow(BaseModel):
    """A line of the liaison officer's list."""

    reference: str
    status: str
    kind: str
    severity: int | None
    tlp: str
    created_at: datetime
    acknowledge_due: datetime
    overdue: bool
    pending_questions: int


class TimelineEntry(BaseModel):
    seq: int
    kind: str = Field(
        description="sent, acknowledged, accepted, declined, question, question_edited, "
        "answer, update or closed."
    )
    side: str = Field(description='"body", "triage" or "reporter".')
    author: str
    text: str | None = Field(description="Text, never HTML.")
    state: str = Field(description='For a question: "pending", "sent", "answered", "refused".')
    created_at: datetime


class LiaisonReferral(BaseModel):
    referral: ReferralView
    timeline: list[TimelineEntry]


class StepIn(BaseModel):
    """A reason (declining) or an outcome (closing); nothing for the other steps."""

    model_config = ConfigDict(extra="forbid")

    text: str | None = Field(default=None, max_length=5_000)


class WriteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str = Field(min_length=1, max_length=10_000)

    @field_validator("body")
    @classmethod
    def _has_words(cls, value: str) -> str:
        if not value.strip():
            raise DomainMessage(N_("Write a message first."))
        return value.strip()


class QuestionDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    approve: bool
    body: str | None = Field(
        default=None, max_length=10_000, description="The question as the reporter will read it."
    )
