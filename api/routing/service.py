"""Routing rules and the bodies they recommend for a case.

Rules are read in order; each whose every set condition the case meets recommends its body,
and the first rule to name a body is the one shown as the reason. A recommendation is only
advice: who may never receive a case (a body the reporter excluded, or one triage marked as
implicated) is decided by the referral service, which filters this list."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from api.agencies import service as agencies_service
from api.agencies.models import Body, RoutingRule
from api.audit import service as audit_service
from api.cases.models import Case
from api.crypto import KeyRing
from api.errors import FieldProblem, Forbidden, Invalid, NotFound
from api.i18n import N_
from api.moves import Direction
from api.policy import Permission
from api.ports import service as ports_service
from api.ports.models import Port, Zone
from api.reports.schemas import Kind
from api.routing.schemas import RuleIn, RulePublic
from api.staff import service as staff_service
from api.staff.models import Staff
from api.staff.service import authorize
from api.taxonomy import service as taxonomy_service
from api.taxonomy.models import Category

# Recommending -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Recommendation:
    body: Body
    rule: RoutingRule


def _covers(reach: Sequence[tuple[Port, Zone | None]], case: Case) -> bool:
    """Whether a body may act where the case happened. A body limited to some zones of a
    port does not cover a case whose zone is not known."""
    if not reach:
        return True
    return any(
        port.id == case.port_id and (zone is None or zone.id == case.zone_id)
        for port, zone in reach
    )


def recommend(*, session: Session, case: Case) -> list[Recommendation]:
    """The active bodies that active rules recommend for ``case``, in rule order, each once
    with the first rule that named it; bodies that may not act where the case happened are
    left out. Exclusions by the reporter or by triage are not applied here."""
    severity_met = (
        col(RoutingRule.min_severity).is_(None)
        if case.severity is None
        else (col(RoutingRule.min_severity).is_(None))
        | (col(RoutingRule.min_severity) <= case.severity)
    )
    query = (
        select(RoutingRule, Body)
        .join(Body, col(Body.id) == col(RoutingRule.body_id))
        .where(
            col(RoutingRule.active),
            col(Body.active),
            col(RoutingRule.kind).is_(None) | (col(RoutingRule.kind) == case.kind),
            col(RoutingRule.category_id).is_(None)
            | (col(RoutingRule.category_id) == case.category_id),
            col(RoutingRule.port_id).is_(None) | (col(RoutingRule.port_id) == case.port_id),
            col(RoutingRule.zone_id).is_(None) | (col(RoutingRule.zone_id) == case.zone_id),
            severity_met,
        )
        .order_by(col(RoutingRule.position), col(RoutingRule.id))
    )
    first_rule: dict[int, Recommendation] = {}
    for rule, body in session.exec(query):
        if body.id is not None and body.id not in first_rule:
            first_rule[body.id] = Recommendation(body=body, rule=rule)
    reach = agencies_service.jurisdictions(session=session, body_ids=list(first_rule))
    return [
        recommendation
        for body_id, recommendation in first_rule.items()
        if _covers(reach.get(body_id, []), case)
    ]


# Administration ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Conditions:
    body_id: int
    kind: str | None
    category_id: int | None
    port_id: int | None
    zone_id: int | None


def _resolve(session: Session, actor: Staff, rule_in: RuleIn) -> _Conditions:
    """The ids behind the codes of ``rule_in``; every unknown code is named at once. A body
    or a port ``actor`` does not see is unknown to them, and one limited to some ports
    writes rules for one of those ports only."""
    problems: list[FieldProblem] = []
    visible = staff_service.visible_ports(session=session, actor=actor)
    body = agencies_service.find_body_for(session=session, actor=actor, code=rule_in.body)
    body_id = body.id if body else None
    if body_id is None:
        problems.append(FieldProblem("body", N_("There is no such receiving body.")))
    category_id: int | None = None
    if rule_in.category is not None:
        category = taxonomy_service.find_category(session=session, code=rule_in.category)
        if category is None:
            problems.append(FieldProblem("category", N_("There is no such category.")))
        elif rule_in.kind is not None and category.kind != rule_in.kind:
            problems.append(
                FieldProblem("category", N_("This category is not of the kind chosen."))
            )
        else:
            category_id = category.id
    port_id: int | None = None
    if rule_in.port is not None:
        port = ports_service.find_port(session=session, code=rule_in.port)
        if port is None or (visible is not None and port.id not in visible):
            problems.append(FieldProblem("port", N_("There is no such port.")))
        else:
            port_id = port.id
    elif visible is not None:
        problems.append(FieldProblem("port", N_("Choose one of your ports.")))
    zone_id: int | None = None
    if rule_in.zone is not None:
        if rule_in.port is None:
            problems.append(FieldProblem("zone", N_("Choose the port of this zone too.")))
        elif port_id is not None:
            zone = ports_service.find_zone(session=session, port_id=port_id, code=rule_in.zone)
            if zone is None:
                problems.append(FieldProblem("zone", N_("This port has no such zone.")))
            else:
                zone_id = zone.id
    if problems or body_id is None:
        raise Invalid(
            N_("The request has a problem in {field}."), fields=problems, field=problems[0].field
        )
    return _Conditions(
        body_id=body_id,
        kind=rule_in.kind.value if rule_in.kind else None,
        category_id=category_id,
        port_id=port_id,
        zone_id=zone_id,
    )


def _views(session: Session, rules: Sequence[RoutingRule]) -> list[RulePublic]:
    bodies = {body.id: body for body in session.exec(select(Body))}
    categories = {category.id: category for category in session.exec(select(Category))}
    ports = {port.id: port for port in session.exec(select(Port))}
    zones = {zone.id: zone for zone in session.exec(select(Zone))}
    views = []
    for rule in rules:
        assert rule.id is not None
        body = bodies[rule.body_id]
        category = categories.get(rule.category_id)
        port = ports.get(rule.port_id)
        zone = zones.get(rule.zone_id)
        views.append(
            RulePublic(
                id=rule.id,
                position=rule.position,
                name=rule.name,
                body=body.code,
                body_name=body.name,
                body_active=body.active,
                kind=Kind(rule.kind) if rule.kind else None,
                category=category.code if category else None,
                category_name=category.name if category else None,
                port=port.code if port else None,
                port_name=port.name if port else None,
                zone=zone.code if zone else None,
                zone_name=zone.name if zone else None,
                min_severity=rule.min_severity,
                active=rule.active,
            )
        )
    return views


def _ordered(session: Session) -> list[RoutingRule]:
    query = select(RoutingRule).order_by(col(RoutingRule.position), col(RoutingRule.id))
    return list(session.exec(query).all())


def _sees(session: Session, actor: Staff, rule: RoutingRule) -> bool:
    """One limited to some ports sees the rules of those ports and of every port, whose
    body they see too (agencies_service.sees_body)."""
    ports = staff_service.visible_ports(session=session, actor=actor)
    if ports is None:
        return True
    body = session.get(Body, rule.body_id)
    return (
        (rule.port_id is None or rule.port_id in ports)
        and body is not None
        and agencies_service.sees_body(session=session, actor=actor, body=body)
    )


def _visible(session: Session, actor: Staff) -> list[RoutingRule]:
    """The rules ``actor`` sees (see :func:`_sees`), in order."""
    query = select(RoutingRule).order_by(col(RoutingRule.position), col(RoutingRule.id))
    ports = staff_service.visible_ports(session=session, actor=actor)
    body_seen = agencies_service.visible_condition(ports)
    if ports is not None and body_seen is not None:
        query = query.join(Body, col(Body.id) == col(RoutingRule.body_id)).where(
            col(RoutingRule.port_id).is_(None) | col(RoutingRule.port_id).in_(ports), body_seen
        )
    return list(session.exec(query).all())


def list_rules(*, session: Session, actor: Staff) -> list[RulePublic]:
    authorize(actor, Permission.read_routing)
    return _views(session, _visible(session, actor))


def get_rule(
    *, session: Session, actor: Staff, rule_id: int, to_change: bool = False
) -> RulePublic:
    """The rule, if ``actor`` sees it; ``to_change``: if they may change it too."""
    authorize(actor, Permission.manage_staff if to_change else Permission.read_routing)
    return _views(session, [_rule(session, actor, rule_id, to_change=to_change)])[0]


def _rule(session: Session, actor: Staff, rule_id: int, *, to_change: bool = False) -> RoutingRule:
    """The rule, if ``actor`` sees it; ``to_change``: if they may change it. A rule of every
    port is changed only by an administrator of every port: it applies in every port."""
    rule = session.get(RoutingRule, rule_id)
    if rule is None or not _sees(session, actor, rule):
        raise NotFound(N_("There is no such routing rule."))
    if (
        to_change
        and rule.port_id is None
        and staff_service.visible_ports(session=session, actor=actor) is not None
    ):
        raise Forbidden(
            N_(
                "This rule applies in every port: only an administrator of every port can change it."
            )
        )
    return rule


def _audit(
    session: Session,
    keyring: KeyRing,
    actor: Staff,
    action: str,
    rule: RoutingRule,
    now: datetime,
    **detail: str | int | bool | None,
) -> None:
    assert rule.id is not None
    audit_service.record(
        session=session,
        keyring=keyring,
        action=action,
        now=now,
        actor_id=actor.id,
        actor=actor.email,
        object_type="routing_rule",
        object_id=rule.id,
        detail=detail,
    )


def create_rule(
    *, session: Session, keyring: KeyRing, actor: Staff, rule_in: RuleIn, now: datetime
) -> RulePublic:
    """A new rule, read after every rule there is."""
    authorize(actor, Permission.manage_staff)
    conditions = _resolve(session, actor, rule_in)
    last = session.exec(select(func.max(RoutingRule.position))).one()
    rule = RoutingRule(
        position=(last or 0) + 1,
        name=rule_in.name,
        body_id=conditions.body_id,
        kind=conditions.kind,
        category_id=conditions.category_id,
        port_id=conditions.port_id,
        zone_id=conditions.zone_id,
        min_severity=rule_in.min_severity,
        active=rule_in.active,
    )
    session.add(rule)
    session.flush()
    _audit(
        session,
        keyring,
        actor,
        "routing_rule.created",
        rule,
        now,
        body=rule_in.body,
        position=rule.position,
    )
    return _views(session, [rule])[0]


_RULE_FIELDS = (
    "name",
    "body_id",
    "kind",
    "category_id",
    "port_id",
    "zone_id",
    "min_severity",
    "active",
)


def update_rule(
    *,
    session: Session,
    keyring: KeyRing,
    actor: Staff,
    rule_id: int,
    rule_in: RuleIn,
    now: datetime,
) -> RulePublic:
    """Replace the rule's conditions, body, name and state; its place in the order stays."""
    authorize(actor, Permission.manage_staff)
    rule = _rule(session, actor, rule_id, to_change=True)
    conditions = _resolve(session, actor, rule_in)
    wanted = {
        "name": rule_in.name,
        "body_id": conditions.body_id,
        "kind": conditions.kind,
        "category_id": conditions.category_id,
        "port_id": conditions.port_id,
        "zone_id": conditions.zone_id,
        "min_severity": rule_in.min_severity,
        "active": rule_in.active,
    }
    changed = [name for name in _RULE_FIELDS if getattr(rule, name) != wanted[name]]
    for name in changed:
        setattr(rule, name, wanted[name])
    session.add(rule)
    session.flush()
    if changed:
        _audit(
            session,
            keyring,
            actor,
            "routing_rule.changed",
            rule,
            now,
            changed=",".join(changed),
            active=rule.active,
        )
    return _views(session, [rule])[0]


def move_rule(
    *,
    session: Session,
    keyring: KeyRing,
    actor: Staff,
    rule_id: int,
    direction: Direction,
    now: datetime,
) -> list[RulePublic]:
    """Move the rule just before (up) or after (down) the rule before or after it among
    those ``actor`` sees; the first rule cannot go up nor the last down, which changes
    nothing. Only the moved rule changes place: the rules one does not see keep their
    order, so moving a rule of one's own port changes nothing in any other port. Returns
    every rule ``actor`` sees, in the new order."""
    authorize(actor, Permission.manage_staff)
    rule = _rule(session, actor, rule_id, to_change=True)
    rules = _ordered(session)
    seen = _visible(session, actor)
    index = seen.index(rule)
    other = index - 1 if direction == Direction.up else index + 1
    if 0 <= other < len(seen):
        neighbour = seen[other]
        rules.remove(rule)
        place = rules.index(neighbour)
        rules.insert(place if direction == Direction.up else place + 1, rule)
        # Numbered afresh, so equal or missing positions from older data sort out too.
        for position, each in enumerate(rules, start=1):
            if each.position != position:
                each.position = position
                session.add(each)
        session.flush()
        _audit(
            session,
            keyring,
            actor,
            "routing_rule.moved",
            rule,
            now,
            direction=direction.value,
            position=rule.position,
        )
    return _views(session, _visible(session, actor))


def delete_rule(
    *, session: Session, keyring: KeyRing, actor: Staff, rule_id: int, now: datetime
) -> None:
    authorize(actor, Permission.manage_staff)
    rule = _rule(session, actor, rule_id, to_change=True)
    body = session.get(Body, rule.body_id)
    _audit(
        session,
        keyring,
        actor,
        "routing_rule.deleted",
        rule,
        now,
        name=rule.name,
        body=body.code if body else None,
    )
    session.delete(rule)
    session.flush()
