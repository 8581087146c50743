"""Demo data: two fictional ports (profile files under api/profiles/data/, with their
receiving bodies and routing rules) on top of the default taxonomy, demo staff and demo
reports.

Seeding is idempotent: the ports' profiles are imported (which changes nothing the second
time), the taxonomy and staff are added where missing. Nothing is committed: the caller
owns the transaction.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, SQLModel, func, select

from api.agencies.models import Body
from api.config import Settings
from api.crypto import KeyRing
from api.db import utcnow
from api.policy import Role
from api.ports.models import Port, Zone
from api.profiles.service import DEMO_PROFILES, import_profile, read_profile
from api.reports import service as reports_service
from api.reports.models import Report
from api.reports.schemas import CargoDirection, Kind, ReportCreate
from api.staff import passwords as staff_passwords
from api.staff import service as staff_service
from api.staff.models import Staff
from api.taxonomy.defaults import install_taxonomy
from api.taxonomy.models import Category
from api.taxonomy.schemas import CategoryKind
from api.triage import service as triage_service
from api.triage.schemas import CaseClose


@dataclass(frozen=True, slots=True)
class DemoSummary:
    """How many rows of each table exist after seeding (not only the demo's own)."""

    ports: int
    zones: int
    categories: int
    bodies: int


def _count(session: Session, table: type[SQLModel]) -> int:
    return session.exec(select(func.count()).select_from(table)).one()


def seed_demo(session: Session) -> DemoSummary:
    """The default taxonomy where missing, then the demo ports' profile files
    (api/profiles/data/), imported as any port's would be; the caller commits."""
    install_taxonomy(session)
    for path in DEMO_PROFILES:
        import_profile(session=session, keyring=None, profile=read_profile(path), now=utcnow())
    return DemoSummary(
        ports=_count(session, Port),
        zones=_count(session, Zone),
        categories=_count(session, Category),
        bodies=_count(session, Body),
    )


# Demo staff ---------------------------------------------------------------------------------

DEMO_STAFF: tuple[tuple[str, Role, str | None], ...] = (
    ("admin@demo.portline.test", Role.administrator, None),
    ("triage@demo.portline.test", Role.triager, None),
    ("police@demo.portline.test", Role.liaison, "police-port-unit"),
    ("auditor@demo.portline.test", Role.auditor, None),
)


@dataclass(frozen=True)
class DemoLogin:
    email: str
    role: str
    password: str
    totp_secret: str


def seed_demo_staff(session: Session, keyring: KeyRing, now: datetime) -> list[DemoLogin]:
    """One account per role with a fresh password and authenticator secret on every run
    (demo accounts only), so the console can be tried at once."""
    logins = []
    for email, role, body_code in DEMO_STAFF:
        staff = session.exec(select(Staff).where(Staff.email == email)).first()
        if staff is None:
            body = (
                session.exec(select(Body).where(Body.code == body_code)).first()
                if body_code
                else None
            )
            staff = staff_service.create_account(
                session=session,
                keyring=keyring,
                actor=None,
                email=email,
                role=role,
                display_name=f"Demo {role.value}",
                body_id=body.id if body else None,
                now=now,
            ).staff
        password = "-".join(secrets.choice(_DEMO_WORDS) for _ in range(4))
        staff.password_hash = staff_passwords.hash_password(password)
        staff.totp_enabled = False
        enrolment = staff_service.start_enrolment(session=session, keyring=keyring, staff=staff)
        staff.totp_enabled, staff.totp_last_step, staff.active = True, 0, True
        session.add(staff)
        logins.append(DemoLogin(email, role.value, password, enrolment.secret))
    session.flush()
    return logins


_DEMO_WORDS = (
    "anchor",
    "bollard",
    "crane",
    "dredger",
    "ferry",
    "gantry",
    "harbour",
    "jetty",
    "keel",
    "lighter",
    "mooring",
    "pilot",
    "quay",
    "reefer",
    "spreader",
    "tug",
)


# Demo reports -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoReport:
    days_ago: int
    kind: CategoryKind
    category: str
    port: str
    zone: str | None
    cargo_direction: str
    narrative: str
    language: str = "en"
    # Days after receipt when the demo triager acknowledged it, and closed it.
    acknowledged_after: int | None = None
    closed_after: int | None = None


# Fictional, in the shapes the practitioners' report describes: what a triager meets first.
DEMO_REPORTS: tuple[DemoReport, ...] = (
    DemoReport(
        1,
        "incident",
        "seal-tampering",
        "NHV",
        "ct-north",
        "inbound",
        "Two men cut the seal of container CSQU3054383 at night near the reefer plugs and "
        "fitted a new one. They came in a white van without the usual terminal pass.",
    ),
    DemoReport(
        3,
        "incident",
        "seal-tampering",
        "NHV",
        "ct-north",
        "inbound",
        "Same thing as last week: CSQU 305438 3 had its seal swapped again before customs "
        "came. The planner moved it to the back row on purpose.",
    ),
    DemoReport(
        9,
        "integrity",
        "bribery-port-staff",
        "NHV",
        "gate-main",
        "outbound",
        "Drivers pay the night clerk at lane 4 to skip the queue and the weight check. "
        "Everyone knows the price.",
        acknowledged_after=2,
    ),
    DemoReport(
        16,
        "integrity",
        "intimidation",
        "NHV",
        "quay",
        "not_applicable",
        "Lashers were told to look away from berth 7 on Thursdays or lose their shifts.",
        acknowledged_after=9,
    ),
    DemoReport(
        24,
        "incident",
        "cyber-incident",
        "NHV",
        "back-office",
        "not_applicable",
        "Un collègue a reçu un courriel lui demandant ses identifiants du système portuaire; "
        "le lien imitait la page de connexion.",
        "fr",
    ),
    DemoReport(
        38,
        "incident",
        "trespass",
        "KVL",
        "gate",
        "not_applicable",
        "The side gate by the bulk quay is left open after the evening shift; people walk in.",
        acknowledged_after=1,
        closed_after=12,
    ),
)


def seed_demo_reports(
    session: Session, keyring: KeyRing, settings: Settings, now: datetime
) -> list[tuple[str, str]]:
    """A few reports, once (only into a database without any), as if sent from phones over
    the last weeks; returns each one's reference and receipt code."""
    if _count(session, Report):
        return []
    # The demo is not a client that must pay for its reports with work.
    unguarded = settings.model_copy(update={"pow_difficulty": 0})
    receipts = []
    for demo in DEMO_REPORTS:
        sent_at = now - timedelta(days=demo.days_ago)
        receipt = reports_service.submit_report(
            session=session,
            keyring=keyring,
            settings=unguarded,
            report_in=ReportCreate(
                kind=Kind(demo.kind),
                category=demo.category,
                port=demo.port,
                zone=demo.zone,
                occurred_on=(sent_at - timedelta(days=1)).date(),
                cargo_direction=CargoDirection(demo.cargo_direction),
                narrative=demo.narrative,
                language=demo.language,
            ),
            files=[],
            now=sent_at,
        )
        receipts.append((receipt.reference, receipt.receipt))
        _work_on(session, keyring, demo, receipt.reference, sent_at)
    return receipts


def _work_on(
    session: Session, keyring: KeyRing, demo: DemoReport, reference: str, sent_at: datetime
) -> None:
    """What the demo triager already did, so the queue and the dashboard show some history."""
    if demo.acknowledged_after is None:
        return
    triager = session.exec(select(Staff).where(Staff.role == Role.triager)).first()
    report = reports_service.find_by_reference(session=session, reference=reference)
    if triager is None or report is None or report.case_id is None:
        return
    triage_service.acknowledge(
        session=session,
        keyring=keyring,
        actor=triager,
        case_id=report.case_id,
        now=sent_at + timedelta(days=demo.acknowledged_after),
    )
    if demo.closed_after is not None:
        triage_service.close(
            session=session,
            keyring=keyring,
            actor=triager,
            case_id=report.case_id,
            closing=CaseClose(
                resolution="substantiated",
                outcome="Thank you. The gate is now locked after every shift.",
            ),
            now=sent_at + timedelta(days=demo.closed_after),
        )
