"""Receiving bodies, where each may act (its jurisdiction), and the rules that recommend
which bodies a case should reach."""

from __future__ import annotations

from sqlalchemy import JSON, LargeBinary, String
from sqlmodel import Field, SQLModel

from api.i18n import N_

# The kinds of receiving body, and the name each is shown by (a catalog msgid): the one list
# the API's schema, the console's forms and the demo read.
BODY_KINDS: dict[str, str] = {
    "port_authority": N_("Port authority"),
    "police": N_("Police"),
    "customs": N_("Customs"),
    "border_force": N_("Border force"),
    "coast_guard": N_("Coast guard"),
    "anti_corruption": N_("Anti-corruption unit"),
    "csirt": N_("CSIRT (cyber response)"),
    "labour_inspectorate": N_("Labour inspectorate"),
    "terminal_security": N_("Terminal security"),
    "prosecutor": N_("Prosecutor"),
    "other": N_("Other"),
}


class Body(SQLModel, table=True):
    """A receiving organisation (port authority, police, customs, ...)."""

    __tablename__ = "body"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(sa_type=String(48), unique=True)
    name: str = Field(sa_type=String(160))
    # The name in each language it was written in: reporters read it when they exclude it.
    names: dict[str, str] = Field(default_factory=dict, sa_type=JSON)
    kind: str = Field(sa_type=String(32))
    reporter_may_exclude: bool = True
    active: bool = True
    # Where notices of new referrals go: an e-mail (no case content, a link only) and a
    # webhook that receives the referral itself, signed with the body's secret.
    notification_email: str = Field(sa_type=String(254), default="")
    webhook_url: str = Field(sa_type=String(500), default="")
    # The webhook secret, sealed under its own data key (wrapped by the key file's key).
    webhook_wrapped_key: bytes | None = Field(default=None, sa_type=LargeBinary)
    webhook_secret_sealed: bytes | None = Field(default=None, sa_type=LargeBinary)
    # Whether the reporter's status page may name this body once a case is referred to it.
    named_to_reporter: bool = False


class BodyJurisdiction(SQLModel, table=True):
    """A port (all of it, ``zone_id`` null) or one zone where the body may act."""

    __tablename__ = "body_jurisdiction"

    id: int | None = Field(default=None, primary_key=True)
    body_id: int = Field(foreign_key="body.id", index=True, ondelete="CASCADE")
    port_id: int = Field(foreign_key="port.id")
    zone_id: int | None = Field(default=None, foreign_key="zone.id")


class RoutingRule(SQLModel, table=True):
    """When a case matches every condition that is set, ``body_id`` is recommended.

    Rules are read in ``position`` order (then id); a condition left empty matches anything."""

    __tablename__ = "routing_rule"
    id: int | None = Field(default=None, primary_key=True)
    position: int
    name: str = Field(sa_type=String(160))
    body_id: int = Field(foreign_key="body.id", index=True)
    kind: str | None = Field(default=None, sa_type=String(16))
    category_id: int | None = Field(default=None, foreign_key="category.id")
    port_id: int | None = Field(default=None, foreign_key="port.id")
    zone_id: int | None = Field(default=None, foreign_key="zone.id")
    min_severity: int | None = None
    active: bool = True
