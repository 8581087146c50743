"""The triage dashboard: what came in, week by week, and how fast it was acknowledged.

Only the metadata kept in clear is read (dates, kind, category, port, zone, cargo
direction, status); what reporters wrote is sealed and never selected. The database
counts per hour of receipt (times are stored to the hour) and Python sorts the hours
into ISO weeks, so the same queries run on SQLite and PostgreSQL. Purged cases are gone
but their counts are kept per week (api/retention/models.py) and added in, so purging
changes no figure.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func
from sqlalchemy.orm import Mapped
from sqlmodel import Session, col, select

from api.cases.models import Case
from api.cases.schemas import CaseStatus
from api.dashboard.schemas import (
    Acknowledgement,
    AcknowledgementWeek,
    Breakdown,
    Dashboard,
    Series,
    Week,
    WeekCounts,
)
from api.errors import invalid_field
from api.i18n import N_
from api.policy import Permission
from api.ports import service as ports_service
from api.ports.models import Port, Zone
from api.reports.models import Report
from api.reports.schemas import CargoDirection, Kind
from api.retention.models import PurgedCount
from api.staff import service as staff_service
from api.staff.models import Staff
from api.staff.service import authorize
from api.taxonomy.models import Category

DEFAULT_WEEKS = 12
FEWEST_WEEKS = 1
MOST_WEEKS = 104
ACKNOWLEDGE_WITHIN = timedelta(days=7)
WEEKS_OUT_OF_RANGE = N_("Choose a number of weeks from {least} to {most}.")

KIND_LABELS: dict[str, str] = {Kind.integrity: N_("Integrity"), Kind.incident: N_("Incident")}
CARGO_LABELS: dict[str, str] = {
    CargoDirection.inbound: N_("Inbound"),
    CargoDirection.outbound: N_("Outbound"),
    CargoDirection.transhipment: N_("Transhipment"),
    CargoDirection.not_applicable: N_("No cargo or not sure"),
}
OPEN, CLOSED = "open", "closed"
STATUS_LABELS = {OPEN: N_("Open"), CLOSED: N_("Closed")}
NO_ZONE = "none"
NO_ZONE_LABEL = N_("No zone given")
UNKNOWN_LABEL = N_("Unknown")


@dataclass(frozen=True)
class Window:
    """Whole ISO weeks, in UTC, ending with the week of ``now``."""

    first_monday: date
    weeks: int

    @classmethod
    def ending(cls, now: datetime, weeks: int) -> Window:
        today = now.astimezone(UTC).date()
        this_monday = today - timedelta(days=today.weekday())
        return cls(this_monday - timedelta(weeks=weeks - 1), weeks)

    @property
    def starts_at(self) -> datetime:
        return datetime.combine(self.first_monday, time(), UTC)

    @property
    def ends_at(self) -> datetime:
        return self.starts_at + timedelta(weeks=self.weeks)

    def mondays(self) -> list[date]:
        return [self.first_monday + timedelta(weeks=index) for index in range(self.weeks)]

    def index_of(self, moment: datetime) -> int:
        return (moment.astimezone(UTC).date() - self.first_monday).days // 7


def week_code(monday: date) -> str:
    year, week, _day = monday.isocalendar()
    return f"{year}-W{week:02d}"


def dashboard(
    *,
    session: Session,
    actor: Staff,
    now: datetime,
    weeks: int = DEFAULT_WEEKS,
    port: str | None = None,
) -> Dashboard:
    """Reports and cases of the last ``weeks`` ISO weeks (this one included), optionally
    of one port only."""
    authorize(actor, Permission.triage)
    if not FEWEST_WEEKS <= weeks <= MOST_WEEKS:
        raise invalid_field("weeks", WEEKS_OUT_OF_RANGE, least=FEWEST_WEEKS, most=MOST_WEEKS)
    # The ports counted: the one asked for, else every port the triager sees (None: all).
    port_ids = staff_service.visible_ports(session=session, actor=actor)
    if port:
        found = ports_service.find_port(session=session, code=port)
        if found is None or found.id is None or (port_ids is not None and found.id not in port_ids):
            raise invalid_field("port", N_("There is no port with this code."))
        port_ids = frozenset({found.id})
    window = Window.ending(now, weeks)

    def reports_by(
        dimension: ColumnElement[Any], purged: Mapped[Any]
    ) -> list[tuple[datetime, Any, int]]:
        return _reports_per_hour(session, window, port_ids, dimension) + _purged_reports(
            session, window, port_ids, purged
        )

    by_kind = reports_by(func.coalesce(col(Case.kind), col(Report.kind)), col(PurgedCount.kind))
    by_category = reports_by(
        func.coalesce(col(Case.category_id), col(Report.category_id)),
        col(PurgedCount.category_id),
    )
    by_zone = reports_by(
        func.coalesce(col(Case.zone_id), col(Report.zone_id)), col(PurgedCount.zone_id)
    )
    by_cargo = reports_by(
        func.coalesce(col(Case.cargo_direction), col(Report.cargo_direction)),
        col(PurgedCount.cargo_direction),
    )
    categories = _category_series(session, {category_id for _h, category_id, _n in by_category})
    zones = _zone_series(session, {zone_id for _h, zone_id, _n in by_zone})
    cases = _cases(session, window, port_ids)
    purged_cases = _purged_cases(session, window, port_ids)

    return Dashboard(
        port=port or None,
        weeks=[Week(week=week_code(monday), starts_on=monday) for monday in window.mondays()],
        starts_at=window.starts_at,
        ends_at=window.ends_at,
        reports_received=sum(count for _hour, _kind, count in by_kind),
        reports_by_kind=_breakdown(window, _fixed_series(KIND_LABELS, by_kind), by_kind),
        reports_by_category=_breakdown(
            window,
            list(categories.values()),
            [(hour, categories[key].key, count) for hour, key, count in by_category],
        ),
        reports_by_zone=_breakdown(
            window,
            list(zones.values()),
            [(hour, zones[key].key, count) for hour, key, count in by_zone],
        ),
        reports_by_cargo_direction=_breakdown(
            window, _fixed_series(CARGO_LABELS, by_cargo), by_cargo
        ),
        cases_by_status=_breakdown(
            window,
            [Series(key=key, label=label) for key, label in STATUS_LABELS.items()],
            [
                (received, CLOSED if status == CaseStatus.closed else OPEN, 1)
                for received, status, _acknowledged in cases
            ]
            + [(week, CLOSED, count) for week, count, _on_time in purged_cases],
        ),
        cases_acknowledged_within_7_days=_acknowledgement(window, cases, purged_cases, now),
    )


def _breakdown(
    window: Window, series: Sequence[Series], hourly: Iterable[tuple[datetime, str, int]]
) -> Breakdown:
    """Counts per hour summed into the window's weeks, every key of ``series`` in each."""
    per_week = [dict.fromkeys((each.key for each in series), 0) for _week in range(window.weeks)]
    for hour, key, count in hourly:
        index = window.index_of(hour)
        if 0 <= index < window.weeks:
            per_week[index][key] = per_week[index].get(key, 0) + count
    return Breakdown(
        series=list(series),
        weeks=[
            WeekCounts(week=week_code(monday), counts=counts, total=sum(counts.values()))
            for monday, counts in zip(window.mondays(), per_week, strict=True)
        ],
        totals={each.key: sum(counts[each.key] for counts in per_week) for each in series},
    )


def _reports_per_hour(
    session: Session,
    window: Window,
    port_ids: frozenset[int] | None,
    dimension: ColumnElement[Any],
) -> list[tuple[datetime, Any, int]]:
    """Reports received in the window, counted per hour and per value of ``dimension``,
    read from the report's case (the report's own value if it has none)."""
    conditions: list[ColumnElement[bool]] = [
        col(Report.received_hour) >= window.starts_at,
        col(Report.received_hour) < window.ends_at,
    ]
    if port_ids is not None:
        conditions.append(func.coalesce(col(Case.port_id), col(Report.port_id)).in_(port_ids))
    query = (
        select(col(Report.received_hour), dimension, func.count())
        .select_from(Report)
        .outerjoin(Case, col(Case.id) == col(Report.case_id))
        .where(*conditions)
        .group_by(col(Report.received_hour), dimension)
    )
    return [(hour, value, count) for hour, value, count in session.exec(query)]


def _cases(
    session: Session, window: Window, port_ids: frozenset[int] | None
) -> list[tuple[datetime, str, datetime | None]]:
    """Cases received in the window that hold a report: a case emptied by linking its
    report into another one is not a case of its own any more."""
    holds_a_report = select(Report.id).where(col(Report.case_id) == col(Case.id)).exists()
    conditions: list[ColumnElement[bool]] = [
        col(Case.received_hour) >= window.starts_at,
        col(Case.received_hour) < window.ends_at,
        holds_a_report,
    ]
    if port_ids is not None:
        conditions.append(col(Case.port_id).in_(port_ids))
    query = select(Case.received_hour, Case.status, Case.acknowledged_at).where(*conditions)
    return [
        (received, status, acknowledged) for received, status, acknowledged in session.exec(query)
    ]


def _purged_conditions(
    window: Window, port_ids: frozenset[int] | None
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [
        col(PurgedCount.week) >= window.first_monday,
        col(PurgedCount.week) < window.first_monday + timedelta(weeks=window.weeks),
    ]
    if port_ids is not None:
        conditions.append(col(PurgedCount.port_id).in_(port_ids))
    return conditions


def _week_start(monday: date) -> datetime:
    return datetime.combine(monday, time(), UTC)


def _purged_reports(
    session: Session,
    window: Window,
    port_ids: frozenset[int] | None,
    dimension: Mapped[Any],
) -> list[tuple[datetime, Any, int]]:
    """Reports of purged cases in the window, per week (dated to its Monday: the window is
    whole weeks, so a week's reports fall in it or out of it together) and per value of
    ``dimension``, as their case was classified when it was purged."""
    query = (
        select(col(PurgedCount.week), dimension, func.sum(col(PurgedCount.reports)))
        .where(*_purged_conditions(window, port_ids), col(PurgedCount.reports) > 0)
        .group_by(col(PurgedCount.week), dimension)
    )
    return [(_week_start(week), value, int(count)) for week, value, count in session.exec(query)]


def _purged_cases(
    session: Session, window: Window, port_ids: frozenset[int] | None
) -> list[tuple[datetime, int, int]]:
    """Purged cases received in the window, per week: how many (all closed) and how many
    of them were acknowledged within 7 days (all were measurable when purged)."""
    query = (
        select(
            col(PurgedCount.week),
            func.sum(col(PurgedCount.cases)),
            func.sum(col(PurgedCount.cases_acknowledged_within_7_days)),
        )
        .where(*_purged_conditions(window, port_ids), col(PurgedCount.cases) > 0)
        .group_by(col(PurgedCount.week))
    )
    return [
        (_week_start(week), int(count), int(on_time))
        for week, count, on_time in session.exec(query)
    ]


def _fixed_series(
    labels: dict[str, str], hourly: Iterable[tuple[datetime, str, int]]
) -> list[Series]:
    """The known values in their order, then any other value found in the data."""
    known = [Series(key=str(key), label=label) for key, label in labels.items()]
    found = sorted({value for _hour, value, _count in hourly} - {each.key for each in known})
    return known + [Series(key=value, label=UNKNOWN_LABEL) for value in found]


def _category_series(session: Session, category_ids: set[Any]) -> dict[Any, Series]:
    """Categories found, in the order of the taxonomy: integrity first, then incidents."""
    kinds = list(KIND_LABELS)
    query = select(Category).where(col(Category.id).in_(category_ids))
    found = sorted(
        session.exec(query),
        key=lambda category: (
            kinds.index(category.kind) if category.kind in kinds else len(kinds),
            category.position,
            category.code,
        ),
    )
    return {
        category.id: Series(
            key=category.code, label=category.name, group=KIND_LABELS.get(category.kind)
        )
        for category in found
    }


def _zone_series(session: Session, zone_ids: set[Any]) -> dict[Any, Series]:
    """Zones found, port by port in the order of each port's list; no zone last."""
    query = (
        select(Zone, Port.code, Port.name)
        .join(Port, col(Port.id) == col(Zone.port_id))
        .where(col(Zone.id).in_(zone_ids - {None}))
        .order_by(col(Port.name), col(Zone.position), col(Zone.code))
    )
    series: dict[Any, Series] = {
        zone.id: Series(key=f"{port_code}/{zone.code}", label=zone.name, group=port_name)
        for zone, port_code, port_name in session.exec(query)
    }
    if None in zone_ids:
        series[None] = Series(key=NO_ZONE, label=NO_ZONE_LABEL)
    return series


def _acknowledgement(
    window: Window,
    cases: list[tuple[datetime, str, datetime | None]],
    purged_cases: list[tuple[datetime, int, int]],
    now: datetime,
) -> Acknowledgement:
    """Per week of receipt: how many cases were acknowledged within 7 days, out of those
    already measurable (acknowledged, or their 7 days are over)."""
    numerators, denominators, pending = [0] * window.weeks, [0] * window.weeks, [0] * window.weeks
    for week, count, on_time in purged_cases:
        index = window.index_of(week)
        if 0 <= index < window.weeks:
            denominators[index] += count
            numerators[index] += on_time
    for received, _status, acknowledged in cases:
        index = window.index_of(received)
        if not 0 <= index < window.weeks:
            continue
        if acknowledged is None and now < received + ACKNOWLEDGE_WITHIN:
            pending[index] += 1
            continue
        denominators[index] += 1
        if acknowledged is not None and acknowledged - received <= ACKNOWLEDGE_WITHIN:
            numerators[index] += 1
    return Acknowledgement(
        weeks=[
            AcknowledgementWeek(
                week=week_code(monday),
                numerator=numerators[index],
                denominator=denominators[index],
                pending=pending[index],
                share=_share(numerators[index], denominators[index]),
            )
            for index, monday in enumerate(window.mondays())
        ],
        numerator=sum(numerators),
        denominator=sum(denominators),
        pending=sum(pending),
        share=_share(sum(numerators), sum(denominators)),
    )


def _share(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


# CSV ---------------------------------------------------------------------------------------

CSV_COLUMNS = ("section", "week", "key", "value")
_BREAKDOWNS = (
    "reports_by_kind",
    "reports_by_category",
    "reports_by_zone",
    "reports_by_cargo_direction",
    "cases_by_status",
)


def csv_rows(figures: Dashboard) -> list[tuple[str, str, str, str]]:
    """The aggregate figures, one per row: every count of every week, then the
    acknowledgement's numerator, denominator, pending and share."""
    rows: list[tuple[str, str, str, str]] = []
    for section in _BREAKDOWNS:
        breakdown: Breakdown = getattr(figures, section)
        for week in breakdown.weeks:
            rows += [
                (section, week.week, series.key, str(week.counts[series.key]))
                for series in breakdown.series
            ]
    section = "cases_acknowledged_within_7_days"
    for acknowledged in figures.cases_acknowledged_within_7_days.weeks:
        rows += [
            (section, acknowledged.week, "numerator", str(acknowledged.numerator)),
            (section, acknowledged.week, "denominator", str(acknowledged.denominator)),
            (section, acknowledged.week, "pending", str(acknowledged.pending)),
        ]
        if acknowledged.share is not None:
            rows.append((section, acknowledged.week, "share", f"{acknowledged.share:.4f}"))
    return rows


def _cell(value: str) -> str:
    # Codes are typed by administrators; one a spreadsheet would run as a formula is
    # written as text.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def dashboard_csv(
    *,
    session: Session,
    actor: Staff,
    now: datetime,
    weeks: int = DEFAULT_WEEKS,
    port: str | None = None,
) -> tuple[str, str]:
    """The dashboard's figures as CSV, and a file name for them."""
    figures = dashboard(session=session, actor=actor, now=now, weeks=weeks, port=port)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    writer.writerows(tuple(_cell(value) for value in row) for row in csv_rows(figures))
    name = f"portline-dashboard-{figures.weeks[0].week}-{figures.weeks[-1].week}"
    if figures.port:
        # The port code is an administrator's text: only safe characters reach the header.
        name += "-" + re.sub(r"[^A-Za-z0-9_-]", "", figures.port)
    return buffer.getvalue(), f"{name}.csv"
