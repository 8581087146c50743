"""What reporters send. Everything they wrote is sealed with the report's data key;
only what is needed to sort and route (kind, category, port, zone, dates) stays clear."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import LargeBinary, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from api.db import UTCDateTime


class Report(SQLModel, table=True):
    __tablename__ = "report"

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(sa_type=String(16), unique=True)
    case_id: int | None = Field(default=None, foreign_key="case.id", index=True)
    kind: str = Field(sa_type=String(16), index=True)
    category_id: int = Field(foreign_key="category.id", index=True)
    port_id: int = Field(foreign_key="port.id", index=True)
    zone_id: int | None = Field(default=None, foreign_key="zone.id", index=True)
    occurred_on: date
    occurred_approximate: bool = False
    cargo_direction: str = Field(sa_type=String(16))
    language: str = Field(sa_type=String(8))
    confidential: bool = False
    status: str = Field(sa_type=String(24), default="received", index=True)
    received_hour: datetime = Field(sa_type=UTCDateTime, index=True)
    wrapped_key: bytes = Field(sa_type=LargeBinary)
    narrative_sealed: bytes = Field(sa_type=LargeBinary)
    location_detail_sealed: bytes | None = Field(default=None, sa_type=LargeBinary)
    identity_sealed: bytes | None = Field(default=None, sa_type=LargeBinary)
    receipt_lookup: str = Field(sa_type=String(64), unique=True)
    receipt_verifier: str = Field(sa_type=String(128))
    reporter_token_generation: int = 0
    next_message_seq: int = 1
    next_attachment_seq: int = 1


class ReportExclusion(SQLModel, table=True):
    """A body the reporter asked never to be told about this report."""

    __tablename__ = "report_exclusion"

    report_id: int = Field(foreign_key="report.id", primary_key=True, ondelete="CASCADE")
    body_id: int = Field(foreign_key="body.id", primary_key=True)


class ReportStep(SQLModel, table=True):
    """A step of the report's handling that its reporter may know (``api.reports.steps``),
    dated to the day; ``body_id`` is the authority a referral or an outcome concerns."""

    __tablename__ = "report_step"

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="report.id", index=True, ondelete="CASCADE")
    step: str = Field(sa_type=String(16))
    day: date
    body_id: int | None = Field(default=None, foreign_key="body.id")


class Message(SQLModel, table=True):
    """A post in a report's thread; ``seq`` orders it, its hour is all the time kept."""

    __tablename__ = "message"
    __table_args__ = (UniqueConstraint("report_id", "seq"),)

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="report.id", index=True, ondelete="CASCADE")
    seq: int
    author: str = Field(sa_type=String(16))
    visibility: str = Field(sa_type=String(16))
    body_sealed: bytes = Field(sa_type=LargeBinary)
    created_hour: datetime = Field(sa_type=UTCDateTime)


class Attachment(SQLModel, table=True):
    """A cleaned file: re-encoded without metadata, sealed with its report's data key."""

    __tablename__ = "attachment"
    __table_args__ = (UniqueConstraint("report_id", "seq"),)

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="report.id", index=True, ondelete="CASCADE")
    seq: int
    media_type: str = Field(sa_type=String(32))
    byte_size: int
    width: int
    height: int
    name_sealed: bytes = Field(sa_type=LargeBinary)
    content_sealed: bytes = Field(sa_type=LargeBinary)
    created_hour: datetime = Field(sa_type=UTCDateTime)


class Submission(SQLModel, table=True):
    """Lets a retried submission get its first receipt back without storing it in clear:
    the receipt is sealed under a key derived from the client's submission key."""

    __tablename__ = "submission"

    key_lookup: str = Field(sa_type=String(64), primary_key=True)
    report_id: int = Field(foreign_key="report.id", index=True, ondelete="CASCADE")
    receipt_sealed: bytes = Field(sa_type=LargeBinary)
    expires_hour: datetime = Field(sa_type=UTCDateTime, index=True)


class DraftAttachment(SQLModel, table=True):
    """A photo chosen on a report form sent without JavaScript, waiting for the report.

    Sealed under a key derived from the draft token that only the reporter's form holds,
    so the server cannot open it until the report is sent; removed at sending or expiry."""

    __tablename__ = "draft_attachment"

    id: int | None = Field(default=None, primary_key=True)
    draft_lookup: str = Field(sa_type=String(64), index=True)
    seq: int
    media_type: str = Field(sa_type=String(32))
    byte_size: int
    width: int
    height: int
    name_sealed: bytes = Field(sa_type=LargeBinary)
    content_sealed: bytes = Field(sa_type=LargeBinary)
    expires_hour: datetime = Field(sa_type=UTCDateTime, index=True)
