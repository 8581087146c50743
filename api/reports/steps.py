"""The steps of a report's handling that its reporter may know, each dated to the day: what
"What happened so far" lists. Each is recorded where it happens, in the same transaction;
nothing of the case's internal history (notes, assignees, the bodies' own steps) is."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import Session, col, select

from api.agencies.models import Body
from api.i18n import N_, translate
from api.reports.models import Report, ReportStep
from api.reports.schemas import TimelineEvent

RECEIVED = "received"
ACKNOWLEDGED = "acknowledged"
QUESTION = "question"
ANSWERED = "answered"
REFERRED = "referred"
OUTCOME = "outcome"
CLOSED = "closed"
REOPENED = "reopened"

LABELS: dict[str, str] = {
    RECEIVED: N_("Report received"),
    ACKNOWLEDGED: N_("The team acknowledged your report"),
    QUESTION: N_("You were asked a question"),
    ANSWERED: N_("You answered"),
    REFERRED: N_("Passed to a competent authority"),
    OUTCOME: N_("The authority gave its outcome"),
    CLOSED: N_("Closed"),
    REOPENED: N_("Reopened"),
}
# The same steps where the authority agreed to be named to reporters.
NAMED_LABELS: dict[str, str] = {
    REFERRED: N_("Passed to {authority}"),
    OUTCOME: N_("{authority} gave its outcome"),
}


def record(
    session: Session, report: Report, step: str, now: datetime, *, body_id: int | None = None
) -> None:
    """Add ``step`` to the reporter's timeline, dated by the UTC day of ``now``."""
    assert report.id is not None and step in LABELS
    session.add(
        ReportStep(report_id=report.id, step=step, day=now.astimezone(UTC).date(), body_id=body_id)
    )


def timeline(session: Session, report: Report, language: str) -> list[TimelineEvent]:
    """The report's steps in the order they happened, in ``language``. A body is named
    only where it agreed to be named to reporters."""
    rows = session.exec(
        select(ReportStep, Body)
        .outerjoin(Body, col(Body.id) == col(ReportStep.body_id))
        .where(ReportStep.report_id == report.id)
        .order_by(col(ReportStep.id))
    ).all()
    events = []
    for step, body in rows:
        if body is not None and body.named_to_reporter and step.step in NAMED_LABELS:
            label = translate(
                NAMED_LABELS[step.step], language, {"authority": translate(body.name, language)}
            )
        else:
            label = translate(LABELS[step.step], language)
        events.append(TimelineEvent(event=step.step, label=label, day=step.day))
    return events
