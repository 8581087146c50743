from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from api.ports.service import MAX_ACKNOWLEDGE_DAYS, MAX_FEEDBACK_DAYS


class PortDeadlines(BaseModel):
    code: str
    name: str
    acknowledge_days: int
    feedback_days: int


class DeadlinesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    acknowledge_days: int = Field(
        ge=1,
        le=MAX_ACKNOWLEDGE_DAYS,
        description="Days from receipt to acknowledge a report (the Directive's maximum is 7).",
    )
    feedback_days: int = Field(
        ge=1,
        le=MAX_FEEDBACK_DAYS,
        description="Days from acknowledgement to give feedback (at most three months).",
    )
