from __future__ import annotations

from sqlalchemy import LargeBinary
from sqlmodel import Field, SQLModel


class KeyCheck(SQLModel, table=True):
    """A value sealed with the database's key: proves at start that the key file matches."""

    __tablename__ = "key_check"

    id: int = Field(default=1, primary_key=True)
    sealed: bytes = Field(sa_type=LargeBinary)
