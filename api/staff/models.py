"""Staff accounts, their second factor and their server-side sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import LargeBinary, String
from sqlmodel import Field, SQLModel

from api.db import UTCDateTime


class Staff(SQLModel, table=True):
    __tablename__ = "staff"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(sa_type=String(254), unique=True)
    display_name: str = Field(sa_type=String(120), default="")
    role: str = Field(sa_type=String(16))
    body_id: int | None = Field(default=None, foreign_key="body.id")
    language: str = Field(sa_type=String(8), default="en")
    active: bool = True
    password_hash: str | None = Field(default=None, sa_type=String(256))
    totp_secret_sealed: bytes | None = Field(default=None, sa_type=LargeBinary)
    totp_enabled: bool = False
    totp_last_step: int = 0
    failed_logins: int = 0
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)

    @property
    def shown_name(self) -> str:
        """How colleagues see this person: the name they gave, else the e-mail address."""
        return self.display_name or self.email


class StaffPort(SQLModel, table=True):
    """A port a triager or administrator may see. None for a staff member: every port.

    Deleting a port while someone is limited to it is refused (no cascade on the port):
    losing their last row would widen them to every port."""

    __tablename__ = "staff_port"

    staff_id: int = Field(foreign_key="staff.id", primary_key=True, ondelete="CASCADE")
    port_id: int = Field(foreign_key="port.id", primary_key=True)


class RecoveryCode(SQLModel, table=True):
    """One of ten single-use codes for when the phone with the authenticator is lost."""

    __tablename__ = "recovery_code"

    id: int | None = Field(default=None, primary_key=True)
    staff_id: int = Field(foreign_key="staff.id", index=True, ondelete="CASCADE")
    code_hash: str = Field(sa_type=String(256))
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class StaffSession(SQLModel, table=True):
    """A signed-in browser. Only the hash of its cookie value is kept."""

    __tablename__ = "staff_session"

    id_hash: str = Field(sa_type=String(64), primary_key=True)
    staff_id: int = Field(foreign_key="staff.id", index=True, ondelete="CASCADE")
    csrf_token: str = Field(sa_type=String(64))
    second_factor_done: bool = False
    # Wrong codes given to this half-signed-in session: at the fifth it ends.
    second_factor_failures: int = 0
    created_at: datetime = Field(sa_type=UTCDateTime)
    last_seen_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)


class Invitation(SQLModel, table=True):
    """A one-time link for a new account (or a reset) to choose a password."""

    __tablename__ = "invitation"

    token_hash: str = Field(sa_type=String(64), primary_key=True)
    staff_id: int = Field(foreign_key="staff.id", index=True, ondelete="CASCADE")
    expires_at: datetime = Field(sa_type=UTCDateTime)
