"""Triage's own writing about a case: internal notes that the reporter never sees."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import LargeBinary
from sqlmodel import Field, SQLModel

from api.db import UTCDateTime


class CaseNote(SQLModel, table=True):
    """A note sealed under its own data key: it may name people, as reports do."""

    __tablename__ = "case_note"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True, ondelete="CASCADE")
    author_id: int | None = Field(default=None, foreign_key="staff.id")
    wrapped_key: bytes = Field(sa_type=LargeBinary)
    body_sealed: bytes = Field(sa_type=LargeBinary)
    created_at: datetime = Field(sa_type=UTCDateTime)
