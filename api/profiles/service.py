"""Port profiles in and out: a port, its zones, emergency numbers, bodies and rules read from
one file (or JSON) and written back to one.

An import makes the database say what the profile says and nothing else: rows are found by
their code (zones, bodies), their number (emergency numbers) or their content (the port's
rules), changed only where they differ, and the whole import is one transaction. Importing
the same profile twice changes nothing the second time. A zone the profile leaves out is
deleted, unless cases or reports name it: then the import is refused, with their references,
and nothing is applied (a zone to keep on old cases is marked ``retired`` instead).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, func, select

from api.agencies.models import Body, BodyJurisdiction, RoutingRule
from api.audit import service as audit_service
from api.cases.models import Case
from api.crypto import KeyRing
from api.datafile import DataFileError, dump_model, problem_at, read_model
from api.errors import Conflict, FieldProblem, Invalid, NotFound
from api.i18n import N_, in_language
from api.ports.models import EmergencyNumber, Port, Zone
from api.profiles.schemas import (
    BodyProfile,
    EmergencyNumberProfile,
    PortProfile,
    RuleProfile,
    ZoneProfile,
    problems_of,
)
from api.reports.models import Report
from api.retention.models import PurgedCount
from api.taxonomy.models import Category

PROFILES_DIR = Path(__file__).parent / "data"
# The demo's two fictional ports, which `portline demo` imports.
DEMO_PROFILES: tuple[Path, ...] = (PROFILES_DIR / "NHV.toml", PROFILES_DIR / "KVL.toml")

HEADER = """A Portline port profile: `portline port import FILE` makes the port what this file says.
Names are given per language (name.en, name.nl, ...); every name needs the port's first
language, which reporters read when their own is missing. Zones and emergency numbers are
offered in this order. A zone left out of the file is deleted (refused while cases name it;
set retired = true to keep it on old cases). Bodies are shared by every port: acts_in is
"everywhere", "port" (all of this port) or a list of this port's zone codes."""


def read_profile(path: Path, text: str | None = None) -> PortProfile:
    """The profile in ``path``, checked; every problem is told with its line and field."""
    if text is None:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise DataFileError(f"{path}: cannot be read ({error})") from None
    profile = read_model(path, PortProfile, text=text)
    problems = problems_of(profile)
    if problems:
        raise DataFileError(
            "\n".join(problem_at(path, text, where, message) for where, message in problems)
        )
    return profile


def dump_profile(profile: PortProfile) -> str:
    return dump_model(profile, header=HEADER)


# Import -------------------------------------------------------------------------------------


@dataclass
class Imported:
    port: str
    created: bool
    changes: list[str] = field(default_factory=list)


class _Changes:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def set(self, row: Any, label: str, attribute: str, value: object) -> None:
        before = getattr(row, attribute)
        if before != value:
            if row.id is not None:
                self.lines.append(f"{label}: {attribute} {_short(before)} -> {_short(value)}")
            setattr(row, attribute, value)


def _short(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= 120 else text[:117] + "..."


def _primary(names: dict[str, str], languages: Sequence[str]) -> str:
    return in_language(names, languages[0], *languages)


def import_profile(
    *,
    session: Session,
    keyring: KeyRing | None,
    profile: PortProfile,
    now: datetime,
    actor_id: int | None = None,
    actor: str = "system",
) -> Imported:
    """Apply ``profile``; nothing is committed (the caller owns the transaction, so a refusal
    half-way leaves nothing behind once it rolls back). Audited when ``keyring`` is given
    (the demo's own seeding is not)."""
    problems = problems_of(profile)
    if problems:
        raise Invalid(
            N_("The request has a problem in {field}."),
            fields=[FieldProblem(_dotted(where), message) for where, message in problems],
            field=_dotted(problems[0][0]),
        )
    changes = _Changes()
    port = session.exec(select(Port).where(Port.code == profile.code).with_for_update()).first()
    created = port is None
    if port is None:
        port = Port(code=profile.code, name="", country=profile.country)
        session.add(port)
        changes.lines.append(f"port {profile.code}: added")
    languages = list(profile.languages)
    for attribute, value in (
        ("name", _primary(profile.name, languages)),
        ("names", dict(profile.name)),
        ("languages", languages),
        ("country", profile.country),
        ("timezone", profile.timezone),
        ("acknowledge_days", profile.acknowledge_days),
        ("feedback_days", profile.feedback_days),
        ("retention_days", profile.retention_days),
        ("triage_email", profile.triage_email),
    ):
        changes.set(port, f"port {profile.code}", attribute, value)
    session.flush()
    assert port.id is not None  # flushed
    zones = _import_zones(session, port, profile.zone, languages, changes)
    _import_numbers(session, port, profile.emergency_number, languages, changes)
    bodies = _import_bodies(session, port, profile.body, zones, languages, changes)
    _import_rules(session, port, profile.rule, zones, bodies, changes)
    _remove_zones(session, port, {zone.code for zone in profile.zone}, changes)
    session.flush()
    if keyring is not None and changes.lines:
        audit_service.record(
            session=session,
            keyring=keyring,
            action="port.imported",
            now=now,
            actor_id=actor_id,
            actor=actor,
            object_type="port",
            object_id=port.code,
            detail={f"change {number}": line for number, line in enumerate(changes.lines, 1)},
        )
    return Imported(port=port.code, created=created, changes=changes.lines)


def _dotted(where: Sequence[str | int]) -> str:
    text = ""
    for part in where:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _import_zones(
    session: Session,
    port: Port,
    wanted: Sequence[ZoneProfile],
    languages: Sequence[str],
    changes: _Changes,
) -> dict[str, Zone]:
    existing = {
        zone.code: zone for zone in session.exec(select(Zone).where(Zone.port_id == port.id))
    }
    for position, each in enumerate(wanted, start=1):
        zone = existing.get(each.code)
        label = f"zone {each.code}"
        if zone is None:
            zone = existing[each.code] = Zone(
                port_id=port.id or 0, code=each.code, name="", kind=""
            )
            changes.lines.append(f"{label}: added")
        changes.set(zone, label, "name", _primary(each.name, languages))
        changes.set(zone, label, "names", dict(each.name))
        changes.set(zone, label, "kind", each.kind)
        changes.set(zone, label, "position", position)
        changes.set(zone, label, "active", not each.retired)
        session.add(zone)
    session.flush()
    return existing


def _remove_zones(session: Session, port: Port, kept: set[str], changes: _Changes) -> None:
    gone = session.exec(
        select(Zone).where(Zone.port_id == port.id, col(Zone.code).not_in(kept))
    ).all()
    if not gone:
        return
    ids = [zone.id for zone in gone]
    cases = session.exec(
        select(Case.reference).where(col(Case.zone_id).in_(ids)).order_by(col(Case.reference))
    ).all()
    # Counts kept of purged cases name zones too (the dashboard shows them by zone).
    reports = (
        session.exec(
            select(func.count()).select_from(Report).where(col(Report.zone_id).in_(ids))
        ).one()
        + session.exec(
            select(func.count()).select_from(PurgedCount).where(col(PurgedCount.zone_id).in_(ids))
        ).one()
    )
    if cases or reports:
        used = sorted(
            zone.code
            for zone in gone
            if session.exec(
                select(func.count()).select_from(Case).where(Case.zone_id == zone.id)
            ).one()
            or session.exec(
                select(func.count()).select_from(Report).where(Report.zone_id == zone.id)
            ).one()
            or session.exec(
                select(func.count()).select_from(PurgedCount).where(PurgedCount.zone_id == zone.id)
            ).one()
        )
        raise Conflict(
            N_(
                "Zones {zones} are named by cases {cases}: they cannot be removed. Keep them "
                "and mark them retired instead, so old cases keep them but reporters no "
                "longer see them."
            ),
            zones=", ".join(used),
            cases=", ".join(cases) or "-",
        )
    for row in session.exec(
        select(BodyJurisdiction).where(col(BodyJurisdiction.zone_id).in_(ids))
    ).all():
        session.delete(row)
    for rule in session.exec(select(RoutingRule).where(col(RoutingRule.zone_id).in_(ids))).all():
        session.delete(rule)
    session.flush()
    for zone in gone:
        changes.lines.append(f"zone {zone.code}: removed")
        session.delete(zone)


def _import_numbers(
    session: Session,
    port: Port,
    wanted: Sequence[EmergencyNumberProfile],
    languages: Sequence[str],
    changes: _Changes,
) -> None:
    query = select(EmergencyNumber).where(EmergencyNumber.port_id == port.id)
    existing = {each.number: each for each in session.exec(query)}
    for position, each in enumerate(wanted, start=1):
        number = existing.pop(each.number, None)
        label = f"emergency number {each.number}"
        if number is None:
            number = EmergencyNumber(port_id=port.id or 0, label="", number=each.number)
            changes.lines.append(f"{label}: added")
        changes.set(number, label, "label", _primary(each.label, languages))
        changes.set(number, label, "labels", dict(each.label))
        changes.set(number, label, "when", dict(each.when))
        changes.set(number, label, "position", position)
        changes.set(number, label, "active", not each.retired)
        session.add(number)
    for number in existing.values():
        changes.lines.append(f"emergency number {number.number}: removed")
        session.delete(number)
    session.flush()


def _import_bodies(
    session: Session,
    port: Port,
    wanted: Sequence[BodyProfile],
    zones: dict[str, Zone],
    languages: Sequence[str],
    changes: _Changes,
) -> dict[str, Body]:
    codes = [each.code for each in wanted]
    existing = {
        body.code: body for body in session.exec(select(Body).where(col(Body.code).in_(codes)))
    }
    for each in wanted:
        body = existing.get(each.code)
        label = f"body {each.code}"
        if body is None:
            body = existing[each.code] = Body(code=each.code, name="", kind=each.kind)
            changes.lines.append(f"{label}: added")
        changes.set(body, label, "name", _primary(each.name, languages))
        changes.set(body, label, "names", dict(each.name))
        changes.set(body, label, "kind", each.kind)
        changes.set(body, label, "reporter_may_exclude", each.reporter_may_exclude)
        changes.set(body, label, "notification_email", each.notification_email)
        session.add(body)
        session.flush()
        _import_reach(session, port, body, each, zones, changes)
    return existing


def _import_reach(
    session: Session,
    port: Port,
    body: Body,
    each: BodyProfile,
    zones: dict[str, Zone],
    changes: _Changes,
) -> None:
    rows = session.exec(select(BodyJurisdiction).where(BodyJurisdiction.body_id == body.id)).all()
    if each.acts_in == "everywhere":
        wanted_here: set[int | None] | None = None
    elif each.acts_in == "port":
        wanted_here = {None}
    else:
        wanted_here = {zones[code].id for code in each.acts_in}
    here = {row.zone_id for row in rows if row.port_id == port.id}
    if wanted_here is None:
        stale = list(rows)
    else:
        stale = [row for row in rows if row.port_id == port.id and row.zone_id not in wanted_here]
    missing = set() if wanted_here is None else wanted_here - here
    if not stale and not missing:
        return
    for row in stale:
        session.delete(row)
    for zone_id in sorted(missing, key=lambda zone_id: zone_id or 0):
        session.add(BodyJurisdiction(body_id=body.id or 0, port_id=port.id or 0, zone_id=zone_id))
    changes.lines.append(f"body {body.code}: acts_in {_short(each.acts_in)}")
    session.flush()


_RuleKey = tuple[str, int, str | None, int | None, int | None, int | None]


def _import_rules(
    session: Session,
    port: Port,
    wanted: Sequence[RuleProfile],
    zones: dict[str, Zone],
    bodies: dict[str, Body],
    changes: _Changes,
) -> None:
    categories = {category.code: category for category in session.exec(select(Category))}
    unknown = [
        FieldProblem(f"rule[{index}].category", N_("There is no such category."))
        for index, rule in enumerate(wanted)
        if rule.category and rule.category not in categories
    ]
    if unknown:
        raise Invalid(
            N_("The request has a problem in {field}."), fields=unknown, field=unknown[0].field
        )
    keys: list[_RuleKey] = []
    for rule in wanted:
        category = categories[rule.category] if rule.category else None
        for code in rule.bodies:
            keys.append(
                (
                    rule.reason,
                    bodies[code].id or 0,
                    category.kind if category else rule.kind,
                    category.id if category else None,
                    zones[rule.zone].id if rule.zone else None,
                    rule.min_severity,
                )
            )
    existing = _port_rules(session, port)
    if [_key(old) for old in existing] == keys and all(old.active for old in existing):
        return
    first = min((old.position for old in existing), default=None)
    if first is None:
        first = (session.exec(select(func.max(RoutingRule.position))).one() or 0) + 1
    for old in existing:
        session.delete(old)
    session.flush()
    for offset, (reason, body_id, kind, category_id, zone_id, severity) in enumerate(keys):
        session.add(
            RoutingRule(
                position=first + offset,
                name=reason,
                body_id=body_id,
                kind=kind,
                category_id=category_id,
                port_id=port.id,
                zone_id=zone_id,
                min_severity=severity,
            )
        )
    changes.lines.append(f"rules of {port.code}: {len(existing)} replaced by {len(keys)}")
    session.flush()


def _port_rules(session: Session, port: Port) -> list[RoutingRule]:
    query = (
        select(RoutingRule)
        .where(RoutingRule.port_id == port.id)
        .order_by(col(RoutingRule.position), col(RoutingRule.id))
    )
    return list(session.exec(query).all())


def _key(rule: RoutingRule) -> _RuleKey:
    return (rule.name, rule.body_id, rule.kind, rule.category_id, rule.zone_id, rule.min_severity)


# Export -------------------------------------------------------------------------------------


def _names(names: dict[str, str], fallback: str, languages: Sequence[str]) -> dict[str, str]:
    return dict(names) if names else {languages[0]: fallback}


def export_profile(*, session: Session, code: str) -> PortProfile:
    """The port as a profile that, imported, changes nothing."""
    port = session.exec(select(Port).where(Port.code == code)).first()
    if port is None:
        raise NotFound(N_("There is no such port."))
    languages = list(port.languages) or ["en"]
    zones = session.exec(
        select(Zone).where(Zone.port_id == port.id).order_by(col(Zone.position), col(Zone.id))
    ).all()
    zone_codes = {zone.id: zone.code for zone in zones}
    numbers = session.exec(
        select(EmergencyNumber)
        .where(EmergencyNumber.port_id == port.id)
        .order_by(col(EmergencyNumber.position), col(EmergencyNumber.id))
    ).all()
    reach: dict[int, list[BodyJurisdiction]] = {}
    for row in session.exec(select(BodyJurisdiction)):
        reach.setdefault(row.body_id, []).append(row)
    port_rules = [rule for rule in _port_rules(session, port) if rule.active]
    named = {rule.body_id for rule in port_rules}
    bodies: list[BodyProfile] = []
    # The bodies that act in this port by name, and the ones its rules recommend.
    for body in session.exec(select(Body).where(col(Body.active)).order_by(col(Body.code))):
        rows = reach.get(body.id or 0, [])
        here = [row for row in rows if row.port_id == port.id]
        if not here and body.id not in named:
            continue
        acts_in: Any = "everywhere"
        if here:
            in_zones = [zone_codes[row.zone_id] for row in here if row.zone_id in zone_codes]
            acts_in = "port" if any(row.zone_id is None for row in here) else in_zones
        bodies.append(
            BodyProfile(
                code=body.code,
                kind=body.kind,
                name=_names(body.names, body.name, languages),
                reporter_may_exclude=body.reporter_may_exclude,
                notification_email=body.notification_email,
                acts_in=acts_in,
            )
        )
    body_codes = {body.id: body.code for body in session.exec(select(Body))}
    category_codes = {category.id: category.code for category in session.exec(select(Category))}
    rules: list[RuleProfile] = []
    for rule in port_rules:
        profile = RuleProfile(
            reason=rule.name,
            bodies=[body_codes[rule.body_id]],
            kind=None if rule.category_id else rule.kind,
            category=category_codes.get(rule.category_id) if rule.category_id else None,
            zone=zone_codes.get(rule.zone_id) if rule.zone_id else None,
            min_severity=rule.min_severity,
        )
        last = rules[-1] if rules else None
        if last and last.model_dump(exclude={"bodies"}) == profile.model_dump(exclude={"bodies"}):
            last.bodies.append(profile.bodies[0])
        else:
            rules.append(profile)
    return PortProfile(
        code=port.code,
        name=_names(port.names, port.name, languages),
        country=port.country,
        timezone=port.timezone,
        languages=languages,
        acknowledge_days=port.acknowledge_days,
        feedback_days=port.feedback_days,
        retention_days=port.retention_days,
        triage_email=port.triage_email,
        zone=[
            ZoneProfile(
                code=zone.code,
                kind=zone.kind,
                name=_names(zone.names, zone.name, languages),
                retired=not zone.active,
            )
            for zone in zones
        ],
        emergency_number=[
            EmergencyNumberProfile(
                number=number.number,
                label=_names(number.labels, number.label, languages),
                when=dict(number.when),
                retired=not number.active,
            )
            for number in numbers
        ],
        body=bodies,
        rule=rules,
    )
