from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlmodel import Field, SQLModel

from api.db import UTCDateTime


class SpentProof(SQLModel, table=True):
    """A proof-of-work challenge already used; kept until it would have expired anyway."""

    __tablename__ = "spent_proof"

    challenge_hash: str = Field(sa_type=String(64), primary_key=True)
    expires_hour: datetime = Field(sa_type=UTCDateTime, index=True)
