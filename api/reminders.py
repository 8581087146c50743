"""Reminders before deadlines: the working day before a deadline and once it has passed,
a content-free e-mail (the reference, the deadline, a link) to whoever must act.

- A case's next deadline (``Case.due_at``: acknowledging the reporter, then giving them
  feedback) goes to the triager it is assigned to, else to its port's triage address.
- A referral's acknowledgement deadline goes to the body (its notification address).

A recurring sweep (:data:`SWEEP`) queues one :data:`SEND` job per deadline and stage
("before", "overdue"), keyed by the deadline itself: once per deadline however many
sweeps and workers see it, and a deadline that moves is a new one. The job looks again
before sending: nothing goes for a closed case, a met deadline or one that moved.

"The working day before" is the last Monday-to-Friday day before the deadline's day, in
the port's time zone, from midnight there.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from api.agencies.models import Body
from api.cases.models import Case
from api.config import Settings
from api.i18n import DEFAULT_LANGUAGE, N_, translate
from api.jobs import service as jobs
from api.jobs.models import Job
from api.jobs.service import JobRun, case_subject
from api.ports.models import Port
from api.referrals import outbox
from api.referrals.models import Referral
from api.staff.models import Staff

SWEEP = "reminders.sweep"
SEND = "reminders.send"
BEFORE, OVERDUE = "before", "overdue"
# Deadlines looked at per sweep, the soonest first; the next sweep takes the rest.
SWEEP_BATCH = 2000
# A deadline's working day before is at most four days before it (a Monday's: Friday).
_LOOKAHEAD = timedelta(days=4)

SUBJECTS: dict[tuple[str, str], str] = {
    ("acknowledge", BEFORE): N_("Portline: case {reference} is to be acknowledged by {due}"),
    ("acknowledge", OVERDUE): N_("Portline: case {reference} was to be acknowledged by {due}"),
    ("feedback", BEFORE): N_("Portline: the reporter of case {reference} awaits feedback by {due}"),
    ("feedback", OVERDUE): N_("Portline: the feedback on case {reference} was due by {due}"),
    ("referral", BEFORE): N_("Portline: referral {reference} is to be acknowledged by {due}"),
    ("referral", OVERDUE): N_("Portline: referral {reference} was to be acknowledged by {due}"),
}
NO_CONTENT = N_("This reminder carries no case content: sign in to Portline to read it: {link}")


def working_day_before(due: datetime, timezone: str) -> datetime:
    """Midnight, in ``timezone``, of the last weekday before the deadline's day."""
    zone = ZoneInfo(timezone)
    day = due.astimezone(zone).date() - timedelta(days=1)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return datetime.combine(day, time(), zone).astimezone(UTC)


def stage_at(due: datetime, timezone: str, now: datetime) -> str | None:
    if now >= due:
        return OVERDUE
    if now >= working_day_before(due, timezone):
        return BEFORE
    return None


@dataclass(frozen=True)
class Deadline:
    what: str  # "acknowledge", "feedback" or "referral"
    object_id: int
    case_id: int
    due: datetime
    timezone: str


def _deadlines(session: Session, now: datetime) -> list[Deadline]:
    horizon = now + _LOOKAHEAD
    found: list[Deadline] = []
    cases = session.exec(
        select(Case, Port.timezone)
        .join(Port, col(Port.id) == col(Case.port_id))
        .where(col(Case.due_at).is_not(None), col(Case.due_at) <= horizon)
        .order_by(col(Case.due_at))
        .limit(SWEEP_BATCH)
    ).all()
    for case, timezone in cases:
        assert case.id is not None and case.due_at is not None
        what = "feedback" if case.acknowledged_at else "acknowledge"
        found.append(Deadline(what, case.id, case.id, case.due_at, timezone))
    referrals = session.exec(
        select(Referral, Port.timezone)
        .join(Case, col(Case.id) == col(Referral.case_id))
        .join(Port, col(Port.id) == col(Case.port_id))
        .where(
            Referral.status == "sent",
            col(Referral.acknowledged_at).is_(None),
            col(Referral.acknowledge_due) <= horizon,
            col(Case.closed_at).is_(None),
        )
        .order_by(col(Referral.acknowledge_due))
        .limit(SWEEP_BATCH)
    ).all()
    for referral, timezone in referrals:
        assert referral.id is not None
        found.append(
            Deadline("referral", referral.id, referral.case_id, referral.acknowledge_due, timezone)
        )
    return found


def sweep(run: JobRun, _job: Job) -> None:
    """Queue the reminder of every deadline whose working day before has come or that has
    passed, once per deadline and stage."""
    for deadline in _deadlines(run.session, run.now):
        stage = stage_at(deadline.due, deadline.timezone, run.now)
        if stage is None:
            continue
        jobs.enqueue(
            session=run.session,
            kind=SEND,
            once_key=f"{SEND}:{deadline.what}:{deadline.object_id}:"
            f"{deadline.due.isoformat()}:{stage}",
            run_at=run.now,
            now=run.now,
            payload={
                "what": deadline.what,
                "id": deadline.object_id,
                "due": deadline.due.isoformat(),
                "stage": stage,
            },
            subject=case_subject(deadline.case_id),
        )


def _still_due(
    session: Session, what: str, object_id: int, due: datetime
) -> tuple[str, str, str] | None:
    """(recipient, reference, console path) when the deadline is still there and unmet."""
    if what == "referral":
        referral = session.get(Referral, object_id)
        case = session.get(Case, referral.case_id) if referral else None
        body = session.get(Body, referral.body_id) if referral else None
        if (
            referral is None
            or case is None
            or body is None
            or case.closed_at is not None
            or referral.status != "sent"
            or referral.acknowledged_at is not None
            or referral.acknowledge_due != due
            or not body.notification_email
        ):
            return None
        return body.notification_email, referral.reference, f"/admin/referrals/{referral.reference}"
    case = session.get(Case, object_id)
    if case is None or case.closed_at is not None or case.due_at != due:
        return None
    if (what == "feedback") != (case.acknowledged_at is not None):
        return None
    path = f"/admin/cases/{case.id}"
    assignee = session.get(Staff, case.assignee_id) if case.assignee_id else None
    if assignee is not None and assignee.active:
        return assignee.email, case.reference, path
    port = session.get(Port, case.port_id)
    return (port.triage_email, case.reference, path) if port and port.triage_email else None


def reminder_email(
    settings: Settings,
    recipient: str,
    subject: tuple[str, str],
    reference: str,
    due: datetime,
    path: str,
    key: str,
) -> EmailMessage:
    language = DEFAULT_LANGUAGE
    link = f"{settings.public_url}{path}"
    shown = due.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = recipient
    message["Subject"] = translate(
        SUBJECTS[subject], language, {"reference": reference, "due": shown}
    )
    message["Date"] = format_datetime(datetime.now(UTC))
    # The same reminder sent twice (a worker killed after sending) keeps its Message-ID.
    domain = settings.mail_from.rpartition("@")[2]
    message["Message-ID"] = f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@{domain}>"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(translate(NO_CONTENT, language, {"link": link}) + "\n")
    return message


def send(run: JobRun, job: Job) -> None:
    """Send one reminder if its deadline is still unmet; raises ``DeliveryFailed`` for the
    worker to try again with backoff. The transaction that read the deadline ends before
    the mail server is called, so no lock is held meanwhile."""
    payload = job.payload
    due = datetime.fromisoformat(str(payload["due"]))
    found = _still_due(run.session, str(payload["what"]), int(payload["id"]), due)
    run.session.commit()
    if found is None:
        return
    recipient, reference, path = found
    message = reminder_email(
        run.settings,
        recipient,
        (str(payload["what"]), str(payload["stage"])),
        reference,
        due,
        path,
        job.once_key,
    )
    outbox.send_email(message, run.settings)
