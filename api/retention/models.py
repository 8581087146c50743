"""What survives a purged case: counts, so that the dashboard's figures stay the same."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Index, String, UniqueConstraint, text
from sqlmodel import Field, SQLModel

# The dimensions of a count: a purge adds to the row of its dimensions, never a second one.
DIMENSIONS = ("port_id", "week", "kind", "category_id", "zone_id", "cargo_direction")
_NO_ZONE = text("zone_id IS NULL")


class PurgedCount(SQLModel, table=True):
    """Reports and cases of purged cases, per port, ISO week (its Monday, in UTC), kind,
    category, zone and cargo direction, as their case was classified.

    Reports count in the week they were received, cases in the week their case was;
    ``cases`` counts only cases that held a report, as the dashboard does. A case is purged
    only once its acknowledgement can be measured, so ``cases`` is also how many were
    measured, and ``cases_acknowledged_within_7_days`` how many of those were on time."""

    __tablename__ = "purged_count"
    __table_args__ = (
        UniqueConstraint(*DIMENSIONS, name="uq_purged_count_dimensions"),
        # NULLs are distinct in a unique key (both databases): counts of reports that
        # named no zone need a key of their own.
        Index(
            "uq_purged_count_dimensions_no_zone",
            *(name for name in DIMENSIONS if name != "zone_id"),
            unique=True,
            sqlite_where=_NO_ZONE,
            postgresql_where=_NO_ZONE,
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    port_id: int = Field(foreign_key="port.id")
    week: date
    kind: str = Field(sa_type=String(16))
    category_id: int = Field(foreign_key="category.id", index=True)
    zone_id: int | None = Field(default=None, foreign_key="zone.id", index=True)
    cargo_direction: str = Field(sa_type=String(16))
    reports: int = 0
    cases: int = 0
    cases_acknowledged_within_7_days: int = 0


class PurgedReceipt(SQLModel, table=True):
    """The receipt of a purged report, as its keyed lookup hash and nothing else (no time,
    no port): the reporter who comes back with it is told the report was deleted under the
    port's retention rules, rather than that the receipt is wrong."""

    __tablename__ = "purged_receipt"

    receipt_lookup: str = Field(sa_type=String(64), primary_key=True)


class PurgedReferral(SQLModel, table=True):
    """A purged referral's reference and the body it went to, nothing of its content and
    no time: the body's liaison officer sees it was deleted under retention."""

    __tablename__ = "purged_referral"

    reference: str = Field(sa_type=String(16), primary_key=True)
    body_id: int = Field(foreign_key="body.id", index=True)
