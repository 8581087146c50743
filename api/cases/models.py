"""Cases: the unit of triage. A case starts as one report; duplicates are linked into it.

Only metadata needed to sort, route and measure lives here, in clear: what the reporter
wrote stays sealed in their report."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlmodel import Field, SQLModel

from api.db import UTCDateTime


class Case(SQLModel, table=True):
    __tablename__ = "case"
    __table_args__ = (
        # The queue sorts on the next deadline, then the id; closed cases have none and sort
        # last, so both orders are served from an index (bench/queue.py: p95 43.6 -> 4.6 ms
        # for the default queue, 134.5 -> 13.6 ms for closed cases, on 200,000 cases).
        Index("ix_case_open_queue", "status", "due_at", "id"),
        Index("ix_case_due_queue", "due_at", "id"),
        # Retention purges the longest closed first, a batch at a time (api.retention.policy).
        Index("ix_case_closed", "closed_at", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(sa_type=String(16), unique=True)
    status: str = Field(sa_type=String(24), default="new", index=True)
    kind: str = Field(sa_type=String(16), index=True)
    category_id: int = Field(foreign_key="category.id", index=True)
    port_id: int = Field(foreign_key="port.id", index=True)
    zone_id: int | None = Field(default=None, foreign_key="zone.id", index=True)
    cargo_direction: str = Field(sa_type=String(16), default="not_applicable")
    severity: int | None = None
    assignee_id: int | None = Field(default=None, foreign_key="staff.id", index=True)
    tlp: str = Field(sa_type=String(16), default="AMBER")
    title: str = Field(sa_type=String(200), default="")
    received_hour: datetime = Field(sa_type=UTCDateTime, index=True)
    acknowledge_due: datetime = Field(sa_type=UTCDateTime)
    acknowledged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    feedback_due: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The next deadline that matters (acknowledgement, then feedback): the queue sorts on it.
    due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    resolution: str = Field(sa_type=String(32), default="")
    # Not empty: an administrator holds the case, and it is never purged until released.
    legal_hold_reason: str = Field(sa_type=String(300), default="")
    legal_hold_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class CaseTag(SQLModel, table=True):
    __tablename__ = "case_tag"

    case_id: int = Field(foreign_key="case.id", primary_key=True, ondelete="CASCADE")
    tag: str = Field(sa_type=String(40), primary_key=True, index=True)


class CaseEntity(SQLModel, table=True):
    """A keyed hash of a container, ship or plate named in a report of the case, so that
    reports about the same thing meet without their text being readable."""

    __tablename__ = "case_entity"

    case_id: int = Field(foreign_key="case.id", primary_key=True, ondelete="CASCADE")
    # Its own index: the second column of the key serves no look-up by report (a purge).
    report_id: int = Field(
        foreign_key="report.id", primary_key=True, ondelete="CASCADE", index=True
    )
    kind: str = Field(sa_type=String(16), primary_key=True)
    value_hash: str = Field(sa_type=String(64), primary_key=True, index=True)
