"""A port profile: everything a port is on Portline, in one file a person can read and
write: its name, languages and deadlines, its zones and emergency numbers, the receiving
bodies that act there and the routing rules that recommend them.

The same model checks the file and the API's JSON; the file is TOML (api/datafile.py)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from api.addresses import check_email
from api.agencies.models import BODY_KINDS
from api.datafile import Language, names_field
from api.errors import DomainMessage
from api.i18n import N_
from api.ports.schemas import (
    Country,
    Languages,
    PhoneNumber,
    PortCode,
    ZoneCode,
    ZoneKind,
    check_languages,
    check_timezone,
)
from api.ports.service import MAX_ACKNOWLEDGE_DAYS, MAX_FEEDBACK_DAYS
from api.retention.policy import (
    DEFAULT_RETENTION_DAYS,
    MAX_RETENTION_DAYS,
    MIN_RETENTION_DAYS,
)


class ZoneProfile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: ZoneCode
    kind: ZoneKind
    name: names_field(120)  # type: ignore[valid-type]
    # A retired zone stays on the cases that name it but is no longer offered to reporters.
    retired: bool = False


class EmergencyNumberProfile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    number: PhoneNumber
    label: names_field(120)  # type: ignore[valid-type]
    when: names_field(200, required=False) = Field(default_factory=dict)  # type: ignore[valid-type]
    retired: bool = False


class BodyProfile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,47}$")
    kind: str
    name: names_field(160)  # type: ignore[valid-type]
    reporter_may_exclude: bool = True
    notification_email: str = Field(default="", max_length=254)
    # "everywhere" (every port of the instance), "port" (all of this port), or the codes
    # of the zones of this port where the body may act.
    acts_in: str | list[str] = "everywhere"

    @field_validator("kind")
    @classmethod
    def _kind(cls, kind: str) -> str:
        if kind not in BODY_KINDS:
            raise DomainMessage(N_("Choose one of the kinds of body."))
        return kind

    @field_validator("acts_in", mode="before")
    @classmethod
    def _acts_in(cls, value: object) -> object:
        if value in ("everywhere", "port") or (
            isinstance(value, list) and value and all(isinstance(each, str) for each in value)
        ):
            return value
        raise DomainMessage(N_('Give "everywhere", "port" or a list of the port\'s zone codes.'))

    @field_validator("notification_email")
    @classmethod
    def _email(cls, address: str) -> str:
        return check_email(address)


class RuleProfile(BaseModel):
    """Recommend ``bodies`` for this port's cases that meet every condition given."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=160)
    bodies: list[str] = Field(min_length=1)
    kind: Literal["integrity", "incident"] | None = None
    category: str | None = Field(default=None, max_length=48)
    zone: str | None = Field(default=None, max_length=32)
    min_severity: int | None = Field(default=None, ge=1, le=4)


class PortProfile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: PortCode
    name: names_field(120)  # type: ignore[valid-type]
    country: Country
    timezone: Annotated[str, AfterValidator(check_timezone)] = "UTC"
    # The languages the port writes its names in; the first is what a reporter reads when
    # a name is missing in their own language, so every name must have it.
    languages: Annotated[Languages, AfterValidator(check_languages)]
    acknowledge_days: int = Field(default=MAX_ACKNOWLEDGE_DAYS, ge=1, le=MAX_ACKNOWLEDGE_DAYS)
    feedback_days: int = Field(default=91, ge=1, le=MAX_FEEDBACK_DAYS)
    # Where deadline reminders go for a case nobody is assigned to; may be empty.
    triage_email: Annotated[str, AfterValidator(check_email)] = Field(default="", max_length=254)
    # Days a closed case is kept before it is purged (api.retention.policy).
    retention_days: int = Field(
        default=DEFAULT_RETENTION_DAYS, ge=MIN_RETENTION_DAYS, le=MAX_RETENTION_DAYS
    )
    zone: list[ZoneProfile] = Field(default_factory=list)
    emergency_number: list[EmergencyNumberProfile] = Field(default_factory=list)
    body: list[BodyProfile] = Field(default_factory=list)
    rule: list[RuleProfile] = Field(default_factory=list)


Problem = tuple[tuple[str | int, ...], str]


def problems_of(self: PortProfile) -> list[Problem]:
    """What one field cannot check, each with where it is: codes used twice, names missing
    in the port's first language, rules naming a zone or body the profile does not have."""
    first = self.languages[0]
    problems: list[Problem] = []

    def once(table: str, key: str, values: list[str]) -> None:
        for index, value in enumerate(values):
            if values.index(value) != index:
                problems.append(((table, index, key), f"{value} is given twice"))

    once("zone", "code", [zone.code for zone in self.zone])
    once("emergency_number", "number", [each.number for each in self.emergency_number])
    once("body", "code", [body.code for body in self.body])
    if first not in self.name:
        problems.append((("name",), f"the name has no {first} text"))
    named: list[tuple[str, int, str, dict[Language, str]]] = [
        *(("zone", index, "name", zone.name) for index, zone in enumerate(self.zone)),
        *(
            ("emergency_number", index, "label", each.label)
            for index, each in enumerate(self.emergency_number)
        ),
        *(("body", index, "name", body.name) for index, body in enumerate(self.body)),
    ]
    for table, index, key, names in named:
        if first not in names:
            problems.append(((table, index, key), f"no text in {first}, the port's first language"))
    zones = {zone.code for zone in self.zone}
    bodies = {body.code for body in self.body}
    for index, body in enumerate(self.body):
        if isinstance(body.acts_in, list):
            problems.extend(
                (("body", index, "acts_in"), f"this port has no zone {code}")
                for code in body.acts_in
                if code not in zones
            )
    for index, rule in enumerate(self.rule):
        if rule.zone and rule.zone not in zones:
            problems.append((("rule", index, "zone"), f"this port has no zone {rule.zone}"))
        problems.extend(
            (("rule", index, "bodies"), f"the file has no body {code}")
            for code in rule.bodies
            if code not in bodies
        )
    return problems
