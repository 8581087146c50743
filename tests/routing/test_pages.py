"""The console's pages for receiving bodies and routing rules: forms that keep what was typed
and say what is wrong, a secret shown once, confirmation before deactivating or deleting."""

from __future__ import annotations

import html
import re

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from api.agencies import service as agencies_service
from api.agencies.models import Body, RoutingRule
from api.crypto import KeyRing
from api.policy import Role
from tests.admin.people import csrf_of
from tests.routing.helpers import sign_in_as, text_of


@pytest.fixture
def admin(client: TestClient, session: Session, keyring: KeyRing) -> TestClient:
    sign_in_as(client, session, keyring, Role.administrator)
    return client


def _body(session: Session, code: str) -> Body:
    return session.exec(select(Body).where(Body.code == code)).one()


def _form(page: str, **fields: str | list[str]) -> dict[str, str | list[str]]:
    return {"csrf_token": csrf_of(page), **fields}


class TestNavigation:
    def test_an_administrator_finds_bodies_and_rules_in_the_menu_and_on_the_home_page(
        self, admin: TestClient
    ) -> None:
        home = admin.get("/admin")
        assert home.status_code == 200
        assert 'href="/admin/bodies">Receiving bodies</a>' in home.text
        assert 'href="/admin/rules">Routing rules</a>' in home.text
        assert "where each may act and how it is notified" in home.text

    def test_a_triager_finds_the_rules_but_not_the_bodies(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        sign_in_as(client, session, keyring, Role.triager)
        home = client.get("/admin")
        assert 'href="/admin/rules"' in home.text and 'href="/admin/bodies"' not in home.text
        assert client.get("/admin/bodies").status_code == 403
        assert client.get("/admin/bodies/customs/edit").status_code == 403


class TestBodies:
    def test_the_list_shows_each_body_its_reach_and_state(self, admin: TestClient) -> None:
        page = admin.get("/admin/bodies")
        assert page.status_code == 200
        assert page.headers["cache-control"] == "no-store"
        row = re.search(r'<tr id="body-port-authority">.*?</tr>', page.text, re.S)
        assert row
        text = text_of(row.group(0))
        assert "All of Port of Norderhaven" in text and "Port authority" in text
        assert "port-authority@demo.portline.test" in text and "Active" in text
        assert "/admin/bodies/port-authority/deactivate" in row.group(0)
        police = re.search(r'<tr id="body-police-port-unit">.*?</tr>', page.text, re.S)
        assert police and "Everywhere" in text_of(police.group(0))

    def test_a_body_is_added_and_its_generated_secret_shown_only_once(
        self, admin: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        form = admin.get("/admin/bodies/new")
        assert form.status_code == 200
        assert 'name="jurisdiction" value="NHV/ct-north"' in form.text
        assert 'value="KVL"' in form.text
        added = admin.post(
            "/admin/bodies",
            data=_form(
                form.text,
                code="harbour-police",
                name="Harbour police",
                kind="police",
                jurisdiction=["NHV/ct-north", "KVL"],
                notification_email="desk@police.example.test",
                webhook_url="https://intake.police.example.test/hook",
                key_action="generate",
                reporter_may_exclude="1",
            ),
        )
        assert added.status_code == 200, added.text
        shown = re.search(
            r'<p class="link-text" id="webhook-secret" dir="ltr">([^<]+)</p>', added.text
        )
        assert shown, added.text
        secret = shown.group(1)
        body = _body(session, "harbour-police")
        assert agencies_service.webhook_secret(session=session, keyring=keyring, body=body) == (
            secret
        )
        assert body.reporter_may_exclude and not body.named_to_reporter
        # Never again: not on the body's page, not in the list.
        again = admin.get("/admin/bodies/harbour-police/edit")
        assert secret not in again.text and "A secret is set." in again.text
        assert 'value="NHV/ct-north" checked' in again.text and 'value="KVL" checked' in again.text
        assert 'value="NHV" checked' not in again.text
        assert secret not in admin.get("/admin/bodies").text

    def test_a_bad_address_keeps_what_was_typed_and_names_the_problem(
        self, admin: TestClient, session: Session
    ) -> None:
        form = admin.get("/admin/bodies/new")
        refused = admin.post(
            "/admin/bodies",
            data=_form(
                form.text,
                code="harbour-police",
                name="Harbour <b>police</b>",
                kind="police",
                jurisdiction=["NHV"],
                notification_email="not an address",
                webhook_url="http://intake.example.test/hook",
                key_action="set",
                webhook_secret="typed-secret-that-must-not-come-back-1234",
            ),
        )
        assert refused.status_code == 422
        text = html.unescape(refused.text)
        assert "This is not an e-mail address." in text
        assert "Use an https address (http only for localhost or 127.0.0.1)." in text
        assert (
            'href="#notification_email"' in refused.text and 'href="#webhook_url"' in refused.text
        )
        assert 'value="Harbour &lt;b&gt;police&lt;/b&gt;"' in refused.text
        assert 'value="NHV" checked' in refused.text
        assert "typed-secret-that-must-not-come-back" not in refused.text
        assert 'value="set" checked' in refused.text
        assert session.exec(select(Body).where(Body.code == "harbour-police")).first() is None

    def test_a_webhook_without_a_secret_is_refused_next_to_the_secret(
        self, admin: TestClient
    ) -> None:
        form = admin.get("/admin/bodies/customs/edit")
        refused = admin.post(
            "/admin/bodies/customs/edit",
            data=_form(
                form.text,
                name="Customs",
                kind="customs",
                webhook_url="https://intake.customs.example.test/",
                key_action="keep",
            ),
        )
        assert refused.status_code == 422
        assert 'id="webhook_secret-error"' in refused.text
        assert "A webhook needs a secret to sign what it sends" in html.unescape(refused.text)

    def test_a_secret_the_body_chose_is_set_and_a_tampered_place_is_named(
        self, admin: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        form = admin.get("/admin/bodies/csirt/edit")
        chosen = "the-csirt-chose-this-secret-0042"
        fields = {
            "name": "National CSIRT",
            "kind": "csirt",
            "webhook_url": "http://127.0.0.1:9/hook",
            "key_action": "set",
            "webhook_secret": chosen,
        }
        tampered = admin.post(
            "/admin/bodies/csirt/edit",
            data=_form(form.text, jurisdiction=["KVL/ct-north"], **fields),
        )
        assert tampered.status_code == 422
        assert 'id="jurisdiction-error"' in tampered.text and chosen not in tampered.text
        saved = admin.post("/admin/bodies/csirt/edit", data=_form(form.text, **fields))
        assert saved.url.path == "/admin/bodies" and chosen not in saved.text
        body = _body(session, "csirt")
        session.refresh(body)
        assert agencies_service.webhook_secret(session=session, keyring=keyring, body=body) == (
            chosen
        )
        assert chosen not in admin.get("/admin/bodies/csirt/edit").text

    def test_a_body_is_edited_through_its_form(self, admin: TestClient, session: Session) -> None:
        form = admin.get("/admin/bodies/customs/edit")
        assert form.status_code == 200
        assert 'value="customs" selected' in form.text
        saved = admin.post(
            "/admin/bodies/customs/edit",
            data=_form(
                form.text,
                name="Customs – port team",
                kind="customs",
                jurisdiction=["NHV"],
                notification_email="port-team@customs.example.test",
                key_action="keep",
                reporter_may_exclude="1",
                named_to_reporter="1",
            ),
        )
        assert saved.url.path == "/admin/bodies"
        assert "The changes are saved." in saved.text
        body = _body(session, "customs")
        session.refresh(body)
        assert body.name == "Customs – port team" and body.named_to_reporter
        assert body.notification_email == "port-team@customs.example.test"
        assert body.active  # the form never deactivates: that asks first

    def test_deactivating_asks_first(self, admin: TestClient, session: Session) -> None:
        confirm = admin.get("/admin/bodies/customs/deactivate")
        assert confirm.status_code == 200
        assert "Deactivate Customs?" in confirm.text
        assert _body(session, "customs").active  # nothing happened yet
        done = admin.post(
            "/admin/bodies/customs/deactivate", data={"csrf_token": csrf_of(confirm.text)}
        )
        assert done.url.path == "/admin/bodies"
        assert "The body is inactive" in done.text
        body = _body(session, "customs")
        session.refresh(body)
        assert not body.active
        assert "/admin/bodies/customs/activate" in done.text

        confirm = admin.get("/admin/bodies/customs/activate")
        assert "Activate Customs again?" in confirm.text
        admin.post("/admin/bodies/customs/activate", data={"csrf_token": csrf_of(confirm.text)})
        session.refresh(body)
        assert body.active

    def test_a_change_without_the_token_or_to_an_unknown_body_changes_nothing(
        self, admin: TestClient, session: Session
    ) -> None:
        refused = admin.post("/admin/bodies/customs/deactivate", data={"csrf_token": "forged"})
        assert refused.status_code == 403
        assert _body(session, "customs").active
        assert admin.get("/admin/bodies/nobody/edit").status_code == 404
        assert admin.get("/admin/bodies/customs/explode").status_code == 404

    def test_nobody_signed_in_is_sent_to_sign_in(self, client: TestClient) -> None:
        for path in ("/admin/bodies", "/admin/bodies/new", "/admin/rules"):
            response = client.get(path, follow_redirects=False)
            assert response.status_code == 303 and response.headers["location"] == "/admin/login"


def _rule_rows(page: str) -> list[str]:
    return re.findall(r'<tr id="rule-(\d+)"', page)


class TestRules:
    def test_the_list_shows_the_demo_rules_in_order_with_their_controls(
        self, admin: TestClient, session: Session
    ) -> None:
        page = admin.get("/admin/rules")
        assert page.status_code == 200
        ordered = session.exec(
            select(RoutingRule.id).order_by(col(RoutingRule.position), col(RoutingRule.id))
        ).all()
        assert _rule_rows(page.text) == [str(rule_id) for rule_id in ordered]
        text = text_of(html.unescape(page.text))
        assert "never the officials' own service" in text
        assert "High or more" in text
        assert page.text.count(">Move up<") == len(ordered) - 1
        assert page.text.count(">Move down<") == len(ordered) - 1
        assert "Add a rule" in page.text

    def test_a_triager_reads_the_rules_without_any_control(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        sign_in_as(client, session, keyring, Role.triager)
        page = client.get("/admin/rules")
        assert page.status_code == 200 and _rule_rows(page.text)
        for control in ("Move up", "Move down", "Add a rule", "/delete", "/edit"):
            assert control not in page.text
        assert client.get("/admin/rules/new").status_code == 403

    @pytest.mark.parametrize("role", [Role.liaison, Role.auditor])
    def test_liaison_officers_and_auditors_get_the_refusal_page(
        self, client: TestClient, session: Session, keyring: KeyRing, role: Role
    ) -> None:
        sign_in_as(client, session, keyring, role)
        refused = client.get("/admin/rules")
        assert refused.status_code == 403 and "You cannot open this page" in refused.text

    def test_a_rule_is_added_from_its_zone_alone(self, admin: TestClient, session: Session) -> None:
        form = admin.get("/admin/rules/new")
        assert form.status_code == 200
        assert '<option value="KVL/ferry">' in form.text
        added = admin.post(
            "/admin/rules",
            data=_form(
                form.text,
                name="Ferry incidents: border force",
                body="border-force",
                kind="incident",
                zone="KVL/ferry",
                min_severity="2",
                active="1",
            ),
        )
        assert added.url.path == "/admin/rules"
        assert "The rule is added at the end of the list." in added.text
        rule = session.exec(
            select(RoutingRule).where(RoutingRule.name == "Ferry incidents: border force")
        ).one()
        assert _rule_rows(added.text)[-1] == str(rule.id)
        assert rule.port_id is not None and rule.zone_id is not None
        assert rule.min_severity == 2 and rule.active and rule.category_id is None

    def test_a_zone_of_another_port_and_a_severity_of_7_are_refused_on_the_form(
        self, admin: TestClient, session: Session
    ) -> None:
        form = admin.get("/admin/rules/new")
        before = len(session.exec(select(RoutingRule.id)).all())
        elsewhere = admin.post(
            "/admin/rules",
            data=_form(form.text, name="Mixed up", body="customs", port="NHV", zone="KVL/ferry"),
        )
        assert elsewhere.status_code == 422
        assert "This zone is not in the port chosen." in elsewhere.text
        assert 'value="Mixed up"' in elsewhere.text
        severe = admin.post(
            "/admin/rules",
            data=_form(form.text, name="Too severe", body="customs", min_severity="7"),
        )
        assert severe.status_code == 422
        assert 'id="min_severity-error"' in severe.text and "This must be at most 4." in severe.text
        no_body = admin.post("/admin/rules", data=_form(form.text, name="Nobody", body=""))
        assert no_body.status_code == 422 and 'id="body-error"' in no_body.text
        assert len(session.exec(select(RoutingRule.id)).all()) == before

    def test_a_rule_is_edited_and_made_inactive(self, admin: TestClient, session: Session) -> None:
        rule = session.exec(select(RoutingRule)).first()
        assert rule is not None
        form = admin.get(f"/admin/rules/{rule.id}/edit")
        assert form.status_code == 200
        assert f'value="{html.escape(rule.name)}"' in form.text
        saved = admin.post(
            f"/admin/rules/{rule.id}/edit",
            data=_form(form.text, name="Renamed", body="prosecutor", port="KVL"),
        )
        assert saved.url.path == "/admin/rules" and "The rule is saved." in saved.text
        session.refresh(rule)
        assert rule.name == "Renamed" and not rule.active and rule.category_id is None
        row = re.search(rf'<tr id="rule-{rule.id}" class="inactive">.*?</tr>', saved.text, re.S)
        assert row and "Inactive" in row.group(0)

    def test_rules_move_with_their_buttons(self, admin: TestClient) -> None:
        page = admin.get("/admin/rules")
        first, second = _rule_rows(page.text)[:2]
        moved = admin.post(f"/admin/rules/{first}/move", data=_form(page.text, direction="down"))
        assert moved.url.path == "/admin/rules" and "The order is saved." in moved.text
        assert _rule_rows(moved.text)[:2] == [second, first]
        back = admin.post(f"/admin/rules/{first}/move", data=_form(page.text, direction="up"))
        assert _rule_rows(back.text)[:2] == [first, second]

    def test_deleting_asks_first(self, admin: TestClient, session: Session) -> None:
        page = admin.get("/admin/rules")
        rule_id = int(_rule_rows(page.text)[0])
        confirm = admin.get(f"/admin/rules/{rule_id}/delete")
        assert confirm.status_code == 200 and "Delete this rule?" in confirm.text
        assert session.get(RoutingRule, rule_id) is not None  # nothing happened yet
        done = admin.post(
            f"/admin/rules/{rule_id}/delete", data={"csrf_token": csrf_of(confirm.text)}
        )
        assert done.url.path == "/admin/rules" and "The rule is deleted." in done.text
        assert str(rule_id) not in _rule_rows(done.text)
        session.expire_all()
        assert session.get(RoutingRule, rule_id) is None
        assert admin.get(f"/admin/rules/{rule_id}/delete").status_code == 404
