from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class ProofIn(BaseModel):
    """A solved challenge: SHA-256 of ``"{challenge}:{nonce}"`` starts with
    ``difficulty`` zero bits."""

    model_config = ConfigDict(extra="forbid")

    challenge: str = Field(max_length=200)
    nonce: str = Field(max_length=64, pattern=r"^[0-9A-Za-z_-]{1,64}$")


class ChallengePublic(BaseModel):
    challenge: str
    difficulty: int = Field(description="Leading zero bits the SHA-256 digest must have.")
    algorithm: str = Field(default="sha256", description='Hash of "{challenge}:{nonce}".')
    expires_at: datetime
