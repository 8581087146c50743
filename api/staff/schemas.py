from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from api.ids import Id
from api.policy import Role


class SignInIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(max_length=254)
    password: str = Field(max_length=256)


class CodeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(max_length=32, description="A 6-digit TOTP code or a recovery code.")


class SignedIn(BaseModel):
    second_factor_needed: bool
    enrolment_needed: bool = False
    csrf_token: str = Field(description="Send it as X-CSRF-Token with every change.")


class EnrolmentOut(BaseModel):
    secret: str
    uri: str
    qr_svg: str


class EnrolledOut(BaseModel):
    recovery_codes: list[str]
    csrf_token: str


PortCode = Annotated[str, Field(max_length=16)]
PORTS_DESCRIPTION = (
    "The codes of the ports a triager or an administrator is limited to; empty for every "
    "port. Only an administrator of every port chooses them."
)


class StaffPublic(BaseModel):
    id: int
    email: str
    display_name: str
    role: Role
    body_id: int | None
    active: bool
    second_factor: bool
    ports: list[str] = Field(description=PORTS_DESCRIPTION)


class StaffCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(max_length=254)
    role: Role
    display_name: str = Field(default="", max_length=120)
    body_id: Id | None = None
    language: str = Field(default="en", max_length=8)
    ports: list[PortCode] = Field(
        default_factory=list, max_length=200, description=PORTS_DESCRIPTION
    )


class StaffPorts(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ports: list[PortCode] = Field(max_length=200, description=PORTS_DESCRIPTION)


class StaffCreated(BaseModel):
    account: StaffPublic
    invitation_url: str


class PasswordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: str = Field(max_length=256)


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: str = Field(max_length=256)
    new_password: str = Field(max_length=256)


class SessionPublic(BaseModel):
    created_at: datetime
    last_seen_at: datetime
    current: bool
