"""Routing rules through the API: administrators write, order and delete them; triagers
read them; every change is audited."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from api.agencies.models import RoutingRule
from api.crypto import KeyRing
from api.errors import Forbidden
from api.policy import Role
from api.routing import service as routing_service
from api.routing.schemas import RuleIn
from tests.factories import make_staff
from tests.routing.helpers import audit_entries, sign_in_as


def new_rule(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "name": "Seals cut at the north terminal: customs",
        "body": "customs",
        "kind": "incident",
        "category": "seal-tampering",
        "port": "NHV",
        "zone": "ct-north",
        "min_severity": 2,
    }
    payload.update(overrides)
    return payload


def _rule_count(session: Session) -> int:
    return session.exec(select(func.count()).select_from(RoutingRule)).one()


@pytest.fixture
def admin(client: TestClient, session: Session, keyring: KeyRing) -> dict[str, str]:
    return sign_in_as(client, session, keyring, Role.administrator)


class TestWriting:
    def test_a_rule_is_added_after_every_other_and_audited(
        self, client: TestClient, session: Session, admin: dict[str, str]
    ) -> None:
        before = client.get("/api/v1/routing-rules").json()
        created = client.post("/api/v1/routing-rules", json=new_rule(), headers=admin)
        assert created.status_code == 201, created.text
        rule = created.json()
        assert rule["body"] == "customs" and rule["body_name"] == "Customs"
        assert (rule["kind"], rule["category"], rule["port"], rule["zone"]) == (
            "incident",
            "seal-tampering",
            "NHV",
            "ct-north",
        )
        assert rule["zone_name"] == "Container terminal North"
        assert rule["min_severity"] == 2 and rule["active"] is True
        after = client.get("/api/v1/routing-rules").json()
        assert [each["id"] for each in after] == [each["id"] for each in before] + [rule["id"]]
        [entry] = audit_entries(session, "routing_rule", rule["id"])
        assert entry.action == "routing_rule.created"

    def test_a_rule_with_no_condition_matches_any_case(
        self, client: TestClient, admin: dict[str, str]
    ) -> None:
        created = client.post(
            "/api/v1/routing-rules",
            json={"name": "Everything to the prosecutor", "body": "prosecutor"},
            headers=admin,
        )
        assert created.status_code == 201, created.text
        rule = created.json()
        assert [rule[name] for name in ("kind", "category", "port", "zone", "min_severity")] == [
            None
        ] * 5

    def test_a_rule_is_replaced_whole_and_keeps_its_place(
        self, client: TestClient, session: Session, admin: dict[str, str]
    ) -> None:
        rule = client.post("/api/v1/routing-rules", json=new_rule(), headers=admin).json()
        replaced = client.put(
            f"/api/v1/routing-rules/{rule['id']}",
            json={
                "name": "Any seal case: terminal security",
                "body": "terminal-security",
                "category": "seal-tampering",
                "active": False,
            },
            headers=admin,
        )
        assert replaced.status_code == 200, replaced.text
        after = replaced.json()
        assert after["position"] == rule["position"]
        assert (after["body"], after["kind"], after["port"], after["zone"]) == (
            "terminal-security",
            None,
            None,
            None,
        )
        assert after["min_severity"] is None and after["active"] is False
        assert client.get(f"/api/v1/routing-rules/{rule['id']}").json() == after
        changed = audit_entries(session, "routing_rule", rule["id"])[-1]
        assert changed.action == "routing_rule.changed"
        assert "body_id" in changed.detail and '"active":false' in changed.detail

    def test_rules_move_up_and_down_one_place_at_a_time(
        self, client: TestClient, session: Session, admin: dict[str, str]
    ) -> None:
        ids = [
            client.post(
                "/api/v1/routing-rules", json=new_rule(name=f"Rule {letter}"), headers=admin
            ).json()["id"]
            for letter in "ABC"
        ]
        a, b, c = ids

        def order() -> list[int]:
            return [rule["id"] for rule in client.get("/api/v1/routing-rules").json()][-3:]

        moved = client.post(
            f"/api/v1/routing-rules/{c}/move", json={"direction": "up"}, headers=admin
        )
        assert moved.status_code == 200, moved.text
        assert [rule["id"] for rule in moved.json()][-3:] == [a, c, b] == order()
        client.post(f"/api/v1/routing-rules/{a}/move", json={"direction": "down"}, headers=admin)
        assert order() == [c, a, b]
        # The last rule cannot go further down: nothing changes, nothing is audited.
        entries = len(audit_entries(session, "routing_rule", b))
        client.post(f"/api/v1/routing-rules/{b}/move", json={"direction": "down"}, headers=admin)
        assert order() == [c, a, b]
        assert len(audit_entries(session, "routing_rule", b)) == entries
        positions = [rule["position"] for rule in client.get("/api/v1/routing-rules").json()]
        assert positions == sorted(set(positions))
        assert audit_entries(session, "routing_rule", c)[-1].action == "routing_rule.moved"

    def test_the_first_rule_goes_down_past_an_equal_position(
        self, client: TestClient, session: Session, admin: dict[str, str]
    ) -> None:
        first, second = (
            client.post("/api/v1/routing-rules", json=new_rule(), headers=admin).json()["id"]
            for _ in range(2)
        )
        # Older data may hold two rules at one position: the order is then by id.
        for rule_id in (first, second):
            rule = session.get(RoutingRule, rule_id)
            assert rule is not None
            rule.position = 1000
            session.add(rule)
        session.flush()
        moved = client.post(
            f"/api/v1/routing-rules/{first}/move", json={"direction": "down"}, headers=admin
        )
        assert [rule["id"] for rule in moved.json()][-2:] == [second, first]

    def test_a_deleted_rule_is_gone_and_the_deletion_audited(
        self, client: TestClient, session: Session, admin: dict[str, str]
    ) -> None:
        rule = client.post("/api/v1/routing-rules", json=new_rule(), headers=admin).json()
        deleted = client.delete(f"/api/v1/routing-rules/{rule['id']}", headers=admin)
        assert deleted.status_code == 204
        assert client.get(f"/api/v1/routing-rules/{rule['id']}").status_code == 404
        again = client.delete(f"/api/v1/routing-rules/{rule['id']}", headers=admin)
        assert again.status_code == 404
        last = audit_entries(session, "routing_rule", rule["id"])[-1]
        assert last.action == "routing_rule.deleted" and '"body":"customs"' in last.detail


BAD_RULES = [
    pytest.param({"min_severity": 7}, "min_severity", id="severity-7"),
    pytest.param({"min_severity": 0}, "min_severity", id="severity-0"),
    pytest.param({"body": "navy"}, "body", id="body"),
    pytest.param({"kind": "weather"}, "kind", id="kind"),
    pytest.param({"category": "piracy"}, "category", id="category"),
    pytest.param({"kind": "integrity"}, "category", id="category-of-another-kind"),
    pytest.param({"port": "XXX", "zone": None}, "port", id="port"),
    pytest.param({"port": None}, "zone", id="zone-without-port"),
    pytest.param({"port": "KVL"}, "zone", id="zone-not-in-port"),
    pytest.param({"name": " "}, "name", id="name-blank"),
    pytest.param({"name": "x" * 161}, "name", id="name-long"),
    pytest.param({"position": 1}, "position", id="extra"),
]


class TestRefusals:
    @pytest.mark.parametrize(("change", "field"), BAD_RULES)
    def test_bad_input_is_refused_naming_the_field_and_nothing_is_stored(
        self,
        client: TestClient,
        session: Session,
        admin: dict[str, str],
        change: dict[str, Any],
        field: str,
    ) -> None:
        before = _rule_count(session)
        refused = client.post("/api/v1/routing-rules", json=new_rule(**change), headers=admin)
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["fields"][0]["field"] == field
        assert _rule_count(session) == before

    def test_a_replacement_is_checked_the_same_way(
        self, client: TestClient, admin: dict[str, str]
    ) -> None:
        rule_id = client.get("/api/v1/routing-rules").json()[0]["id"]
        refused = client.put(
            f"/api/v1/routing-rules/{rule_id}", json=new_rule(min_severity=7), headers=admin
        )
        assert refused.status_code == 422
        assert refused.json()["error"]["fields"][0]["field"] == "min_severity"
        wrong_way = client.post(
            f"/api/v1/routing-rules/{rule_id}/move", json={"direction": "sideways"}, headers=admin
        )
        assert wrong_way.status_code == 422
        assert wrong_way.json()["error"]["fields"][0]["field"] == "direction"

    def test_an_unknown_rule_is_not_found(self, client: TestClient, admin: dict[str, str]) -> None:
        assert client.get("/api/v1/routing-rules/987654").status_code == 404
        missing = client.put("/api/v1/routing-rules/987654", json=new_rule(), headers=admin)
        assert missing.status_code == 404
        moved = client.post(
            "/api/v1/routing-rules/987654/move", json={"direction": "up"}, headers=admin
        )
        assert moved.status_code == 404


class TestWhoMay:
    def test_a_triager_reads_the_rules_but_cannot_change_them(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        csrf = sign_in_as(client, session, keyring, Role.triager)
        rules = client.get("/api/v1/routing-rules")
        assert rules.status_code == 200 and len(rules.json()) > 20
        rule_id = rules.json()[0]["id"]
        assert client.get(f"/api/v1/routing-rules/{rule_id}").status_code == 200
        self._refused_changes(client, session, csrf, rule_id)

    @pytest.mark.parametrize("role", [Role.liaison, Role.auditor])
    def test_liaison_officers_and_auditors_neither_read_nor_change_them(
        self, client: TestClient, session: Session, keyring: KeyRing, role: Role
    ) -> None:
        csrf = sign_in_as(client, session, keyring, role)
        assert client.get("/api/v1/routing-rules").status_code == 403
        rule_id = session.exec(select(RoutingRule.id)).first()
        assert rule_id is not None
        assert client.get(f"/api/v1/routing-rules/{rule_id}").status_code == 403
        self._refused_changes(client, session, csrf, rule_id)

    @staticmethod
    def _refused_changes(
        client: TestClient, session: Session, csrf: dict[str, str], rule_id: int
    ) -> None:
        before = _rule_count(session)
        assert client.post("/api/v1/routing-rules", json=new_rule(), headers=csrf).status_code == (
            403
        )
        put = client.put(f"/api/v1/routing-rules/{rule_id}", json=new_rule(), headers=csrf)
        assert put.status_code == 403
        move = client.post(
            f"/api/v1/routing-rules/{rule_id}/move", json={"direction": "down"}, headers=csrf
        )
        assert move.status_code == 403
        assert client.delete(f"/api/v1/routing-rules/{rule_id}", headers=csrf).status_code == 403
        assert _rule_count(session) == before
        assert audit_entries(session, "routing_rule", rule_id) == []

    def test_nobody_signed_in_gets_401(self, client: TestClient, session: Session) -> None:
        rule_id = session.exec(select(RoutingRule.id)).first()
        for response in (
            client.get("/api/v1/routing-rules"),
            client.get(f"/api/v1/routing-rules/{rule_id}"),
            client.post("/api/v1/routing-rules", json=new_rule()),
            client.put(f"/api/v1/routing-rules/{rule_id}", json=new_rule()),
            client.post(f"/api/v1/routing-rules/{rule_id}/move", json={"direction": "up"}),
            client.delete(f"/api/v1/routing-rules/{rule_id}"),
        ):
            assert response.status_code == 401
            assert response.json()["error"]["code"] == "unauthorized"

    def test_the_service_refuses_a_triager_too(self, session: Session, keyring: KeyRing) -> None:
        triager, _secret = make_staff(session, keyring, role=Role.triager)
        with pytest.raises(Forbidden):
            routing_service.create_rule(
                session=session,
                keyring=keyring,
                actor=triager,
                rule_in=RuleIn.model_validate(new_rule()),
                now=triager.created_at,
            )
        auditor, _secret = make_staff(session, keyring, role=Role.auditor)
        with pytest.raises(Forbidden):
            routing_service.list_rules(session=session, actor=auditor)
