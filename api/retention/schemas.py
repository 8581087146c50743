from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.agencies.schemas import required_text
from api.retention.policy import HOLD_REASON_LIMIT, MAX_RETENTION_DAYS, MIN_RETENTION_DAYS


class RetentionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    retention_days: int = Field(
        ge=MIN_RETENTION_DAYS,
        le=MAX_RETENTION_DAYS,
        description="Days a closed case is kept before it is purged (30 to 3650).",
    )


class PortRetention(BaseModel):
    code: str
    name: str
    retention_days: int


class LegalHoldIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(
        min_length=1,
        max_length=HOLD_REASON_LIMIT,
        description="Why the case must be kept, for example the court case that needs it.",
    )

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str) -> str:
        return required_text(value)


class CaseRetentionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    reference: str
    port_code: str
    closed_at: datetime | None
    retained_until: datetime | None = Field(
        description="When the port's retention ends, held or not; null while the case is open."
    )
    purge_at: datetime | None = Field(
        description="When the case is purged; null while it is open or on legal hold."
    )
    on_hold: bool
    legal_hold_reason: str
    legal_hold_at: datetime | None
