from __future__ import annotations

from sqlalchemy import JSON, String
from sqlmodel import Field, SQLModel


class Category(SQLModel, table=True):
    """One kind of thing a reporter can report, named and explained in each language
    (``names``, ``hints``); ``name`` and ``hint`` are the English ones."""

    __tablename__ = "category"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(sa_type=String(48), unique=True)
    kind: str = Field(sa_type=String(16), index=True)
    name: str = Field(sa_type=String(160))
    hint: str = Field(sa_type=String(400), default="")
    names: dict[str, str] = Field(default_factory=dict, sa_type=JSON)
    hints: dict[str, str] = Field(default_factory=dict, sa_type=JSON)
    cargo_relevant: bool = False
    position: int = 0
    active: bool = True
