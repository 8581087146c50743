from __future__ import annotations

from sqlalchemy import JSON, String, UniqueConstraint
from sqlmodel import Field, SQLModel


class Port(SQLModel, table=True):
    __tablename__ = "port"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(sa_type=String(16), unique=True)
    # ``name`` is the name in the port's first language; ``names`` has it in every
    # language it was written in, for the reporter's pages (see api.i18n.in_language).
    name: str = Field(sa_type=String(120))
    names: dict[str, str] = Field(default_factory=dict, sa_type=JSON)
    # The languages the port writes its names in, its first language first.
    languages: list[str] = Field(default_factory=lambda: ["en"], sa_type=JSON)
    country: str = Field(sa_type=String(2))
    timezone: str = Field(sa_type=String(64), default="UTC")
    # Deadlines of EU Directive 2019/1937, which a port may shorten or lengthen.
    # Where deadline reminders go for a case nobody is assigned to (triage's shared box).
    triage_email: str = Field(sa_type=String(254), default="")
    acknowledge_days: int = 7
    feedback_days: int = 91
    # Closed cases are purged this many days after closing (api.retention.policy).
    retention_days: int = 365
    active: bool = True


class Zone(SQLModel, table=True):
    __tablename__ = "zone"
    __table_args__ = (UniqueConstraint("port_id", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    port_id: int = Field(foreign_key="port.id", index=True, ondelete="CASCADE")
    code: str = Field(sa_type=String(32))
    name: str = Field(sa_type=String(120))
    names: dict[str, str] = Field(default_factory=dict, sa_type=JSON)
    kind: str = Field(sa_type=String(32))
    position: int = 0
    active: bool = True


class EmergencyNumber(SQLModel, table=True):
    """A number to call when someone is in danger now, shown before anything else."""

    __tablename__ = "emergency_number"

    id: int | None = Field(default=None, primary_key=True)
    port_id: int = Field(foreign_key="port.id", index=True, ondelete="CASCADE")
    label: str = Field(sa_type=String(120))
    labels: dict[str, str] = Field(default_factory=dict, sa_type=JSON)
    number: str = Field(sa_type=String(32))
    # When to call it ("someone is hurt or in danger now"), per language; may be empty.
    when: dict[str, str] = Field(default_factory=dict, sa_type=JSON)
    position: int = 0
    active: bool = True
