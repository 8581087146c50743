"""Referrals: what triage shares with one receiving body about one case, the body's work on
it, and the outbox that delivers the notices.

A referral keeps its own sealed copy of what was shared (summary, chosen photos, identity
where consented), so later edits to the case never change what a body received."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, LargeBinary, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from api.db import UTCDateTime


class CaseImplicatedBody(SQLModel, table=True):
    """A body that triage found implicated in the case: it can never receive a referral of
    it, whatever any rule recommends."""

    __tablename__ = "case_implicated_body"

    case_id: int = Field(foreign_key="case.id", primary_key=True, ondelete="CASCADE")
    body_id: int = Field(foreign_key="body.id", primary_key=True)
    marked_by: int | None = Field(default=None, foreign_key="staff.id")
    marked_at: datetime = Field(sa_type=UTCDateTime)


# A referral its body still works: it reads the case's answers and can be acted on. A
# declined, closed or withdrawn one is over.
LIVE_STATUSES = ("sent", "acknowledged", "accepted")


class Referral(SQLModel, table=True):
    __tablename__ = "referral"
    __table_args__ = (Index("ix_referral_body_status", "body_id", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(sa_type=String(16), unique=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    body_id: int = Field(foreign_key="body.id")
    # sent -> acknowledged -> accepted -> closed; or declined (back to triage).
    status: str = Field(sa_type=String(16), default="sent")
    tlp: str = Field(sa_type=String(16))
    wrapped_key: bytes = Field(sa_type=LargeBinary)
    summary_sealed: bytes = Field(sa_type=LargeBinary)
    identity_sealed: bytes | None = Field(default=None, sa_type=LargeBinary)
    # Case facts as shared, in clear: they are labels, not what anyone wrote.
    kind: str = Field(sa_type=String(16))
    category_id: int = Field(foreign_key="category.id")
    port_id: int = Field(foreign_key="port.id")
    zone_id: int | None = Field(default=None, foreign_key="zone.id")
    severity: int | None = None
    created_by: int | None = Field(default=None, foreign_key="staff.id")
    created_at: datetime = Field(sa_type=UTCDateTime)
    acknowledge_due: datetime = Field(sa_type=UTCDateTime)
    acknowledged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    accepted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    declined_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    next_event_seq: int = 1


class ReferralAttachment(SQLModel, table=True):
    """A photo chosen for the referral, copied and sealed under the referral's key."""

    __tablename__ = "referral_attachment"
    __table_args__ = (UniqueConstraint("referral_id", "seq"),)

    id: int | None = Field(default=None, primary_key=True)
    referral_id: int = Field(foreign_key="referral.id", index=True, ondelete="CASCADE")
    seq: int
    media_type: str = Field(sa_type=String(32))
    byte_size: int
    width: int
    height: int
    name_sealed: bytes = Field(sa_type=LargeBinary)
    content_sealed: bytes = Field(sa_type=LargeBinary)


class ReferralEvent(SQLModel, table=True):
    """One entry of a referral's timeline: acknowledged, accepted, declined (with a reason),
    a question for the reporter (waiting for triage's approval, then sent), the reporter's
    answer, an update, closed with an outcome. Text is sealed under the referral's key."""

    __tablename__ = "referral_event"
    __table_args__ = (UniqueConstraint("referral_id", "seq"),)

    id: int | None = Field(default=None, primary_key=True)
    referral_id: int = Field(foreign_key="referral.id", index=True, ondelete="CASCADE")
    seq: int
    kind: str = Field(sa_type=String(24))
    # "body" (the liaison officer), "triage", "reporter" or "system".
    side: str = Field(sa_type=String(16))
    author_id: int | None = Field(default=None, foreign_key="staff.id")
    body_sealed: bytes | None = Field(default=None, sa_type=LargeBinary)
    # For a question: "pending" until triage approves (and maybe edits) it, then "sent".
    state: str = Field(sa_type=String(16), default="")
    created_at: datetime = Field(sa_type=UTCDateTime)


class OutboxJob(SQLModel, table=True):
    """A notice to deliver (an e-mail or a webhook call), worked by ``portline worker``.

    A job is taken by setting ``locked_until``; a worker that dies leaves the lock to
    expire and the job to be taken again, with the same idempotency key."""

    __tablename__ = "outbox_job"
    __table_args__ = (Index("ix_outbox_job_due", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    referral_id: int = Field(foreign_key="referral.id", index=True)
    channel: str = Field(sa_type=String(16))  # "email" or "webhook"
    idempotency_key: str = Field(sa_type=String(64), unique=True)
    # pending -> delivered, or failed after the last attempt (a retry makes it pending).
    status: str = Field(sa_type=String(16), default="pending")
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_type=UTCDateTime)
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    locked_by: str = Field(sa_type=String(64), default="")
    last_error: str = Field(sa_type=String(500), default="")
    # Why a cancelled notice was not sent: the body may no longer receive the case
    # ("excluded_by_reporter", "implicated") or the referral ended ("withdrawn",
    # "declined", "closed").
    cancel_reason: str = Field(sa_type=String(32), default="")
    created_at: datetime = Field(sa_type=UTCDateTime)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
