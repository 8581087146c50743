from __future__ import annotations

from sqlalchemy import String
from sqlmodel import Field, SQLModel


class Category(SQLModel, table=True):
    """One kind of thing a reporter can report; its English name is the catalog msgid."""

    __tablename__ = "category"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(sa_type=String(48), unique=True)
    kind: str = Field(sa_type=String(16), index=True)
    name: str = Field(sa_type=String(160))
    hint: str = Field(sa_type=String(400), default="")
    cargo_relevant: bool = False
    position: int = 0
    active: bool = True
