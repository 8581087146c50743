"""What a reporter sends and what they get back. Table models never cross the API."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from api.errors import DomainMessage
from api.i18n import LANGUAGES, N_
from api.proofs.schemas import ProofIn


class Kind(StrEnum):
    integrity = "integrity"
    incident = "incident"


class CargoDirection(StrEnum):
    inbound = "inbound"
    outbound = "outbound"
    transhipment = "transhipment"
    not_applicable = "not_applicable"


def _clean_text(value: str | None) -> str | None:
    if value is None:
        return None
    if "\x00" in value:
        raise DomainMessage(N_("This text contains a character that is not allowed."))
    stripped = value.strip()
    return stripped or None


class Identity(BaseModel):
    """Given only by a confidential reporter; shown to the triage team only."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=200, examples=["J. Peeters"])
    contact: str | None = Field(
        default=None, max_length=200, examples=["+32 470 00 00 00, evenings only"]
    )
    may_share: bool = Field(
        default=False,
        description="The reporter agrees that triage may pass the name and contact on to "
        "the authority that handles the report. Without it they stay with triage.",
    )

    _clean = field_validator("name", "contact")(_clean_text)

    @model_validator(mode="after")
    def _something_given(self) -> Identity:
        if self.name is None and self.contact is None:
            raise DomainMessage(N_("Give a name or a way to reach you, or report anonymously."))
        return self


class ReportCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "kind": "incident",
                    "category": "seal-tampering",
                    "port": "NHV",
                    "zone": "ct-north",
                    "location_detail": "Stack 14, near the reefer plugs",
                    "occurred_on": "2026-11-26",
                    "occurred_approximate": False,
                    "cargo_direction": "inbound",
                    "narrative": "Two men cut the seal of a reefer container at night and "
                    "fitted a new one. They came in a white van without a terminal badge.",
                    "identity": None,
                    "exclude_bodies": ["terminal-security"],
                    "language": "en",
                    "submission_key": "3f1c2b9a-8d2e-4f5a-9b1c-7e6d5a4b3c2d",
                    "proof": {"challenge": "…", "nonce": "1a2b"},
                }
            ]
        },
    )

    kind: Kind
    category: str = Field(max_length=48, description="A category code from /public/config.")
    port: str = Field(max_length=16, description="A port code from /public/config.")
    zone: str | None = Field(default=None, max_length=32)
    location_detail: str | None = Field(default=None, max_length=500)
    occurred_on: date = Field(description="When it happened (a day; may be approximate).")
    occurred_approximate: bool = False
    cargo_direction: CargoDirection = CargoDirection.not_applicable
    narrative: str = Field(min_length=1, max_length=20_000)
    identity: Identity | None = None
    exclude_bodies: list[str] = Field(default_factory=list, max_length=30)
    language: str = Field(default="en", max_length=8)
    submission_key: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_-]{22,128}$",
        description="A random key the client makes once per report; a retry with the same "
        "key within 72 hours returns the same receipt and stores nothing twice.",
    )
    proof: ProofIn | None = None

    _clean = field_validator("location_detail", "zone")(_clean_text)

    @field_validator("narrative")
    @classmethod
    def _narrative_has_words(cls, value: str) -> str:
        cleaned = _clean_text(value)
        if not cleaned:
            raise DomainMessage(N_("Say in a few words what happened."))
        return cleaned

    @field_validator("occurred_on")
    @classmethod
    def _not_in_future(cls, value: date) -> date:
        # A day of slack: the reporter's calendar day may be ahead of UTC.
        if value > date.today() + timedelta(days=1):
            raise DomainMessage(N_("This date is in the future."))
        if value.year < 2000:
            raise DomainMessage(N_("This date is too far in the past."))
        return value

    @field_validator("language")
    @classmethod
    def _supported_language(cls, value: str) -> str:
        if value not in LANGUAGES:
            raise DomainMessage(N_("This language is not offered."))
        return value

    @field_validator("exclude_bodies")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if any(len(code) > 48 for code in value):
            raise DomainMessage(N_("This value is not valid."))
        return list(dict.fromkeys(value))


class ReceiptOut(BaseModel):
    receipt: str = Field(
        description="16 digits, shown once; the only way back to the report. Never stored.",
        examples=["4821093377150264"],
    )
    reference: str = Field(
        description="The report's reference, safe to quote.", examples=["R-7K3M9QX2"]
    )


class ReporterLogin(BaseModel):
    model_config = ConfigDict(extra="forbid")

    receipt: str = Field(max_length=40, examples=["4821 0933 7715 0264"])
    proof: ProofIn | None = None


class ReporterToken(BaseModel):
    token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: int = Field(description="Seconds until the token stops working.")


class TimelineEvent(BaseModel):
    event: str = Field(
        examples=["received"],
        description="received, acknowledged, question, answered, referred, outcome, closed "
        "or reopened.",
    )
    label: str = Field(description="What happened, in the reporter's language.")
    day: date = Field(description="The day it happened (UTC): no finer time is kept.")


class MessagePublic(BaseModel):
    seq: int
    author: str = Field(
        description='"reporter" (you), "team", or "authority" (the authority handling the '
        "report, its question passed on by the team)."
    )
    body: str
    hour: datetime


class AttachmentPublic(BaseModel):
    seq: int
    media_type: str
    byte_size: int
    width: int
    height: int


class StaffAttachment(AttachmentPublic):
    name: str = Field(description="The file name the reporter's phone gave; text, never HTML.")


class ReporterReport(BaseModel):
    reference: str
    status: str
    status_label: str
    kind: Kind
    category: str
    received_hour: datetime
    timeline: list[TimelineEvent]
    messages: list[MessagePublic]
    attachments: list[AttachmentPublic]


class ReporterMessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str = Field(min_length=1, max_length=10_000)

    @field_validator("body")
    @classmethod
    def _has_words(cls, value: str) -> str:
        cleaned = _clean_text(value)
        if not cleaned:
            raise DomainMessage(N_("Write a message first."))
        return cleaned


class ThreadMessage(BaseModel):
    seq: int
    author: str = Field(description='"reporter" or "team".')
    body: str
    hour: datetime


class StaffReportView(BaseModel):
    """A report as triage reads it: decrypted, always shown as text, never as HTML."""

    id: int
    reference: str
    received_hour: datetime
    language: str
    occurred_on: date
    occurred_approximate: bool
    cargo_direction: CargoDirection
    narrative: str
    location_detail: str | None
    identity: Identity | None
    excluded_bodies: list[str]
    attachments: list[StaffAttachment]
    thread: list[ThreadMessage]
