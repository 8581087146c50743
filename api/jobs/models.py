"""Jobs: work for ``portline worker`` (a purge, a sweep, a reminder), and the recurring
schedules that queue some of them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String
from sqlmodel import Field, SQLModel

from api.db import UTCDateTime


class Job(SQLModel, table=True):
    """One piece of work of a ``kind``, due at ``run_at``. A worker takes it by setting
    ``locked_until``; a worker that dies leaves the lease to run out, and the job is taken
    again. ``once_key`` is unique: the same period of a schedule, the same deadline of a
    reminder, the same case to purge is queued once, however many workers ask."""

    __tablename__ = "job"
    __table_args__ = (Index("ix_job_due", "status", "run_at"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(sa_type=String(48))
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    once_key: str = Field(sa_type=String(160), unique=True)
    # What the job is about ("case:42"), so that a case's pending work can be cancelled.
    subject: str = Field(sa_type=String(64), default="", index=True)
    # pending -> done; failed after the last attempt; cancelled.
    status: str = Field(sa_type=String(16), default="pending")
    run_at: datetime = Field(sa_type=UTCDateTime)
    attempts: int = 0
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    locked_by: str = Field(sa_type=String(64), default="")
    last_error: str = Field(sa_type=String(500), default="")
    created_at: datetime = Field(sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Schedule(SQLModel, table=True):
    """A job of ``kind`` every ``every_seconds``: the worker that finds it due queues that
    period's job and moves ``next_run_at`` on, in one transaction."""

    __tablename__ = "job_schedule"

    kind: str = Field(sa_type=String(48), primary_key=True)
    every_seconds: int
    next_run_at: datetime = Field(sa_type=UTCDateTime)
