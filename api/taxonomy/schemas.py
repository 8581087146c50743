"""Categories as administrators configure them."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.datafile import names_field

CategoryKind = Literal["integrity", "incident"]
CategoryCode = Annotated[
    str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,47}$", description="Never shown to reporters.")
]


class CategoryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: CategoryCode
    kind: CategoryKind
    name: names_field(160)  # type: ignore[valid-type]
    hint: names_field(400, required=False) = Field(  # type: ignore[valid-type]
        default_factory=dict, description="An example, per language; may be empty."
    )
    cargo_relevant: bool = Field(
        default=False, description="Whether the form asks which way the cargo was going."
    )


class CategoryChange(BaseModel):
    """Only the fields given change. A new ``kind`` moves the category to the end of that
    kind's list; ``active: false`` retires it (cases keep it; reporters no longer see it)."""

    model_config = ConfigDict(extra="forbid")

    kind: CategoryKind | None = None
    name: names_field(160) | None = None  # type: ignore[valid-type]
    hint: names_field(400, required=False) | None = None  # type: ignore[valid-type]
    cargo_relevant: bool | None = None
    active: bool | None = None


class CategoryAdmin(BaseModel):
    code: str
    kind: str
    name: str
    names: dict[str, str]
    hints: dict[str, str]
    cargo_relevant: bool
    position: int
    active: bool
    cases: int = Field(description="How many cases are of this category.")
