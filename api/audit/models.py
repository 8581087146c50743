"""The audit log: append-only and hash-chained. Each entry carries the hash of the one
before it, so an edit or a deletion breaks the chain at that point."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlmodel import Field, SQLModel

from api.db import UTCDateTime


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_entry"

    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    at: datetime = Field(sa_type=UTCDateTime, index=True)
    actor_id: int | None = Field(default=None, index=True)
    actor: str = Field(sa_type=String(254))
    action: str = Field(sa_type=String(64), index=True)
    object_type: str = Field(sa_type=String(32), default="")
    object_id: str = Field(sa_type=String(64), default="")
    detail: str = Field(sa_type=Text, default="{}")
    previous_hash: str = Field(sa_type=String(64))
    hash: str = Field(sa_type=String(64))


class AuditHead(SQLModel, table=True):
    """The last entry's number and hash, MACed: deleting entries from the end shows."""

    __tablename__ = "audit_head"

    id: int = Field(default=1, primary_key=True)
    seq: int
    hash: str = Field(sa_type=String(64))
    mac: str = Field(sa_type=String(64))
