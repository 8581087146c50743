from __future__ import annotations

from typing import Annotated, Literal
from zoneinfo import available_timezones

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from api.addresses import check_email
from api.datafile import Language, names_field
from api.errors import DomainMessage
from api.i18n import N_
from api.ports.service import MAX_ACKNOWLEDGE_DAYS, MAX_FEEDBACK_DAYS


class PortDeadlines(BaseModel):
    code: str
    name: str
    acknowledge_days: int
    feedback_days: int


class DeadlinesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    acknowledge_days: int = Field(
        ge=1,
        le=MAX_ACKNOWLEDGE_DAYS,
        description="Days from receipt to acknowledge a report (the Directive's maximum is 7).",
    )
    feedback_days: int = Field(
        ge=1,
        le=MAX_FEEDBACK_DAYS,
        description="Days from acknowledgement to give feedback (at most three months).",
    )


# Ports, zones and emergency numbers as administrators configure them ------------------------

ZoneKind = Literal[
    "container_terminal",
    "gate",
    "berth",
    "back_office",
    "anchorage",
    "port_city",
    "warehouse",
    "ferry_terminal",
    "other",
]
PortCode = Annotated[str, Field(pattern=r"^[A-Z0-9]{2,16}$", description="For example NHV.")]
ZoneCode = Annotated[
    str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,31}$", description="Never shown to reporters.")
]
PhoneNumber = Annotated[
    str, Field(pattern=r"^\+?[0-9][0-9 ]{1,30}$", description="As it is dialled, e.g. 112.")
]
Country = Annotated[str, Field(pattern=r"^[A-Z]{2}$", description="ISO 3166 code, e.g. NL.")]
Languages = Annotated[
    list[Language],
    Field(
        min_length=1, description="The languages names are written in; the first is the fallback."
    ),
]


TriageEmail = Annotated[
    str,
    Field(max_length=254, description="Where deadline reminders go when a case has no assignee."),
    AfterValidator(check_email),
]


def check_timezone(name: str) -> str:
    if name not in available_timezones():
        raise DomainMessage(N_("This is not a time zone (for example Europe/Amsterdam)."))
    return name


def check_languages(languages: list[Language]) -> list[Language]:
    if len(set(languages)) != len(languages):
        raise DomainMessage(N_("Each language may be given once."))
    return languages


class PortIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: PortCode
    name: names_field(120)  # type: ignore[valid-type]
    country: Country
    timezone: Annotated[str, AfterValidator(check_timezone)] = "UTC"
    languages: Annotated[Languages, AfterValidator(check_languages)] = Field(
        default_factory=lambda: list[Language](["en"])
    )
    triage_email: TriageEmail = ""


class PortChange(BaseModel):
    """Only the fields given change; ``active: false`` retires the port (reporters no
    longer see it; its cases stay)."""

    model_config = ConfigDict(extra="forbid")

    name: names_field(120) | None = None  # type: ignore[valid-type]
    country: Country | None = None
    timezone: Annotated[str, AfterValidator(check_timezone)] | None = None
    languages: Annotated[Languages, AfterValidator(check_languages)] | None = None
    triage_email: TriageEmail | None = None
    active: bool | None = None


class ZoneIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: ZoneCode
    kind: ZoneKind
    name: names_field(120)  # type: ignore[valid-type]


class ZoneChange(BaseModel):
    """``active: false`` retires the zone: it stays on the cases that name it, and is no
    longer offered to reporters."""

    model_config = ConfigDict(extra="forbid")

    kind: ZoneKind | None = None
    name: names_field(120) | None = None  # type: ignore[valid-type]
    active: bool | None = None


class EmergencyNumberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    number: PhoneNumber
    label: names_field(120)  # type: ignore[valid-type]
    when: names_field(200, required=False) = Field(  # type: ignore[valid-type]
        default_factory=dict, description="When to call it, per language; may be empty."
    )


class EmergencyNumberChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    number: PhoneNumber | None = None
    label: names_field(120) | None = None  # type: ignore[valid-type]
    when: names_field(200, required=False) | None = None  # type: ignore[valid-type]
    active: bool | None = None


class ZoneAdmin(BaseModel):
    code: str
    kind: str
    name: str
    names: dict[str, str]
    position: int
    active: bool


class EmergencyNumberAdmin(BaseModel):
    id: int
    number: str
    label: str
    labels: dict[str, str]
    when: dict[str, str]
    position: int
    active: bool


class PortAdmin(BaseModel):
    code: str
    name: str
    names: dict[str, str]
    country: str
    timezone: str
    languages: list[str]
    acknowledge_days: int
    feedback_days: int
    retention_days: int = Field(description="Days a closed case is kept before it is purged.")
    triage_email: str = Field(description="Where reminders go for cases nobody is assigned to.")
    active: bool
    zones: list[ZoneAdmin]
    emergency_numbers: list[EmergencyNumberAdmin]
