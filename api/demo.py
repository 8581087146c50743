"""Demo data: two fictional ports, the receiving bodies and the routing rules that recommend
them, on top of the default taxonomy (api/taxonomy/defaults.py).

Seeding is idempotent: rows are looked up by code (zones by port and code, emergency numbers
by port and number) and only the missing ones are inserted. Rows that already exist are left
as they are, because an administrator may have edited them. Nothing is committed: the caller
owns the transaction.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlmodel import Session, SQLModel, func, select

from api.agencies.models import Body, BodyJurisdiction, RoutingRule
from api.config import Settings
from api.crypto import KeyRing
from api.i18n import N_
from api.policy import Role
from api.ports.models import EmergencyNumber, Port, Zone
from api.reports import service as reports_service
from api.reports.models import Report
from api.reports.schemas import CargoDirection, Kind, ReportCreate
from api.staff import passwords as staff_passwords
from api.staff import service as staff_service
from api.staff.models import Staff
from api.taxonomy.defaults import CategoryKind, install_taxonomy
from api.taxonomy.models import Category
from api.triage import service as triage_service
from api.triage.schemas import CaseClose

ZoneKind = Literal[
    "container_terminal",
    "gate",
    "berth",
    "back_office",
    "anchorage",
    "port_city",
    "warehouse",
    "ferry_terminal",
    "other",
]


@dataclass(frozen=True, slots=True)
class ZoneSeed:
    code: str
    name: str
    kind: ZoneKind


@dataclass(frozen=True, slots=True)
class EmergencyNumberSeed:
    label: str
    number: str


@dataclass(frozen=True, slots=True)
class PortSeed:
    code: str
    name: str
    country: str
    timezone: str
    zones: tuple[ZoneSeed, ...]
    emergency_numbers: tuple[EmergencyNumberSeed, ...]


@dataclass(frozen=True, slots=True)
class BodySeed:
    code: str
    name: str
    kind: str  # one of api.agencies.models.BODY_KINDS
    reporter_may_exclude: bool

    @property
    def notification_email(self) -> str:
        return f"{self.code}@demo.portline.test"


@dataclass(frozen=True, slots=True)
class DemoSummary:
    """How many rows of each table exist after seeding (not only the demo's own)."""

    ports: int
    zones: int
    categories: int
    bodies: int


# Fictional ports. The subscriber part of each local number starts with 0, which the Dutch
# numbering plan never assigns, so no real line is ever called from the demo.
PORTS: tuple[PortSeed, ...] = (
    PortSeed(
        code="NHV",
        name=N_("Port of Norderhaven"),
        country="NL",
        timezone="Europe/Amsterdam",
        zones=(
            ZoneSeed("ct-north", N_("Container terminal North"), "container_terminal"),
            ZoneSeed("ct-south", N_("Container terminal South"), "container_terminal"),
            ZoneSeed("gate-main", N_("Main truck gate"), "gate"),
            ZoneSeed("gate-rail", N_("Rail gate and rail yard"), "gate"),
            ZoneSeed("quay", N_("Berths and quays"), "berth"),
            ZoneSeed("warehouses", N_("Warehouses and distribution park"), "warehouse"),
            ZoneSeed(
                "back-office",
                N_("Back office (port community system, shipping agents' offices)"),
                "back_office",
            ),
            ZoneSeed("anchorage", N_("Anchorage and approach channel"), "anchorage"),
            ZoneSeed("ferry", N_("Ferry and ro-ro terminal"), "ferry_terminal"),
            ZoneSeed("port-city", N_("Port city (streets and bars around the port)"), "port_city"),
            ZoneSeed("other", N_("Somewhere else in the port"), "other"),
        ),
        emergency_numbers=(
            EmergencyNumberSeed(N_("Emergency (police, fire, ambulance)"), "112"),
            EmergencyNumberSeed(N_("Harbour master – port control (VHF 14)"), "+31 59 000 1400"),
            EmergencyNumberSeed(N_("Port security control room (24/7)"), "+31 59 000 2424"),
        ),
    ),
    PortSeed(
        code="KVL",
        name=N_("Kaldervliet Ferry and Bulk Port"),
        country="NL",
        timezone="Europe/Amsterdam",
        zones=(
            ZoneSeed("ferry", N_("Ferry terminal"), "ferry_terminal"),
            ZoneSeed("bulk-quay", N_("Bulk quay"), "berth"),
            ZoneSeed("gate", N_("Port gate"), "gate"),
            ZoneSeed("port-town", N_("Harbour town"), "port_city"),
        ),
        emergency_numbers=(
            EmergencyNumberSeed(N_("Emergency (police, fire, ambulance)"), "112"),
            EmergencyNumberSeed(N_("Harbour master – port control (VHF 12)"), "+31 51 000 1200"),
            EmergencyNumberSeed(N_("Port security (24/7)"), "+31 51 000 2400"),
        ),
    ),
)

# Any body can harbour the insider a report is about, so a reporter may exclude every body
# that acts on people, the anti-corruption office included: it is the reporter's call, and
# triage can still ask them through the case. Only the CSIRT, which handles systems, is not
# offered, to keep the list short on a phone.
BODIES: tuple[BodySeed, ...] = (
    BodySeed(
        "port-authority",
        N_("Norderhaven Port Authority – harbour master's security office"),
        "port_authority",
        True,
    ),
    BodySeed("police-port-unit", N_("Regional police – port unit"), "police", True),
    BodySeed("customs", N_("Customs"), "customs", True),
    BodySeed("border-force", N_("Border force"), "border_force", True),
    BodySeed("coast-guard", N_("Coast guard"), "coast_guard", True),
    BodySeed("anti-corruption", N_("National anti-corruption office"), "anti_corruption", True),
    BodySeed("csirt", N_("National CSIRT – port cyber response team"), "csirt", False),
    BodySeed("labour-inspectorate", N_("Labour inspectorate"), "labour_inspectorate", True),
    BodySeed(
        "terminal-security",
        N_("Terminal security (joint security of the terminal operators)"),
        "terminal_security",
        True,
    ),
    BodySeed("prosecutor", N_("Public prosecutor's office"), "prosecutor", True),
)


def _seed_ports(session: Session) -> None:
    ports = {port.code: port for port in session.exec(select(Port))}
    for seed in PORTS:
        if seed.code not in ports:
            ports[seed.code] = Port(
                code=seed.code, name=seed.name, country=seed.country, timezone=seed.timezone
            )
            session.add(ports[seed.code])
    session.flush()

    zones = {(zone.port_id, zone.code) for zone in session.exec(select(Zone))}
    numbers = {(number.port_id, number.number) for number in session.exec(select(EmergencyNumber))}
    for seed in PORTS:
        port_id = ports[seed.code].id
        if port_id is None:  # flushed above, so the database has given it an id
            raise RuntimeError(f"port {seed.code} has no id after flush")
        for position, zone in enumerate(seed.zones, start=1):
            if (port_id, zone.code) not in zones:
                session.add(
                    Zone(
                        port_id=port_id,
                        code=zone.code,
                        name=zone.name,
                        kind=zone.kind,
                        position=position,
                    )
                )
        for position, number in enumerate(seed.emergency_numbers, start=1):
            if (port_id, number.number) not in numbers:
                session.add(
                    EmergencyNumber(
                        port_id=port_id, label=number.label, number=number.number, position=position
                    )
                )
    session.flush()


def _seed_bodies(session: Session) -> None:
    existing = set(session.exec(select(Body.code)).all())
    for seed in BODIES:
        if seed.code not in existing:
            session.add(
                Body(
                    code=seed.code,
                    name=seed.name,
                    kind=seed.kind,
                    reporter_may_exclude=seed.reporter_may_exclude,
                    notification_email=seed.notification_email,
                )
            )
    session.flush()


# Demo routing rules -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RuleSeed:
    """Recommend each of ``bodies`` for cases of ``category`` (in ``port`` only, when set;
    at ``min_severity`` or more, when set)."""

    category: str
    bodies: tuple[str, ...]
    name: str
    min_severity: int | None = None
    port: str | None = None


# Where a body acts only in part of the demo: the Norderhaven port authority and the terminal
# operators' joint security act in Norderhaven only. Every other body is national or
# regional and acts everywhere (no rows).
JURISDICTIONS: dict[str, tuple[str, ...]] = {
    "port-authority": ("NHV",),
    "terminal-security": ("NHV",),
}

# Every category of the default taxonomy (api/taxonomy/data/taxonomy.toml), in its order. A rule name is the reason the
# triager reads next to the body it recommends, hence N_. No rule sends corruption of
# officials to customs, whose officers it may be about; the anti-corruption office and the
# police have it.
_KALDERVLIET = N_(
    "In Kaldervliet, where no port authority or terminal security is on Portline: the police."
)
DEMO_RULES: tuple[RuleSeed, ...] = (
    RuleSeed(
        "bribery-port-staff",
        ("police-port-unit", "terminal-security"),
        N_("Bribery of port staff: the police investigate, terminal security closes the gap."),
    ),
    RuleSeed(
        "corruption-officials",
        ("anti-corruption", "police-port-unit"),
        N_(
            "Corruption of officials: the anti-corruption office and the police, never the officials' own service."
        ),
    ),
    RuleSeed(
        "corruption-officials",
        ("prosecutor",),
        N_("Serious corruption of officials: the public prosecutor as well."),
        min_severity=3,
    ),
    RuleSeed(
        "intimidation",
        ("police-port-unit", "labour-inspectorate"),
        N_(
            "Threats or extortion of workers: the police, and the labour inspectorate for the workplace."
        ),
    ),
    RuleSeed(
        "union-broker-pressure",
        ("labour-inspectorate", "police-port-unit"),
        N_("Pressure through unions or labour brokers: the labour inspectorate and the police."),
    ),
    RuleSeed(
        "access-misuse",
        ("terminal-security", "port-authority"),
        N_("Badges or codes lent or sold: terminal security and the port authority withdraw them."),
    ),
    RuleSeed(
        "access-misuse",
        ("police-port-unit",),
        N_("Access sold on a large scale: the police as well."),
        min_severity=3,
    ),
    RuleSeed(
        "access-misuse",
        ("police-port-unit",),
        _KALDERVLIET,
        port="KVL",
    ),
    RuleSeed(
        "data-leak",
        ("police-port-unit", "customs"),
        N_(
            "Cargo data passed to outsiders: the police and customs, who watch the containers named."
        ),
    ),
    RuleSeed(
        "trafficking-facilitation",
        ("police-port-unit", "customs", "border-force"),
        N_("Smuggling through the port: the police, customs and the border force."),
    ),
    RuleSeed(
        "money-laundering",
        ("police-port-unit", "customs"),
        N_("Money laundering or trade fraud: the police and customs."),
    ),
    RuleSeed(
        "money-laundering",
        ("prosecutor",),
        N_("Serious money laundering: the public prosecutor as well."),
        min_severity=3,
    ),
    RuleSeed(
        "conflict-of-interest",
        ("anti-corruption", "port-authority"),
        N_("Conflicts of interest: the anti-corruption office and the port authority."),
    ),
    RuleSeed(
        "trespass",
        ("terminal-security", "port-authority"),
        N_("Someone where they should not be: terminal security and the port authority."),
    ),
    RuleSeed(
        "trespass",
        ("police-port-unit",),
        N_("Trespass that puts people or cargo at risk: the police as well."),
        min_severity=3,
    ),
    RuleSeed(
        "trespass",
        ("police-port-unit",),
        _KALDERVLIET,
        port="KVL",
    ),
    RuleSeed(
        "access-control-failure",
        ("terminal-security", "port-authority"),
        N_("A gate, fence or badge check that fails: terminal security and the port authority."),
    ),
    RuleSeed(
        "access-control-failure",
        ("police-port-unit",),
        _KALDERVLIET,
        port="KVL",
    ),
    RuleSeed(
        "seal-tampering",
        ("customs", "terminal-security"),
        N_("Tampered seals or cargo: customs and terminal security."),
    ),
    RuleSeed(
        "suspicious-object",
        ("terminal-security", "police-port-unit"),
        N_("A suspicious container, vehicle or package: terminal security and the police."),
    ),
    RuleSeed(
        "contraband-found",
        ("customs",),
        N_("Drugs or contraband found: customs."),
    ),
    RuleSeed(
        "contraband-found",
        ("police-port-unit",),
        N_("A large find of drugs or contraband: the police as well."),
        min_severity=3,
    ),
    RuleSeed(
        "theft",
        ("police-port-unit", "terminal-security"),
        N_("Theft: the police and terminal security."),
    ),
    RuleSeed(
        "stowaway-smuggling",
        ("border-force", "police-port-unit"),
        N_("People hidden in cargo or on a ship: the border force and the police."),
    ),
    RuleSeed(
        "cyber-incident",
        ("csirt",),
        N_("Cyber incidents: the national CSIRT's port cyber response team."),
    ),
    RuleSeed(
        "cyber-incident",
        ("police-port-unit",),
        N_("Serious cyber incidents, such as misused release codes: the police as well."),
        min_severity=3,
    ),
    RuleSeed(
        "suspicious-vessel",
        ("coast-guard", "port-authority"),
        N_("A suspicious ship or small boat: the coast guard and the harbour master."),
    ),
    RuleSeed(
        "violence-threats",
        ("police-port-unit",),
        N_("Violence or threats: the police."),
    ),
    RuleSeed(
        "infrastructure-damage",
        ("port-authority", "terminal-security"),
        N_("Damaged port equipment or buildings: the port authority and terminal security."),
    ),
    RuleSeed(
        "infrastructure-damage",
        ("police-port-unit",),
        N_("Serious damage, possibly sabotage: the police as well."),
        min_severity=3,
    ),
    RuleSeed(
        "infrastructure-damage",
        ("police-port-unit",),
        _KALDERVLIET,
        port="KVL",
    ),
)


def seed_demo_rules(session: Session) -> None:
    """The demo bodies' jurisdictions and routing rules, once: only into a database without
    any rule, since an administrator may since have written their own."""
    if _count(session, RoutingRule):
        return
    ports: dict[str, int | None] = {port.code: port.id for port in session.exec(select(Port))}
    bodies = {body.code: body for body in session.exec(select(Body))}
    reached = set(session.exec(select(BodyJurisdiction.body_id)).all())
    for code, port_codes in JURISDICTIONS.items():
        body = bodies.get(code)
        if body is None or body.id is None or body.id in reached:
            continue
        for port_code in port_codes:
            port_id = ports.get(port_code)
            if port_id is not None:
                session.add(BodyJurisdiction(body_id=body.id, port_id=port_id))
    categories = {category.code: category for category in session.exec(select(Category))}
    position = 0
    for seed in DEMO_RULES:
        category = categories.get(seed.category)
        port_id = ports.get(seed.port) if seed.port else None
        if category is None or (seed.port and port_id is None):
            continue
        for body_code in seed.bodies:
            body = bodies.get(body_code)
            if body is None or body.id is None:
                continue
            position += 1
            session.add(
                RoutingRule(
                    position=position,
                    name=seed.name,
                    body_id=body.id,
                    kind=category.kind,
                    category_id=category.id,
                    port_id=port_id,
                    min_severity=seed.min_severity,
                )
            )
    session.flush()


def _count(session: Session, table: type[SQLModel]) -> int:
    return session.exec(select(func.count()).select_from(table)).one()


def seed_demo(session: Session) -> DemoSummary:
    """Seed the demo ports, taxonomy and bodies where missing; the caller commits."""
    _seed_ports(session)
    install_taxonomy(session)
    _seed_bodies(session)
    seed_demo_rules(session)
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
