"""Receiving bodies through the API: administrators add and change them, the webhook secret
goes in and never comes out again, every change is audited."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from api.agencies import service as agencies_service
from api.agencies.models import Body
from api.agencies.schemas import BodyCreate
from api.audit.models import AuditEntry
from api.crypto import KeyRing
from api.errors import Forbidden
from api.policy import Role
from tests.factories import make_staff
from tests.routing.helpers import audit_entries, sign_in_as

SECRET = "a-secret-the-body-chose-4417-harbour"


def new_body(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "code": "harbour-police",
        "name": "Harbour police – night desk",
        "kind": "police",
        "jurisdiction": [{"port": "NHV", "zone": "ct-north"}, {"port": "KVL"}],
        "notification_email": "night-desk@police.example.test",
    }
    payload.update(overrides)
    return payload


def _stored(session: Session, code: str) -> Body:
    return session.exec(select(Body).where(Body.code == code)).one()


def _body_count(session: Session) -> int:
    return session.exec(select(func.count()).select_from(Body)).one()


@pytest.fixture
def admin(client: TestClient, session: Session, keyring: KeyRing) -> dict[str, str]:
    return sign_in_as(client, session, keyring, Role.administrator)


class TestListing:
    def test_the_demo_bodies_are_listed_with_their_reach_and_e_mail(
        self, client: TestClient, admin: dict[str, str]
    ) -> None:
        listed = client.get("/api/v1/bodies")
        assert listed.status_code == 200
        bodies = {body["code"]: body for body in listed.json()}
        assert len(bodies) >= 10
        authority = bodies["port-authority"]
        assert authority["jurisdiction"] == [
            {"port": "NHV", "port_name": "Port of Norderhaven", "zone": None, "zone_name": None}
        ]
        assert authority["notification_email"] == "port-authority@demo.portline.test"
        assert bodies["police-port-unit"]["jurisdiction"] == []  # everywhere
        assert all("secret" not in key or key == "has_webhook_secret" for key in authority)

    def test_an_unknown_body_is_not_found(self, client: TestClient, admin: dict[str, str]) -> None:
        missing = client.get("/api/v1/bodies/no-such-body")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "not_found"


class TestCreating:
    def test_a_body_is_added_with_its_reach_and_audited(
        self, client: TestClient, session: Session, admin: dict[str, str]
    ) -> None:
        created = client.post("/api/v1/bodies", json=new_body(), headers=admin)
        assert created.status_code == 201, created.text
        body = created.json()
        assert body["code"] == "harbour-police" and body["active"] is True
        assert [(place["port"], place["zone"]) for place in body["jurisdiction"]] == [
            ("KVL", None),
            ("NHV", "ct-north"),
        ]
        assert body["has_webhook_secret"] is False and body["generated_webhook_secret"] is None
        assert client.get("/api/v1/bodies/harbour-police").json()["name"] == (
            "Harbour police – night desk"
        )
        [entry] = audit_entries(session, "body", "harbour-police")
        assert entry.action == "body.created"

    def test_a_generated_secret_is_shown_once_and_opens_for_the_worker(
        self, client: TestClient, session: Session, keyring: KeyRing, admin: dict[str, str]
    ) -> None:
        created = client.post(
            "/api/v1/bodies",
            json=new_body(
                webhook_url="https://intake.police.example.test/portline",
                generate_webhook_secret=True,
            ),
            headers=admin,
        )
        assert created.status_code == 201, created.text
        secret = created.json()["generated_webhook_secret"]
        assert isinstance(secret, str) and len(secret) >= 40
        assert created.json()["has_webhook_secret"] is True

        # Never again: not in the body, not in the list, not after a change.
        assert secret not in client.get("/api/v1/bodies/harbour-police").text
        assert secret not in client.get("/api/v1/bodies").text
        changed = client.patch(
            "/api/v1/bodies/harbour-police", json={"name": "Harbour police"}, headers=admin
        )
        assert changed.status_code == 200
        assert secret not in changed.text and changed.json()["generated_webhook_secret"] is None

        body = _stored(session, "harbour-police")
        assert agencies_service.webhook_secret(session=session, keyring=keyring, body=body) == (
            secret
        )
        assert body.webhook_secret_sealed is not None
        assert secret.encode() not in body.webhook_secret_sealed
        for entry in audit_entries(session, "body", "harbour-police"):
            assert secret not in entry.detail
        assert (
            '"webhook_secret":"generated"'
            in audit_entries(session, "body", "harbour-police")[0].detail
        )

    def test_a_whole_port_takes_in_its_zones(
        self, client: TestClient, admin: dict[str, str]
    ) -> None:
        created = client.post(
            "/api/v1/bodies",
            json=new_body(
                jurisdiction=[
                    {"port": "NHV", "zone": "ct-north"},
                    {"port": "NHV"},
                    {"port": "NHV", "zone": None},
                ]
            ),
            headers=admin,
        )
        assert created.status_code == 201, created.text
        assert [(p["port"], p["zone"]) for p in created.json()["jurisdiction"]] == [("NHV", None)]

    def test_a_plain_http_webhook_is_allowed_only_on_this_machine(
        self, client: TestClient, admin: dict[str, str]
    ) -> None:
        for number, url in enumerate(
            ("http://localhost:8025/hook", "http://127.0.0.1/hook", "https://example.test")
        ):
            created = client.post(
                "/api/v1/bodies",
                json=new_body(code=f"local-{number}", webhook_url=url, webhook_secret=SECRET),
                headers=admin,
            )
            assert created.status_code == 201, (url, created.text)

    def test_a_code_already_taken_is_refused(
        self, client: TestClient, session: Session, admin: dict[str, str]
    ) -> None:
        before = _body_count(session)
        refused = client.post("/api/v1/bodies", json=new_body(code="customs"), headers=admin)
        assert refused.status_code == 409
        assert refused.json()["error"]["fields"][0]["field"] == "code"
        assert _body_count(session) == before


BAD_BODIES = [
    pytest.param({"notification_email": "not-an-address"}, "notification_email", id="email"),
    pytest.param({"notification_email": "desk@localhost"}, "notification_email", id="email-tld"),
    pytest.param({"notification_email": "a b@example.test"}, "notification_email", id="email-sp"),
    pytest.param({"webhook_url": "ftp://example.test/hook"}, "webhook_url", id="url-scheme"),
    pytest.param({"webhook_url": "http://example.test/hook"}, "webhook_url", id="url-http"),
    pytest.param({"webhook_url": "https://u:p@example.test/"}, "webhook_url", id="url-userinfo"),
    pytest.param({"webhook_url": "https:///nohost"}, "webhook_url", id="url-host"),
    pytest.param({"webhook_url": "https://exa mple.test/"}, "webhook_url", id="url-space"),
    pytest.param({"webhook_url": "https://example.test:port/"}, "webhook_url", id="url-port"),
    pytest.param({"kind": "navy"}, "kind", id="kind"),
    pytest.param({"name": "   "}, "name", id="name-blank"),
    pytest.param({"code": "Harbour Police"}, "code", id="code"),
    pytest.param({"jurisdiction": [{"port": "XXX"}]}, "jurisdiction[0].port", id="port"),
    pytest.param(
        {"jurisdiction": [{"port": "NHV"}, {"port": "KVL", "zone": "ct-north"}]},
        "jurisdiction[1].zone",
        id="zone-not-in-port",
    ),
    pytest.param(
        {"webhook_url": "https://intake.example.test/"}, "webhook_secret", id="webhook-no-secret"
    ),
    pytest.param(
        {"webhook_secret": SECRET, "generate_webhook_secret": True},
        "webhook_secret",
        id="secret-and-generate",
    ),
    pytest.param({"webhook_secret": "short"}, "webhook_secret", id="secret-short"),
    pytest.param({"webhook_secret": "x" * 30 + "\n"}, "webhook_secret", id="secret-newline"),
    pytest.param({"colour": "blue"}, "colour", id="extra"),
]


class TestRefusals:
    @pytest.mark.parametrize(("change", "field"), BAD_BODIES)
    def test_bad_input_is_refused_naming_the_field_and_nothing_is_stored(
        self,
        client: TestClient,
        session: Session,
        admin: dict[str, str],
        change: dict[str, Any],
        field: str,
    ) -> None:
        before = _body_count(session)
        refused = client.post("/api/v1/bodies", json=new_body(**change), headers=admin)
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["fields"][0]["field"] == field
        assert _body_count(session) == before

    def test_a_change_is_checked_the_same_way(
        self, client: TestClient, admin: dict[str, str]
    ) -> None:
        for change, field in (
            ({"notification_email": "nobody"}, "notification_email"),
            ({"webhook_url": "http://example.test/"}, "webhook_url"),
            ({"kind": "navy"}, "kind"),
            ({"jurisdiction": [{"port": "KVL", "zone": "ct-north"}]}, "jurisdiction[0].zone"),
            ({"code": "renamed"}, "code"),
        ):
            refused = client.patch("/api/v1/bodies/customs", json=change, headers=admin)
            assert refused.status_code == 422, change
            assert refused.json()["error"]["fields"][0]["field"] == field


class TestChanging:
    def test_fields_left_out_stay_and_the_change_is_audited(
        self, client: TestClient, session: Session, admin: dict[str, str]
    ) -> None:
        changed = client.patch(
            "/api/v1/bodies/customs",
            json={"jurisdiction": [{"port": "NHV"}], "named_to_reporter": True},
            headers=admin,
        )
        assert changed.status_code == 200, changed.text
        body = changed.json()
        assert body["name"] == "Customs" and body["kind"] == "customs"
        assert body["named_to_reporter"] is True
        assert [place["port"] for place in body["jurisdiction"]] == ["NHV"]
        [entry] = audit_entries(session, "body", "customs")
        assert entry.action == "body.changed"
        assert '"changed":"named_to_reporter,jurisdiction"' in entry.detail

    def test_a_change_that_changes_nothing_is_not_audited(
        self, client: TestClient, session: Session, admin: dict[str, str]
    ) -> None:
        same = client.patch("/api/v1/bodies/customs", json={"name": "Customs"}, headers=admin)
        assert same.status_code == 200
        assert audit_entries(session, "body", "customs") == []

    def test_a_secret_is_set_replaced_and_removed_without_ever_being_shown(
        self, client: TestClient, session: Session, keyring: KeyRing, admin: dict[str, str]
    ) -> None:
        url = "https://intake.customs.example.test/portline"
        set_one = client.patch(
            "/api/v1/bodies/customs",
            json={"webhook_url": url, "webhook_secret": SECRET},
            headers=admin,
        )
        assert set_one.status_code == 200, set_one.text
        assert SECRET not in set_one.text and set_one.json()["has_webhook_secret"] is True
        body = _stored(session, "customs")
        assert agencies_service.webhook_secret(session=session, keyring=keyring, body=body) == (
            SECRET
        )
        first_key = body.webhook_wrapped_key

        generated = client.patch(
            "/api/v1/bodies/customs", json={"generate_webhook_secret": True}, headers=admin
        ).json()["generated_webhook_secret"]
        session.refresh(body)
        assert generated != SECRET and body.webhook_wrapped_key != first_key
        assert (
            agencies_service.webhook_secret(session=session, keyring=keyring, body=body)
            == generated
        )

        # A webhook cannot be left without its secret; with the webhook gone, it can.
        kept = client.patch("/api/v1/bodies/customs", json={"webhook_secret": ""}, headers=admin)
        assert kept.status_code == 422
        assert kept.json()["error"]["fields"][0]["field"] == "webhook_secret"
        removed = client.patch(
            "/api/v1/bodies/customs",
            json={"webhook_url": "", "webhook_secret": ""},
            headers=admin,
        )
        assert removed.status_code == 200 and removed.json()["has_webhook_secret"] is False
        session.refresh(body)
        assert agencies_service.webhook_secret(session=session, keyring=keyring, body=body) is None
        details = " ".join(entry.detail for entry in audit_entries(session, "body", "customs"))
        assert SECRET not in details and generated not in details
        assert '"webhook_secret":"set"' in details and '"webhook_secret":"removed"' in details

    def test_an_inactive_body_is_no_longer_offered_to_reporters(
        self, client: TestClient, session: Session, admin: dict[str, str]
    ) -> None:
        offered = client.get("/api/v1/public/config").json()
        assert "customs" in str(offered)
        changed = client.patch("/api/v1/bodies/customs", json={"active": False}, headers=admin)
        assert changed.status_code == 200 and changed.json()["active"] is False
        excludable = agencies_service.excludable_bodies(session=session)
        assert "customs" not in [body.code for body in excludable]
        [entry] = audit_entries(session, "body", "customs")
        assert '"active":false' in entry.detail

    def test_an_unknown_body_cannot_be_changed(
        self, client: TestClient, admin: dict[str, str]
    ) -> None:
        missing = client.patch("/api/v1/bodies/nobody", json={"name": "x"}, headers=admin)
        assert missing.status_code == 404


class TestWhoMay:
    @pytest.mark.parametrize("role", [Role.triager, Role.liaison, Role.auditor])
    def test_only_administrators_read_or_change_bodies(
        self, client: TestClient, session: Session, keyring: KeyRing, role: Role
    ) -> None:
        csrf = sign_in_as(client, session, keyring, role)
        before = _body_count(session)
        assert client.get("/api/v1/bodies").status_code == 403
        assert client.get("/api/v1/bodies/customs").status_code == 403
        assert client.post("/api/v1/bodies", json=new_body(), headers=csrf).status_code == 403
        patched = client.patch("/api/v1/bodies/customs", json={"active": False}, headers=csrf)
        assert patched.status_code == 403
        assert _body_count(session) == before
        assert _stored(session, "customs").active is True

    def test_nobody_signed_in_gets_401(self, client: TestClient) -> None:
        for response in (
            client.get("/api/v1/bodies"),
            client.get("/api/v1/bodies/customs"),
            client.post("/api/v1/bodies", json=new_body()),
            client.patch("/api/v1/bodies/customs", json={"active": False}),
        ):
            assert response.status_code == 401
            assert response.json()["error"]["code"] == "unauthorized"

    def test_a_change_without_the_csrf_token_is_refused(
        self, client: TestClient, session: Session, admin: dict[str, str]
    ) -> None:
        refused = client.patch("/api/v1/bodies/customs", json={"active": False})
        assert refused.status_code == 403
        assert _stored(session, "customs").active is True

    def test_the_service_refuses_a_triager_too(self, session: Session, keyring: KeyRing) -> None:
        triager, _secret = make_staff(session, keyring, role=Role.triager)
        with pytest.raises(Forbidden):
            agencies_service.create_body(
                session=session,
                keyring=keyring,
                actor=triager,
                body_in=BodyCreate.model_validate(new_body()),
                now=triager.created_at,
            )
        with pytest.raises(Forbidden):
            agencies_service.list_bodies(session=session, actor=triager)
        assert session.exec(select(AuditEntry).where(AuditEntry.object_type == "body")).all() == []
