from __future__ import annotations

from sqlalchemy import String
from sqlmodel import Field, SQLModel


class Body(SQLModel, table=True):
    """A receiving organisation (port authority, police, customs, ...)."""

    __tablename__ = "body"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(sa_type=String(48), unique=True)
    name: str = Field(sa_type=String(160))
    kind: str = Field(sa_type=String(32))
    reporter_may_exclude: bool = True
    active: bool = True
