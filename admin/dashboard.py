"""The triage dashboard: reports and cases week by week, drawn as SVG on the server.

Each chart is plain geometry computed here and drawn by the template: no script, no
inline style (the page's CSP forbids both); colours come from classes in console.css.
Every chart has a title, a description and a table with its numbers."""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass, field
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from admin.shell import (
    LOCALE_DIR,
    PREFIX,
    ConsoleRoute,
    Problems,
    Triager,
    clip,
    console_language,
    render,
)
from api.dashboard import service as dashboard_service
from api.dashboard.schemas import Acknowledgement, Breakdown, Dashboard, Series
from api.deps import Now, SessionDep
from api.errors import Invalid, invalid_field
from api.ports import service as ports_service
from api.web import Gettext, gettext_for

DASHBOARD_URL = f"{PREFIX}/dashboard"
CSV_URL = f"{PREFIX}/dashboard.csv"

router = APIRouter(route_class=ConsoleRoute)

# The drawing's own units. The SVG scales to the width of its card, so the text scales
# with it: a narrow drawing keeps the labels legible on a phone.
WIDTH = 340
COLUMNS_HEIGHT = 200
PLOT_LEFT, PLOT_RIGHT, PLOT_TOP, PLOT_BOTTOM = 34, 336, 8, 176
ZERO_SHARE_HEIGHT = 2.0  # a measured 0 % is a sliver on the axis, not nothing
AXIS_LABELS_Y = 194
MOST_AXIS_LABELS = 6
# Rows: a label of one or more lines above each bar.
LINE_HEIGHT, BAR_HEIGHT, ROW_GAP = 17, 14, 12
LINE_LENGTH = 44  # characters of a label line that fit the width at the size of the text
# Cargo charts compare inbound, outbound and transhipment; reports about no cargo are
# in the table only, or they would dwarf the rest.
CARGO_CHARTED = ("inbound", "outbound", "transhipment")


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    css: str
    week: str
    label: str
    value: int
    # A share's bar also carries what it is a share of.
    of: int = 0


@dataclass(frozen=True)
class Tick:
    y: float
    text: str


@dataclass(frozen=True)
class AxisLabel:
    x: float
    text: str


@dataclass(frozen=True)
class ColumnChart:
    """Weeks along the bottom, a column per week (stacked when there are several series)."""

    series: list[tuple[Series, str]]
    bars: list[Bar]
    ticks: list[Tick]
    labels: list[AxisLabel]
    # Weeks with nothing to measure, marked apart from a measured 0 (a share's chart).
    gaps: list[AxisLabel] = field(default_factory=list)
    width: int = WIDTH
    height: int = COLUMNS_HEIGHT
    plot_left: int = PLOT_LEFT
    plot_right: int = PLOT_RIGHT
    labels_y: int = AXIS_LABELS_Y


@dataclass(frozen=True)
class Row:
    lines: list[tuple[float, str]]
    value: int
    bar_y: float
    width: float


@dataclass(frozen=True)
class RowChart:
    """One bar per key, its length the key's count over the window."""

    rows: list[Row]
    height: float
    width: int = WIDTH


def _step(largest: int) -> int:
    """A round step (1, 2, 5, 10, 20, ...) giving at most four intervals up to ``largest``."""
    magnitude = 1
    while True:
        for step in (magnitude, 2 * magnitude, 5 * magnitude):
            if math.ceil(largest / step) <= 4:
                return step
        magnitude *= 10


def _axis_labels(weeks: list[str]) -> list[AxisLabel]:
    slot = (PLOT_RIGHT - PLOT_LEFT) / len(weeks)
    every = math.ceil(len(weeks) / MOST_AXIS_LABELS)
    # The latest week is always labelled: counting back from it.
    return [
        AxisLabel(round(PLOT_LEFT + slot * (index + 0.5), 2), week.split("-")[1])
        for index, week in enumerate(weeks)
        if (len(weeks) - 1 - index) % every == 0
    ]


def columns(breakdown: Breakdown, keys: tuple[str, ...] | None = None) -> ColumnChart:
    series = [each for each in breakdown.series if keys is None or each.key in keys]
    styled = [(each, f"series-{index % 4}") for index, each in enumerate(series)]
    heights = [sum(week.counts[each.key] for each in series) for week in breakdown.weeks]
    step = _step(max([*heights, 1]))
    top = step * math.ceil(max([*heights, 1]) / step)
    scale = (PLOT_BOTTOM - PLOT_TOP) / top
    slot = (PLOT_RIGHT - PLOT_LEFT) / len(breakdown.weeks)
    bars: list[Bar] = []
    for index, week in enumerate(breakdown.weeks):
        base = float(PLOT_BOTTOM)
        for each, css in styled:
            value = week.counts[each.key]
            if value:
                height = value * scale
                base -= height
                bars.append(
                    Bar(
                        x=round(PLOT_LEFT + slot * index + slot * 0.15, 2),
                        y=round(base, 2),
                        width=round(slot * 0.7, 2),
                        height=round(height, 2),
                        css=css,
                        week=week.week,
                        label=each.label,
                        value=value,
                    )
                )
    ticks = [
        Tick(round(PLOT_BOTTOM - value * scale, 2), str(value)) for value in range(0, top + 1, step)
    ]
    return ColumnChart(styled, bars, ticks, _axis_labels([week.week for week in breakdown.weeks]))


def shares(acknowledgement: Acknowledgement) -> ColumnChart:
    """The share acknowledged within 7 days, per week. A measured 0 % still shows a sliver
    of a column; a week with nothing to measure has none, and a dash instead."""
    scale = (PLOT_BOTTOM - PLOT_TOP) / 100
    slot = (PLOT_RIGHT - PLOT_LEFT) / len(acknowledgement.weeks)
    heights = {
        index: max(week.share * 100 * scale, ZERO_SHARE_HEIGHT)
        for index, week in enumerate(acknowledgement.weeks)
        if week.share is not None
    }
    bars = [
        Bar(
            x=round(PLOT_LEFT + slot * index + slot * 0.15, 2),
            y=round(PLOT_BOTTOM - heights[index], 2),
            width=round(slot * 0.7, 2),
            height=round(heights[index], 2),
            css="series-2",
            week=week.week,
            label="",
            value=week.numerator,
            of=week.denominator,
        )
        for index, week in enumerate(acknowledgement.weeks)
        if week.share is not None
    ]
    ticks = [Tick(round(PLOT_BOTTOM - value * scale, 2), f"{value}%") for value in (0, 50, 100)]
    gaps = [
        AxisLabel(round(PLOT_LEFT + slot * index + slot / 2, 2), week.week)
        for index, week in enumerate(acknowledgement.weeks)
        if week.share is None
    ]
    return ColumnChart(
        [], bars, ticks, _axis_labels([week.week for week in acknowledgement.weeks]), gaps
    )


def rows(breakdown: Breakdown, gettext: Gettext, *, with_group: bool = True) -> RowChart:
    """Labels are translated here, not in the template: their length decides where they
    wrap, and so where each bar goes."""
    counted = [each for each in breakdown.series if breakdown.totals[each.key]]
    largest = max([breakdown.totals[each.key] for each in counted] + [1])
    longest = WIDTH - 40  # room for the count after the longest bar
    drawn: list[Row] = []
    top = 0.0
    for each in counted:
        label = gettext(each.label)
        if with_group and each.group:
            label = f"{label} · {gettext(each.group)}"
        lines = textwrap.wrap(label, LINE_LENGTH) or [""]
        drawn.append(
            Row(
                lines=[
                    (top + LINE_HEIGHT * (number + 1) - 4, line)
                    for number, line in enumerate(lines)
                ],
                value=breakdown.totals[each.key],
                bar_y=top + LINE_HEIGHT * len(lines),
                width=max(round(longest * breakdown.totals[each.key] / largest, 2), 2),
            )
        )
        top += LINE_HEIGHT * len(lines) + BAR_HEIGHT + ROW_GAP
    return RowChart(drawn, height=max(top - ROW_GAP, LINE_HEIGHT))


def _weeks_of(text: str) -> int:
    """The number of weeks typed in the form; anything else is refused as out of range."""
    if not text:
        return dashboard_service.DEFAULT_WEEKS
    if not (text.isascii() and text.isdigit() and len(text) <= 3):
        raise invalid_field(
            "weeks",
            dashboard_service.WEEKS_OUT_OF_RANGE,
            least=dashboard_service.FEWEST_WEEKS,
            most=dashboard_service.MOST_WEEKS,
        )
    return int(text)


def _charts(figures: Dashboard, gettext: Gettext) -> dict[str, object]:
    return {
        "kind": columns(figures.reports_by_kind),
        "category": rows(figures.reports_by_category, gettext),
        "zone": rows(figures.reports_by_zone, gettext, with_group=figures.port is None),
        "cargo": columns(figures.reports_by_cargo_direction, CARGO_CHARTED),
        "status": columns(figures.cases_by_status),
        "acknowledged": shares(figures.cases_acknowledged_within_7_days),
    }


@router.get(DASHBOARD_URL)
def dashboard_page(
    request: Request,
    session: SessionDep,
    staff: Triager,
    now: Now,
    weeks: str = "",
    port: str = "",
) -> Response:
    values = {"weeks": clip(weeks.strip(), 8), "port": clip(port.strip(), 16)}
    query = {name: value for name, value in values.items() if value}
    context: dict[str, object] = {
        "values": values,
        "default_weeks": dashboard_service.DEFAULT_WEEKS,
        "fewest_weeks": dashboard_service.FEWEST_WEEKS,
        "most_weeks": dashboard_service.MOST_WEEKS,
        "ports": ports_service.ports_for(session=session, actor=staff),
        "csv_url": f"{CSV_URL}?{urlencode(query)}" if query else CSV_URL,
        "filtered": bool(query),
        "figures": None,
        "charts": {},
    }
    try:
        figures = dashboard_service.dashboard(
            session=session,
            actor=staff,
            now=now,
            weeks=_weeks_of(values["weeks"]),
            port=values["port"] or None,
        )
    except Invalid as error:
        return render(
            request,
            "dashboard.html",
            {**context, "problems": Problems.of(error)},
            staff=staff,
            status_code=422,
        )
    gettext = gettext_for(console_language(request), LOCALE_DIR)
    context.update(figures=figures, charts=_charts(figures, gettext))
    return render(request, "dashboard.html", context, staff=staff)


@router.get(CSV_URL)
def dashboard_csv(
    session: SessionDep, staff: Triager, now: Now, weeks: str = "", port: str = ""
) -> Response:
    content, filename = dashboard_service.dashboard_csv(
        session=session,
        actor=staff,
        now=now,
        weeks=_weeks_of(clip(weeks.strip(), 8)),
        port=clip(port.strip(), 16) or None,
    )
    return Response(
        content,
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{filename}"'},
    )
