"""Administrators configure ports, zones, emergency numbers and categories through the API:
names per language, a fallback to the port's first language on the reporter's side, retired
things kept on old cases but no longer offered, the order reporters see, every change
audited with its values before and after, bad input refused naming the field."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from api.crypto import KeyRing
from api.policy import Role
from api.ports.models import Port, Zone
from api.taxonomy.models import Category
from tests.factories import make_staff, post_report, report_payload
from tests.routing.helpers import audit_entries, sign_in_as
from tests.server import fired_together, keyring_of, running_server, server_environment, signed_in

NEW_PORT = {
    "code": "TWK",
    "name": {"nl": "Haven van Testwijk", "en": "Port of Testwick"},
    "country": "NL",
    "timezone": "Europe/Amsterdam",
    "languages": ["nl", "en"],
}


@pytest.fixture
def admin(client: TestClient, session: Session, keyring: KeyRing) -> dict[str, str]:
    return sign_in_as(client, session, keyring, Role.administrator)


def _config(client: TestClient, language: str) -> dict[str, Any]:
    answer = client.get("/api/v1/public/config", params={"lang": language})
    assert answer.status_code == 200
    config: dict[str, Any] = answer.json()
    return config


def _port_of(config: dict[str, Any], code: str) -> dict[str, Any]:
    ports = config["ports"]
    assert isinstance(ports, list)
    return next(port for port in ports if port["code"] == code)


def _new_port(client: TestClient, admin: dict[str, str]) -> dict[str, Any]:
    created = client.post("/api/v1/ports", json=NEW_PORT, headers=admin)
    assert created.status_code == 201, created.text
    for zone in (
        {"code": "north", "kind": "container_terminal", "name": {"nl": "Noord", "en": "North"}},
        {"code": "gate", "kind": "gate", "name": {"nl": "Poort"}},
        {"code": "quay", "kind": "berth", "name": {"nl": "Kade", "fr": "Quai"}},
    ):
        added = client.post("/api/v1/ports/TWK/zones", json=zone, headers=admin)
        assert added.status_code == 201, added.text
    number = {
        "number": "112",
        "label": {"nl": "Alarmnummer", "en": "Emergency"},
        "when": {"en": "Someone is hurt now"},
    }
    added = client.post("/api/v1/ports/TWK/emergency-numbers", json=number, headers=admin)
    assert added.status_code == 201, added.text
    port: dict[str, Any] = added.json()
    return port


class TestPorts:
    def test_a_new_port_reaches_reporters_in_their_language_or_its_first(
        self, client: TestClient, session: Session, admin: dict[str, str]
    ) -> None:
        port = _new_port(client, admin)
        assert [zone["code"] for zone in port["zones"]] == ["north", "gate", "quay"]
        english = _port_of(_config(client, "en"), "TWK")
        assert english["name"] == "Port of Testwick"
        # A name missing in English falls back to Dutch, the port's first language.
        assert [zone["name"] for zone in english["zones"]] == ["North", "Poort", "Kade"]
        assert english["emergency_numbers"] == [
            {"label": "Emergency", "number": "112", "when": "Someone is hurt now"}
        ]
        french = _port_of(_config(client, "fr"), "TWK")
        assert [zone["name"] for zone in french["zones"]] == ["Noord", "Poort", "Quai"]
        assert french["emergency_numbers"][0]["label"] == "Alarmnummer"
        [entry] = [e for e in audit_entries(session, "port", "TWK") if e.action == "port.created"]
        assert json.loads(entry.detail)["languages"] == "nl,en"

    def test_a_reporter_files_in_the_new_port(
        self, client: TestClient, admin: dict[str, str]
    ) -> None:
        _new_port(client, admin)
        sent = post_report(client, report_payload(port="TWK", zone="quay"))
        assert sent.status_code == 201, sent.text

    def test_a_rename_is_audited_with_before_and_after(
        self, client: TestClient, session: Session, admin: dict[str, str]
    ) -> None:
        _new_port(client, admin)
        renamed = client.patch(
            "/api/v1/ports/TWK/zones/gate",
            json={"name": {"nl": "Hoofdpoort", "en": "Main gate"}},
            headers=admin,
        )
        assert renamed.status_code == 200, renamed.text
        entry = audit_entries(session, "port", "TWK")[-1]
        assert entry.action == "port.zone_changed"
        detail = json.loads(entry.detail)
        assert detail["zone"] == "gate"
        assert detail["names"] == '{"nl": "Poort"} -> {"en": "Main gate", "nl": "Hoofdpoort"}'
        assert detail["name"] == '"Poort" -> "Hoofdpoort"'
        # The same change again changes nothing and is not audited.
        again = client.patch(
            "/api/v1/ports/TWK/zones/gate",
            json={"name": {"nl": "Hoofdpoort", "en": "Main gate"}},
            headers=admin,
        )
        assert again.status_code == 200
        assert audit_entries(session, "port", "TWK")[-1].seq == entry.seq

    def test_zones_and_numbers_are_reordered(
        self, client: TestClient, session: Session, admin: dict[str, str]
    ) -> None:
        _new_port(client, admin)
        moved = client.post(
            "/api/v1/ports/TWK/zones/quay/move", json={"direction": "up"}, headers=admin
        )
        assert moved.status_code == 200
        assert [zone["code"] for zone in moved.json()["zones"]] == ["north", "quay", "gate"]
        first = client.post(
            "/api/v1/ports/TWK/zones/north/move", json={"direction": "up"}, headers=admin
        )
        assert [zone["code"] for zone in first.json()["zones"]] == ["north", "quay", "gate"]
        zones = _port_of(_config(client, "en"), "TWK")["zones"]
        assert [zone["code"] for zone in zones] == ["north", "quay", "gate"]
        second = client.post(
            "/api/v1/ports/TWK/emergency-numbers",
            json={"number": "+31 10 000 0000", "label": {"nl": "Beveiliging"}},
            headers=admin,
        ).json()["emergency_numbers"][1]
        up = client.post(
            f"/api/v1/ports/TWK/emergency-numbers/{second['id']}/move",
            json={"direction": "up"},
            headers=admin,
        )
        assert [each["number"] for each in up.json()["emergency_numbers"]] == [
            "+31 10 000 0000",
            "112",
        ]
        assert audit_entries(session, "port", "TWK")[-1].action == "port.number_moved"

    def test_a_retired_zone_stays_on_its_cases_but_is_no_longer_offered(
        self, client: TestClient, session: Session, admin: dict[str, str]
    ) -> None:
        _new_port(client, admin)
        assert post_report(client, report_payload(port="TWK", zone="gate")).status_code == 201
        retired = client.patch(
            "/api/v1/ports/TWK/zones/gate", json={"active": False}, headers=admin
        )
        assert retired.status_code == 200
        assert audit_entries(session, "port", "TWK")[-1].action == "port.zone_retired"
        zones = _port_of(_config(client, "en"), "TWK")["zones"]
        assert "gate" not in [zone["code"] for zone in zones]
        refused = post_report(client, report_payload(port="TWK", zone="gate"))
        assert refused.status_code == 422
        port_id = session.exec(select(Port.id).where(Port.code == "TWK")).one()
        gate = session.exec(select(Zone).where(Zone.code == "gate", Zone.port_id == port_id)).one()
        assert gate.active is False  # still there, for the case that names it

    def test_a_retired_number_and_port_are_no_longer_shown(
        self, client: TestClient, admin: dict[str, str]
    ) -> None:
        number = _new_port(client, admin)["emergency_numbers"][0]
        client.patch(
            f"/api/v1/ports/TWK/emergency-numbers/{number['id']}",
            json={"active": False},
            headers=admin,
        )
        assert _port_of(_config(client, "en"), "TWK")["emergency_numbers"] == []
        client.patch("/api/v1/ports/TWK", json={"active": False}, headers=admin)
        ports = _config(client, "en")["ports"]
        assert isinstance(ports, list) and "TWK" not in [port["code"] for port in ports]
        assert client.get("/api/v1/ports/TWK", headers=admin).json()["active"] is False

    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"code": "twk"}, "code"),
            ({"timezone": "Mars/Olympus"}, "timezone"),
            ({"languages": ["nl", "nl"]}, "languages"),
            ({"languages": ["xx"]}, "languages[0]"),
            ({"name": {"en": "Only English"}}, "name"),  # no Dutch, the first language
            ({"country": "Netherlands"}, "country"),
        ],
    )
    def test_bad_input_is_refused_naming_the_field_and_nothing_is_stored(
        self,
        client: TestClient,
        session: Session,
        admin: dict[str, str],
        change: dict[str, object],
        field: str,
    ) -> None:
        refused = client.post("/api/v1/ports", json={**NEW_PORT, **change}, headers=admin)
        assert refused.status_code == 422, refused.text
        fields = [problem["field"] for problem in refused.json()["error"]["fields"]]
        assert any(each.startswith(field) or each.endswith(field) for each in fields), fields
        assert session.exec(select(Port).where(col(Port.code).in_(["TWK", "twk"]))).first() is None

    def test_a_code_taken_and_an_unknown_port_or_zone(
        self, client: TestClient, admin: dict[str, str]
    ) -> None:
        _new_port(client, admin)
        assert client.post("/api/v1/ports", json=NEW_PORT, headers=admin).status_code == 409
        zone = {"code": "gate", "kind": "gate", "name": {"nl": "Poort 2"}}
        assert client.post("/api/v1/ports/TWK/zones", json=zone, headers=admin).status_code == 409
        assert client.get("/api/v1/ports/NOPE", headers=admin).status_code == 404
        missing = client.patch("/api/v1/ports/TWK/zones/moat", json={}, headers=admin)
        assert missing.status_code == 404
        other = client.patch("/api/v1/ports/NHV/emergency-numbers/999999", json={}, headers=admin)
        assert other.status_code == 404

    def test_only_administrators_configure_ports(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        headers = sign_in_as(client, session, keyring, Role.triager)
        assert client.post("/api/v1/ports", json=NEW_PORT, headers=headers).status_code == 403
        assert client.get("/api/v1/ports/NHV", headers=headers).status_code == 403


class TestCategories:
    def test_names_per_language_reach_reporters(
        self, client: TestClient, session: Session, admin: dict[str, str]
    ) -> None:
        changed = client.patch(
            "/api/v1/categories/seal-tampering",
            json={"name": {"en": "A seal was broken", "nl": "Een zegel is verbroken"}},
            headers=admin,
        )
        assert changed.status_code == 200, changed.text
        shown = {c["code"]: c["name"] for c in _config(client, "nl")["categories"]}
        assert shown["seal-tampering"] == "Een zegel is verbroken"
        # German was not given: English, the instance's fallback.
        shown = {c["code"]: c["name"] for c in _config(client, "de")["categories"]}
        assert shown["seal-tampering"] == "A seal was broken"
        entry = audit_entries(session, "category", "seal-tampering")[-1]
        assert entry.action == "category.changed"
        assert '-> {"en": "A seal was broken"' in json.loads(entry.detail)["names"]

    def test_a_category_is_added_moved_between_kinds_and_retired(
        self, client: TestClient, session: Session, admin: dict[str, str]
    ) -> None:
        new = {
            "code": "drone-overflight",
            "kind": "incident",
            "name": {"en": "A drone flew over the terminal"},
            "hint": {"en": "For example: at night over the reefer stacks."},
        }
        created = client.post("/api/v1/categories", json=new, headers=admin)
        assert created.status_code == 201, created.text
        listed = client.get("/api/v1/categories", headers=admin).json()
        incidents = [c["code"] for c in listed if c["kind"] == "incident"]
        assert incidents[-1] == "drone-overflight"
        up = client.post(
            "/api/v1/categories/drone-overflight/move", json={"direction": "up"}, headers=admin
        )
        assert [c["code"] for c in up.json() if c["kind"] == "incident"][-2] == "drone-overflight"
        moved = client.patch(
            "/api/v1/categories/drone-overflight", json={"kind": "integrity"}, headers=admin
        )
        assert moved.json()["kind"] == "integrity"
        integrity = [
            c
            for c in client.get("/api/v1/categories", headers=admin).json()
            if c["kind"] == "integrity"
        ]
        assert integrity[-1]["code"] == "drone-overflight"
        assert [c["position"] for c in integrity] == list(range(1, len(integrity) + 1))
        retired = client.patch(
            "/api/v1/categories/drone-overflight", json={"active": False}, headers=admin
        )
        assert retired.json()["active"] is False
        codes = [c["code"] for c in _config(client, "en")["categories"]]
        assert "drone-overflight" not in codes
        actions = [e.action for e in audit_entries(session, "category", "drone-overflight")]
        assert actions == [
            "category.created",
            "category.moved",
            "category.changed",
            "category.retired",
        ]

    def test_a_category_of_cases_is_retired_never_deleted_and_counts_them(
        self, client: TestClient, session: Session, admin: dict[str, str]
    ) -> None:
        assert post_report(client, report_payload(category="theft")).status_code == 201
        theft = client.get("/api/v1/categories/theft", headers=admin).json()
        assert theft["cases"] >= 1
        client.patch("/api/v1/categories/theft", json={"active": False}, headers=admin)
        assert session.exec(select(Category).where(Category.code == "theft")).one()
        refused = post_report(client, report_payload(category="theft"))
        assert refused.status_code == 422

    @pytest.mark.parametrize(
        ("payload", "field"),
        [
            ({"code": "Bad Code", "kind": "incident", "name": {"en": "x"}}, "code"),
            ({"code": "ok-code", "kind": "weather", "name": {"en": "x"}}, "kind"),
            ({"code": "ok-code", "kind": "incident", "name": {}}, "name"),
            ({"code": "ok-code", "kind": "incident", "name": {"xx": "x"}}, "name.xx"),
        ],
    )
    def test_bad_input_is_refused_naming_the_field(
        self, client: TestClient, admin: dict[str, str], payload: dict[str, object], field: str
    ) -> None:
        refused = client.post("/api/v1/categories", json=payload, headers=admin)
        assert refused.status_code == 422, refused.text
        fields = [problem["field"] for problem in refused.json()["error"]["fields"]]
        assert any(each.startswith(field) or each.endswith(field) for each in fields), fields


class TestTwoAdministratorsAtOnce:
    def test_the_same_new_port_zone_or_category_lands_once_and_never_as_a_500(
        self, live_database: tuple[str, Engine], tmp_path: Path
    ) -> None:
        url, engine = live_database
        environment = server_environment(url, tmp_path)
        keyring = keyring_of(environment)
        with Session(engine, expire_on_commit=False) as session:
            admins = [make_staff(session, keyring, role=Role.administrator) for _ in range(2)]
            session.commit()
        with running_server(environment, tmp_path / "server.log") as base_url:
            clients = [httpx.Client(base_url=base_url, timeout=30) for _ in admins]
            headers = [
                signed_in(client, staff.email, secret)
                for client, (staff, secret) in zip(clients, admins, strict=True)
            ]
            for round_number in range(5):
                code = f"R{round_number}"
                zone = {"code": "gate", "kind": "gate", "name": {"en": "Gate"}}
                category = {"code": f"new-{round_number}", "kind": "incident", "name": {"en": "x"}}
                for path, payload in (
                    ("/api/v1/ports", {**NEW_PORT, "code": code}),
                    (f"/api/v1/ports/{code}/zones", {**zone, "name": {"nl": "Poort"}}),
                    ("/api/v1/categories", category),
                ):
                    answers = fired_together(
                        [
                            partial(client.post, path, json=payload, headers=header)
                            for client, header in zip(clients, headers, strict=True)
                        ]
                    )
                    assert sorted(answer.status_code for answer in answers) == [201, 409], [
                        answer.text for answer in answers
                    ]
            for client in clients:
                client.close()
        with Session(engine) as session:
            assert len(session.exec(select(Port).where(col(Port.code).like("R%"))).all()) == 5
