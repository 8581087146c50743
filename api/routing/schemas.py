"""Routing rules as administrators write them and triagers read them."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.agencies.schemas import required_text
from api.reports.schemas import Kind


class RuleIn(BaseModel):
    """A whole rule: a condition left empty (null) matches any case."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        min_length=1,
        max_length=160,
        description="Why the body should have such a case: shown to the triager.",
    )
    body: str = Field(max_length=48, description="The code of the body recommended.")
    kind: Kind | None = None
    category: str | None = Field(default=None, max_length=48, description="A category code.")
    port: str | None = Field(default=None, max_length=16, description="A port code.")
    zone: str | None = Field(
        default=None, max_length=32, description="A zone code of the port (the port is required)."
    )
    min_severity: int | None = Field(
        default=None,
        ge=1,
        le=4,
        description="Matches cases graded this severe or more (1 low … 4 critical); "
        "a case not yet graded does not match.",
    )
    active: bool = True

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return required_text(value)

    @field_validator("category", "port", "zone")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None


class RulePublic(BaseModel):
    id: int
    position: int = Field(
        description="Rules are read in this order; the first to name a body wins."
    )
    name: str
    body: str
    body_name: str
    body_active: bool
    kind: Kind | None
    category: str | None
    category_name: str | None
    port: str | None
    port_name: str | None
    zone: str | None
    zone_name: str | None
    min_severity: int | None
    active: bool
