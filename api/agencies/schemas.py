"""Receiving bodies as administrators configure them.

The webhook secret is write-only: it goes in (set, or generated on request) and never comes
out again, except once, in the answer to the request that generated it."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.config import JsonDict

from api.addresses import check_email as check_email  # the bodies' notices too
from api.agencies.models import BODY_KINDS
from api.errors import DomainMessage
from api.i18n import N_

# Plain http only to this machine, for a body's test receiver; everything else over TLS.
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1"})
MIN_SECRET_LENGTH = 24
MAX_SECRET_LENGTH = 200

_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")


def required_text(value: str) -> str:
    value = value.strip()
    if not value:
        raise DomainMessage(N_("This field is required."))
    return value


def check_kind(kind: str) -> str:
    if kind not in BODY_KINDS:
        raise DomainMessage(N_("Choose one of the kinds of body."))
    return kind


def check_webhook_url(url: str) -> str:
    """An https address (plain http only for a receiver on this machine), or empty."""
    url = url.strip()
    if not url:
        return ""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise DomainMessage(N_("This is not a web address.")) from None
    if parts.scheme not in ("https", "http") or not host or any(char.isspace() for char in url):
        raise DomainMessage(N_("This is not a web address."))
    if parts.username is not None or parts.password is not None:
        # It would be stored and shown in clear; the body's secret signs instead.
        raise DomainMessage(N_("Leave the user name and password out of the address."))
    if parts.fragment:
        raise DomainMessage(N_("Leave out the part after #."))
    if parts.scheme == "http" and host not in LOCAL_HOSTS:
        raise DomainMessage(N_("Use an https address (http only for localhost or 127.0.0.1)."))
    if not _valid_host(host):
        raise DomainMessage(N_("This is not a web address."))
    return url


def _valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return all(_HOST_LABEL.fullmatch(label) for label in host.rstrip(".").split("."))
    return True


def check_secret(secret: str) -> str:
    if secret and not MIN_SECRET_LENGTH <= len(secret) <= MAX_SECRET_LENGTH:
        raise DomainMessage(N_("A secret has 24 to 200 characters."))
    if any(not char.isprintable() or char.isspace() for char in secret):
        raise DomainMessage(N_("A secret has no spaces or invisible characters."))
    return secret


class JurisdictionIn(BaseModel):
    """A whole port (no zone) or one of its zones."""

    model_config = ConfigDict(extra="forbid")

    port: str = Field(max_length=16, description="A port code, e.g. NHV.")
    zone: str | None = Field(default=None, max_length=32, description="A zone code of that port.")


class JurisdictionPublic(BaseModel):
    port: str
    port_name: str
    zone: str | None
    zone_name: str | None


_KIND_SCHEMA: JsonDict = {"enum": list(BODY_KINDS)}
_URL_HELP = "https://… (http://localhost or http://127.0.0.1 for a test receiver); empty for none."
_WRITE_ONLY_HELP = (
    "Write-only: set the secret the webhook is signed with (24 to 200 characters), or "
    '"" to remove it. Never returned.'
)
_GENERATE_HELP = (
    "Generate a new random secret; it is returned once, as generated_webhook_secret, "
    "and never again."
)


class BodyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(
        min_length=2,
        max_length=48,
        pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$",
        description="A short, permanent name: lower-case letters, digits and hyphens.",
    )
    name: str = Field(min_length=1, max_length=160)
    kind: str = Field(max_length=32, json_schema_extra=_KIND_SCHEMA)
    jurisdiction: list[JurisdictionIn] = Field(
        default_factory=list,
        max_length=200,
        description="Where the body may act; empty for everywhere.",
    )
    notification_email: str = Field(default="", max_length=254)
    webhook_url: str = Field(default="", max_length=500, description=_URL_HELP)
    webhook_secret: str | None = Field(
        default=None, max_length=MAX_SECRET_LENGTH, description=_WRITE_ONLY_HELP
    )
    generate_webhook_secret: bool = Field(default=False, description=_GENERATE_HELP)
    active: bool = True
    reporter_may_exclude: bool = Field(
        default=True, description="Whether a reporter may exclude this body from their report."
    )
    named_to_reporter: bool = Field(
        default=False,
        description="Whether the reporter's status page may name the body once it has the case.",
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return required_text(value)

    @field_validator("kind")
    @classmethod
    def _kind(cls, value: str) -> str:
        return check_kind(value)

    @field_validator("notification_email")
    @classmethod
    def _email(cls, value: str) -> str:
        return check_email(value)

    @field_validator("webhook_url")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_webhook_url(value)

    @field_validator("webhook_secret")
    @classmethod
    def _secret(cls, value: str | None) -> str | None:
        return None if value is None else check_secret(value)


class BodyUpdate(BaseModel):
    """A change to a body: each field left out stays as it is. The code never changes."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=160)
    kind: str | None = Field(default=None, max_length=32, json_schema_extra=_KIND_SCHEMA)
    jurisdiction: list[JurisdictionIn] | None = Field(
        default=None, max_length=200, description="Replaces the whole list; [] for everywhere."
    )
    notification_email: str | None = Field(default=None, max_length=254)
    webhook_url: str | None = Field(default=None, max_length=500, description=_URL_HELP)
    webhook_secret: str | None = Field(
        default=None, max_length=MAX_SECRET_LENGTH, description=_WRITE_ONLY_HELP
    )
    generate_webhook_secret: bool = Field(default=False, description=_GENERATE_HELP)
    active: bool | None = None
    reporter_may_exclude: bool | None = None
    named_to_reporter: bool | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        return None if value is None else required_text(value)

    @field_validator("kind")
    @classmethod
    def _kind(cls, value: str | None) -> str | None:
        return None if value is None else check_kind(value)

    @field_validator("notification_email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return None if value is None else check_email(value)

    @field_validator("webhook_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else check_webhook_url(value)

    @field_validator("webhook_secret")
    @classmethod
    def _secret(cls, value: str | None) -> str | None:
        return None if value is None else check_secret(value)


class BodyAdmin(BaseModel):
    """A body as administrators see it: everything but the webhook secret."""

    code: str
    name: str
    kind: str
    jurisdiction: list[JurisdictionPublic] = Field(
        description="Where the body may act; empty for everywhere."
    )
    notification_email: str
    webhook_url: str
    has_webhook_secret: bool
    active: bool
    reporter_may_exclude: bool
    named_to_reporter: bool


class BodySaved(BodyAdmin):
    generated_webhook_secret: str | None = Field(
        default=None,
        description="Only in the answer to the request that generated it; store it now.",
    )
