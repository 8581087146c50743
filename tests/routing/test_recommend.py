"""Which bodies the rules recommend for a case: in rule order, each body once with the first
rule that names it, only active rules and bodies, only where the body may act."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import delete
from sqlmodel import Session, col, select

from api.agencies.models import Body, BodyJurisdiction, RoutingRule
from api.cases.models import Case
from api.demo import seed_demo
from api.ports.models import Port, Zone
from api.routing.service import recommend
from api.taxonomy.models import Category


def _port(session: Session, code: str) -> Port:
    return session.exec(select(Port).where(Port.code == code)).one()


def _zone(session: Session, port: str, code: str) -> Zone:
    return session.exec(
        select(Zone).where(Zone.port_id == _port(session, port).id, Zone.code == code)
    ).one()


def _category(session: Session, code: str) -> Category:
    return session.exec(select(Category).where(Category.code == code)).one()


def a_case(
    session: Session,
    *,
    category: str = "seal-tampering",
    port: str = "NHV",
    zone: str | None = "ct-north",
    severity: int | None = None,
) -> Case:
    """A case as recommend() reads it; it need not be stored."""
    found = _category(session, category)
    now = datetime.now(UTC)
    return Case(
        reference="T-TEST",
        kind=found.kind,
        category_id=found.id or 0,
        port_id=_port(session, port).id or 0,
        zone_id=_zone(session, port, zone).id if zone else None,
        severity=severity,
        received_hour=now,
        acknowledge_due=now,
    )


def codes(session: Session, case: Case) -> list[tuple[str, str]]:
    return [(each.body.code, each.rule.name) for each in recommend(session=session, case=case)]


class Rules:
    """A clean slate: no rule but those the test writes, and bodies of its own."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.position = 0
        session.execute(delete(RoutingRule))
        session.flush()

    def body(self, code: str, *, active: bool = True, reach: tuple[str, ...] = ()) -> Body:
        """``reach``: "NHV" for a whole port, "NHV/ct-north" for a zone."""
        body = Body(code=code, name=code.title(), kind="other", active=active)
        self.session.add(body)
        self.session.flush()
        assert body.id is not None
        for place in reach:
            port, _, zone = place.partition("/")
            self.session.add(
                BodyJurisdiction(
                    body_id=body.id,
                    port_id=_port(self.session, port).id or 0,
                    zone_id=_zone(self.session, port, zone).id if zone else None,
                )
            )
        self.session.flush()
        return body

    def rule(
        self,
        name: str,
        body: Body,
        *,
        position: int | None = None,
        active: bool = True,
        kind: str | None = None,
        category: str | None = None,
        port: str | None = None,
        zone: str | None = None,
        min_severity: int | None = None,
    ) -> RoutingRule:
        self.position += 1
        assert body.id is not None
        rule = RoutingRule(
            position=self.position if position is None else position,
            name=name,
            body_id=body.id,
            kind=kind,
            category_id=_category(self.session, category).id if category else None,
            port_id=_port(self.session, port).id if port else None,
            zone_id=_zone(self.session, port or "NHV", zone).id if zone else None,
            min_severity=min_severity,
            active=active,
        )
        self.session.add(rule)
        self.session.flush()
        return rule


@pytest.fixture
def rules(session: Session) -> Rules:
    return Rules(session)


class TestOrder:
    def test_bodies_come_in_rule_order_each_once_with_the_first_rule_that_names_it(
        self, session: Session, rules: Rules
    ) -> None:
        first, second = rules.body("first"), rules.body("second")
        rules.rule("seals to first", first, category="seal-tampering")
        rules.rule("anything to second", second)
        rules.rule("incidents to first", first, kind="incident")
        assert codes(session, a_case(session)) == [
            ("first", "seals to first"),
            ("second", "anything to second"),
        ]

    def test_position_orders_the_rules_not_the_order_they_were_written(
        self, session: Session, rules: Rules
    ) -> None:
        first, second = rules.body("first"), rules.body("second")
        rules.rule("written first, read second", first, position=20)
        rules.rule("written second, read first", second, position=10)
        rules.rule("also first, read first", first, position=5)
        assert codes(session, a_case(session)) == [
            ("first", "also first, read first"),
            ("second", "written second, read first"),
        ]

    def test_no_rule_no_recommendation(self, session: Session, rules: Rules) -> None:
        assert recommend(session=session, case=a_case(session)) == []


class TestConditions:
    def test_every_condition_set_must_hold(self, session: Session, rules: Rules) -> None:
        body = rules.body("body")
        rules.rule("integrity only", body, kind="integrity")
        rules.rule("theft only", body, category="theft")
        rules.rule("KVL only", body, port="KVL")
        rules.rule("south terminal only", body, port="NHV", zone="ct-south")
        rules.rule("severity 3 or more", body, min_severity=3)
        case = a_case(session, severity=2)
        assert codes(session, case) == []
        case.severity = 3
        assert codes(session, case) == [("body", "severity 3 or more")]
        case.zone_id = _zone(session, "NHV", "ct-south").id
        assert codes(session, case) == [("body", "south terminal only")]

    def test_a_case_not_graded_yet_meets_no_severity_condition(
        self, session: Session, rules: Rules
    ) -> None:
        rules.rule("severity 1 or more", rules.body("body"), min_severity=1)
        assert codes(session, a_case(session, severity=None)) == []
        assert codes(session, a_case(session, severity=1)) == [("body", "severity 1 or more")]

    def test_a_zone_condition_does_not_match_a_case_without_a_zone(
        self, session: Session, rules: Rules
    ) -> None:
        rules.rule("north terminal", rules.body("body"), port="NHV", zone="ct-north")
        assert codes(session, a_case(session, zone=None)) == []


class TestActive:
    def test_an_inactive_rule_is_skipped_and_the_next_one_names_the_body(
        self, session: Session, rules: Rules
    ) -> None:
        body = rules.body("body")
        rules.rule("switched off", body, active=False)
        rules.rule("switched on", body)
        assert codes(session, a_case(session)) == [("body", "switched on")]

    def test_an_inactive_body_is_never_recommended(self, session: Session, rules: Rules) -> None:
        retired, working = rules.body("retired", active=False), rules.body("working")
        rules.rule("to the retired body", retired)
        rules.rule("to the working body", working)
        rules.rule("to the retired body again", retired, category="seal-tampering")
        assert codes(session, a_case(session)) == [("working", "to the working body")]


class TestJurisdiction:
    def test_a_body_is_recommended_only_where_it_may_act(
        self, session: Session, rules: Rules
    ) -> None:
        norderhaven = rules.body("norderhaven", reach=("NHV",))
        north = rules.body("north", reach=("NHV/ct-north", "KVL/ferry"))
        anywhere = rules.body("anywhere")
        for body in (norderhaven, north, anywhere):
            rules.rule(f"to {body.code}", body)

        def bodies(case: Case) -> list[str]:
            return [code for code, _rule in codes(session, case)]

        assert bodies(a_case(session)) == ["norderhaven", "north", "anywhere"]
        assert bodies(a_case(session, zone="ct-south")) == ["norderhaven", "anywhere"]
        # Limited to some zones: a case whose zone is not known is not theirs.
        assert bodies(a_case(session, zone=None)) == ["norderhaven", "anywhere"]
        assert bodies(a_case(session, port="KVL", zone="ferry")) == ["north", "anywhere"]
        assert bodies(a_case(session, port="KVL", zone="gate")) == ["anywhere"]

    def test_a_body_out_of_reach_does_not_hide_the_next_rule_for_another_body(
        self, session: Session, rules: Rules
    ) -> None:
        rules.rule("the port's own", rules.body("local", reach=("KVL",)))
        rules.rule("the national one", rules.body("national"))
        assert codes(session, a_case(session)) == [("national", "the national one")]


DEMO_PORTS = ("NHV", "KVL")


class TestDemoRules:
    """The demo's rules as seeded into the shared test database."""

    @pytest.mark.parametrize("port", DEMO_PORTS)
    def test_every_category_has_a_body_in_each_demo_port(self, session: Session, port: str) -> None:
        categories = session.exec(select(Category).where(col(Category.active))).all()
        assert len(categories) == 20
        for category in categories:
            for severity in (None, 1, 4):
                case = a_case(session, category=category.code, port=port, zone=None)
                case.severity = severity
                assert recommend(session=session, case=case), (category.code, port, severity)

    def test_every_category_has_a_body_in_every_zone_of_norderhaven(self, session: Session) -> None:
        zones = session.exec(select(Zone).where(Zone.port_id == _port(session, "NHV").id)).all()
        for category in session.exec(select(Category)).all():
            for zone in zones:
                case = a_case(session, category=category.code, zone=zone.code)
                assert recommend(session=session, case=case), (category.code, zone.code)

    def test_corruption_of_officials_goes_to_the_anti_corruption_office_and_the_police_never_customs(
        self, session: Session
    ) -> None:
        for port in DEMO_PORTS:
            zones = session.exec(select(Zone).where(Zone.port_id == _port(session, port).id)).all()
            for zone in [None, *(zone.code for zone in zones)]:
                for severity in (None, 1, 2, 3, 4):
                    case = a_case(
                        session,
                        category="corruption-officials",
                        port=port,
                        zone=zone,
                        severity=severity,
                    )
                    recommended = [each.body.code for each in recommend(session=session, case=case)]
                    assert "customs" not in recommended, (port, zone, severity)
                    assert recommended[:2] == ["anti-corruption", "police-port-unit"]

    def test_examples_of_the_issue(self, session: Session) -> None:
        def bodies(category: str, severity: int | None = None) -> set[str]:
            case = a_case(session, category=category, zone="ct-north", severity=severity)
            return {each.body.code for each in recommend(session=session, case=case)}

        assert bodies("bribery-port-staff") == {"police-port-unit", "terminal-security"}
        assert bodies("cyber-incident") == {"csirt"}
        assert {"border-force", "police-port-unit"} <= bodies("trafficking-facilitation")
        assert bodies("stowaway-smuggling") == {"border-force", "police-port-unit"}
        assert bodies("contraband-found") == {"customs"}
        assert bodies("seal-tampering") == {"customs", "terminal-security"}
        assert bodies("intimidation") == {"labour-inspectorate", "police-port-unit"}
        assert bodies("union-broker-pressure") == {"labour-inspectorate", "police-port-unit"}
        assert "coast-guard" in bodies("suspicious-vessel")
        assert "prosecutor" in bodies("corruption-officials", severity=3)

    def test_the_demo_bodies_have_an_e_mail_and_the_local_ones_act_in_norderhaven(
        self, session: Session
    ) -> None:
        bodies = {body.code: body for body in session.exec(select(Body))}
        for code in ("port-authority", "police-port-unit", "csirt", "customs"):
            assert bodies[code].notification_email == f"{code}@demo.portline.test"
        reach = session.exec(
            select(Body.code, Port.code)
            .join(BodyJurisdiction, col(BodyJurisdiction.body_id) == col(Body.id))
            .join(Port, col(Port.id) == col(BodyJurisdiction.port_id))
        ).all()
        assert sorted(reach) == [("port-authority", "NHV"), ("terminal-security", "NHV")]

    def test_seeding_again_adds_nothing(self, session: Session) -> None:
        before = session.exec(select(RoutingRule.id)).all()
        seed_demo(session)
        assert session.exec(select(RoutingRule.id)).all() == before

    def test_the_demo_profiles_leave_a_rule_for_every_port_alone(
        self, session: Session, rules: Rules
    ) -> None:
        mine = rules.rule("mine", rules.body("mine"))
        seed_demo(session)
        others = session.exec(select(RoutingRule).where(RoutingRule.id != mine.id)).all()
        assert session.get(RoutingRule, mine.id) is mine and mine.name == "mine"
        assert others and all(rule.port_id is not None for rule in others)
