"""The triage dashboard: counts only, never a word of what a reporter wrote."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field


class Week(BaseModel):
    week: str = Field(description="ISO week, for example 2025-W07.", examples=["2025-W07"])
    starts_on: date = Field(description="Its Monday; weeks run Monday to Sunday in UTC.")


class Series(BaseModel):
    """One thing counted: a kind, a category, a zone, a cargo direction or a status."""

    key: str = Field(
        description='A stable code: a category code, "PORT/zone" for a zone ("none" when '
        "the reporter named none), or a kind, cargo direction or status."
    )
    label: str = Field(description="Its English name.")
    group: str | None = Field(
        default=None, description="What it belongs to: a category's kind, a zone's port name."
    )


class WeekCounts(BaseModel):
    week: str
    counts: dict[str, int] = Field(description="A count for every key of the breakdown.")
    total: int


class Breakdown(BaseModel):
    series: list[Series] = Field(description="The keys counted, in the order to show them.")
    weeks: list[WeekCounts] = Field(description="One entry per week of the window, oldest first.")
    totals: dict[str, int] = Field(description="Each key's count over the whole window.")


class AcknowledgementWeek(BaseModel):
    week: str
    numerator: int = Field(description="Cases acknowledged within 7 days of receipt.")
    denominator: int = Field(
        description="Cases whose 7 days are over or that were acknowledged: those measured."
    )
    pending: int = Field(description="Cases not yet acknowledged whose 7 days are not over.")
    share: float | None = Field(
        description="numerator / denominator; null when nothing to measure."
    )


class Acknowledgement(BaseModel):
    weeks: list[AcknowledgementWeek] = Field(description="By week of receipt, oldest first.")
    numerator: int
    denominator: int
    pending: int
    share: float | None


class Dashboard(BaseModel):
    """Reports are counted by the week they were received, as their case is classified
    (the reporter's choice until triage corrects it); cases by the week they were
    received. Cases emptied by linking their report into another case are left out."""

    port: str | None = Field(description="The port code the figures are limited to, if any.")
    weeks: list[Week]
    starts_at: datetime = Field(description="Start of the window (included).")
    ends_at: datetime = Field(description="End of the window (excluded).")
    reports_received: int
    reports_by_kind: Breakdown
    reports_by_category: Breakdown
    reports_by_zone: Breakdown
    reports_by_cargo_direction: Breakdown
    cases_by_status: Breakdown = Field(
        description="Cases received each week that are open or closed now."
    )
    cases_acknowledged_within_7_days: Acknowledgement
