"""The staff console's pages through real HTTP handling, on a real database."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from markupsafe import escape
from sqlmodel import Session, select

from api.agencies.models import Body
from api.audit import service as audit_service
from api.crypto import KeyRing
from api.policy import Role
from api.staff import service as staff_service
from api.staff.models import Staff, StaffSession
from tests.admin.people import (
    PASSWORD,
    browser,
    code_step,
    csrf_of,
    make_person,
    password_step,
    sign_in,
)

SAME_ANSWER = "The e-mail address or the password is not right"
WRONG_CODE = "This code is not right or was already used."


def markers(dependant: Dependant) -> Iterator[str]:
    """What a route's dependencies declare: a permission, or that it is public."""
    for dependency in dependant.dependencies:
        if getattr(dependency.call, "portline_public", False):
            yield "public"
        permission = getattr(dependency.call, "portline_permission", None)
        if permission is not None:
            yield str(permission)
        yield from markers(dependency)


def wrong_code(*right: str) -> str:
    return next(code for code in ("000000", "111111", "222222") if code not in right)


def links(page: str) -> set[str]:
    return set(re.findall(r'href="(/admin[^"]*)"', page))


def text_of(page: str) -> str:
    """The words of a page, without its tags, as a person reads them."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


class TestRoutes:
    def test_every_console_route_says_who_may_use_it(self, client: TestClient) -> None:
        console_routes = [
            route
            for route in iter_route_contexts(client.app.routes)  # type: ignore[attr-defined]
            if (route.path or "").startswith("/admin")
        ]
        assert len(console_routes) >= 20, "the console's router is not mounted in api/app.py"
        unmarked = [
            f"{sorted(route.methods or [])} {route.path}"
            for route in console_routes
            if not list(markers(route.dependant))
        ]
        assert unmarked == []

    def test_only_the_ways_in_are_public(self, client: TestClient) -> None:
        public = {
            route.path
            for route in iter_route_contexts(client.app.routes)  # type: ignore[attr-defined]
            if (route.path or "").startswith("/admin") and "public" in markers(route.dependant)
        }
        assert public == {
            "/admin/static/{versioned:path}",
            "/admin/login",
            "/admin/login/second-factor",
            "/admin/enrol",
            "/admin/welcome/{token}",
            "/admin/setup",
        }


class TestSignIn:
    def test_a_password_and_a_code_open_the_console(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        person = make_person(session, keyring, role=Role.triager)
        first = password_step(console, person.email)
        assert first.url.path == "/admin/login/second-factor"
        assert console.get("/admin").url.path == "/admin/login"  # one factor is not enough
        home = code_step(console, password_step(console, person.email).text, person.code())
        assert home.status_code == 200
        assert home.url.path == "/admin"
        assert "Welcome" in home.text and person.email in home.text

    def test_the_cookie_is_http_only_strict_secure_and_for_the_whole_site(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        person = make_person(session, keyring)
        response = console.post(
            "/admin/login",
            data={"email": person.email, "password": PASSWORD},
            follow_redirects=False,
        )
        assert response.status_code == 303
        cookie = response.headers["set-cookie"].lower()
        assert cookie.startswith("portline_staff=")
        for attribute in ("httponly", "samesite=strict", "secure", "path=/;"):
            assert attribute in cookie + ";"

    def test_an_unknown_address_and_a_wrong_password_show_the_same_message(
        self, console: TestClient, session: Session, keyring: KeyRing, no_delay: None
    ) -> None:
        person = make_person(session, keyring)
        wrong = password_step(console, person.email, "not the password at all")
        unknown = password_step(console, "nobody@example.test", "not the password at all")
        assert wrong.status_code == unknown.status_code == 401
        assert SAME_ANSWER in wrong.text and SAME_ANSWER in unknown.text
        assert wrong.text.replace(person.email, "") == unknown.text.replace(
            "nobody@example.test", ""
        )
        assert "set-cookie" not in wrong.headers

    def test_a_wrong_code_is_refused(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        person = make_person(session, keyring)
        page = password_step(console, person.email).text
        refused = code_step(console, page, wrong_code(person.code(), person.code(steps_ahead=1)))
        assert refused.status_code == 422
        assert WRONG_CODE in refused.text
        assert 'aria-invalid="true"' in refused.text
        assert console.get("/admin").url.path == "/admin/login"

    def test_a_code_already_used_is_refused(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        person = make_person(session, keyring)
        code = person.code()
        assert sign_in(console, person, code).url.path == "/admin"
        again = browser(console)
        refused = code_step(again, password_step(again, person.email).text, code)
        assert refused.status_code == 422
        assert WRONG_CODE in refused.text

    def test_a_recovery_code_works_once(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        person = make_person(session, keyring)
        recovery_code = person.recovery_codes[0].upper()  # as someone might type it
        assert sign_in(console, person, recovery_code).url.path == "/admin"
        again = browser(console)
        refused = code_step(again, password_step(again, person.email).text, recovery_code)
        assert refused.status_code == 422
        assert WRONG_CODE in refused.text

    def test_a_page_without_a_session_leads_to_the_sign_in_page(self, console: TestClient) -> None:
        response = console.get("/admin/staff", follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == "/admin/login"

    def test_the_second_step_without_the_first_leads_to_the_sign_in_page(
        self, console: TestClient
    ) -> None:
        assert console.get("/admin/login/second-factor").url.path == "/admin/login"
        assert console.get("/admin/enrol").url.path == "/admin/login"

    def test_too_much_time_between_the_steps_means_starting_again(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        person = make_person(session, keyring)
        page = password_step(console, person.email).text
        for staff_session in session.exec(
            select(StaffSession).where(StaffSession.staff_id == person.staff.id)
        ):
            staff_session.created_at -= timedelta(minutes=11)
            session.add(staff_session)
        session.commit()
        response = code_step(console, page, person.code())
        assert response.status_code == 401
        assert "Too much time has passed" in response.text
        assert 'action="/admin/login"' in response.text


class TestEnrolment:
    def test_a_new_account_sets_up_its_second_factor_and_gets_recovery_codes(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        person = make_person(session, keyring, enrolled=False)
        enrol = password_step(console, person.email)
        assert enrol.url.path == "/admin/enrol"
        assert "<svg" in enrol.text  # the QR code, drawn on the server
        assert 'role="img"' in enrol.text
        groups = re.search(r'class="secret"[^>]*>(.*?)</p>', enrol.text, re.S)
        assert groups
        person.secret = "".join(re.findall(r"<span>([A-Z2-7]{1,4})</span>", groups.group(1)))
        assert len(person.secret) >= 16
        # The same secret on a reload: a code scanned a moment ago must keep working.
        assert groups.group(0) in console.get("/admin/enrol").text

        refused = console.post(
            "/admin/enrol",
            data={"code": wrong_code(person.code()), "csrf_token": csrf_of(enrol.text)},
        )
        assert refused.status_code == 422
        assert "This code is not right" in refused.text

        done = console.post(
            "/admin/enrol", data={"code": person.code(), "csrf_token": csrf_of(enrol.text)}
        )
        assert done.status_code == 200
        codes = re.findall(r"<li>([a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4})</li>", done.text)
        assert len(codes) == 10
        assert "shown only this once" in done.text

        assert 'href="/admin"' in done.text
        home = console.get("/admin")  # enrolling proved the second factor
        assert home.url.path == "/admin"
        assert "Welcome" in home.text

    def test_an_account_with_a_second_factor_cannot_set_up_another(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        person = make_person(session, keyring)
        password_step(console, person.email)
        assert console.get("/admin/enrol").url.path == "/admin/login/second-factor"


class TestWelcome:
    def invite(self, session: Session, keyring: KeyRing) -> tuple[str, str]:
        account = staff_service.create_account(
            session=session,
            keyring=keyring,
            actor=None,
            email="new.triager@example.test",
            role=Role.triager,
            now=datetime.now(UTC),
        )
        session.commit()
        return account.staff.email, f"/admin/welcome/{account.invitation}"

    def test_the_invitation_link_sets_a_password_then_leads_to_sign_in(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        email, link = self.invite(session, keyring)
        page = console.get(link)
        assert page.status_code == 200
        assert email in page.text
        done = console.post(link, data={"password": PASSWORD, "password_again": PASSWORD})
        assert done.url.path == "/admin/login"
        assert "Your password is set" in done.text
        assert password_step(console, email).url.path == "/admin/enrol"
        assert console.get(link).status_code == 404  # the link works once

    def test_a_weak_password_is_refused_with_the_reason_next_to_the_field(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        _email, link = self.invite(session, keyring)
        refused = console.post(link, data={"password": "short", "password_again": "short"})
        assert refused.status_code == 422
        assert '<p class="error" id="password-error">Use at least 12 characters.</p>' in (
            refused.text
        )
        assert 'aria-describedby="password-hint password-error"' in refused.text
        guessable = "password1234"
        refused = console.post(link, data={"password": guessable, "password_again": guessable})
        assert refused.status_code == 422
        assert "too easy to guess" in refused.text

    def test_two_different_passwords_are_refused(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        _email, link = self.invite(session, keyring)
        refused = console.post(link, data={"password": PASSWORD, "password_again": "other"})
        assert refused.status_code == 422
        assert "The two passwords are not the same." in refused.text

    def test_an_unknown_link_says_it_expired(self, console: TestClient) -> None:
        response = console.get("/admin/welcome/not-a-real-token")
        assert response.status_code == 404
        assert "This link has expired or was already used" in response.text


class TestNavigation:
    def test_a_triager_sees_triage_but_not_administration(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        home = sign_in(console, make_person(session, keyring, role=Role.triager))
        assert links(home.text) >= {"/admin/triage", "/admin/account"}
        assert links(home.text).isdisjoint({"/admin/staff", "/admin/audit", "/admin/referrals"})
        assert 'action="/admin/sign-out"' in home.text
        refused = console.get("/admin/staff")
        assert refused.status_code == 403
        assert "You cannot open this page" in refused.text
        # The refusal keeps the person's navigation and the way to sign out.
        assert links(refused.text) >= {"/admin/triage", "/admin/account"}
        assert 'action="/admin/sign-out"' in refused.text

    def test_a_missing_object_keeps_the_navigation(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        sign_in(console, make_person(session, keyring, role=Role.administrator))
        missing = console.get("/admin/staff/999999/disable")
        assert missing.status_code == 404
        assert "Page not found" in missing.text
        assert links(missing.text) >= {"/admin/staff", "/admin/account"}
        assert 'action="/admin/sign-out"' in missing.text

    def test_each_role_sees_only_its_own_areas(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        body = session.exec(select(Body)).first()
        assert body is not None
        expected = {
            Role.administrator: "/admin/staff",
            Role.liaison: "/admin/referrals",
            Role.auditor: "/admin/audit",
        }
        areas = {"/admin/triage", "/admin/referrals", "/admin/staff", "/admin/audit"}
        for role, area in expected.items():
            person = make_person(session, keyring, role=role, body_id=body.id)
            home = sign_in(browser(console), person)
            assert links(home.text) & areas == {area}, role

    def test_a_triager_opens_the_queue_but_not_the_referrals(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        sign_in(console, make_person(session, keyring, role=Role.triager))
        page = console.get("/admin/triage")
        assert page.status_code == 200
        assert "<h1>Triage queue</h1>" in page.text
        assert 'aria-current="page"' in page.text
        assert console.get("/admin/referrals").status_code == 403


class TestStaffAdministration:
    def test_an_administrator_creates_a_triager_and_sees_the_invitation_link(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        sign_in(console, make_person(session, keyring, role=Role.administrator))
        page = console.get("/admin/staff")
        created = console.post(
            "/admin/staff",
            data={
                "email": "Harbour.Triager@Example.test",
                "display_name": "Hana Triager",
                "role": "triager",
                "body_id": "",
                "csrf_token": csrf_of(page.text),
            },
        )
        assert created.status_code == 200
        # At PORTLINE_PUBLIC_URL, not at the address the request came in by.
        link = re.search(r"http://127\.0\.0\.1:8000/admin/welcome/[\w-]+", created.text)
        assert link, created.text
        assert "harbour.triager@example.test" in created.text
        assert "Hana Triager" in created.text
        # The link works, for the person it was made for.
        welcome = browser(console).get(link.group(0))
        assert welcome.status_code == 200
        assert "harbour.triager@example.test" in welcome.text

    def test_a_liaison_officer_needs_a_receiving_body(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        sign_in(console, make_person(session, keyring, role=Role.administrator))
        page = console.get("/admin/staff")
        refused = console.post(
            "/admin/staff",
            data={
                "email": "liaison@example.test",
                "role": "liaison",
                "csrf_token": csrf_of(page.text),
            },
        )
        assert refused.status_code == 422
        assert "A liaison officer belongs to one receiving body." in refused.text
        assert 'value="liaison@example.test"' in refused.text  # what was typed stays

    def test_a_role_must_be_chosen(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        sign_in(console, make_person(session, keyring, role=Role.administrator))
        page = console.get("/admin/staff")
        refused = console.post(
            "/admin/staff",
            data={"email": "x@example.test", "role": "emperor", "csrf_token": csrf_of(page.text)},
        )
        assert refused.status_code == 422
        assert "Choose a role." in refused.text

    def test_the_list_shows_each_account_with_its_state(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        sign_in(console, make_person(session, keyring, role=Role.administrator))
        without = make_person(session, keyring, enrolled=False, email="fresh@example.test")
        page = console.get("/admin/staff").text
        row = re.search(r"<tr>(?:(?!</tr>).)*fresh@example\.test.*?</tr>", page, re.S)
        assert row
        assert "Triager" in row.group(0) and "Active" in row.group(0) and "Off" in row.group(0)
        assert f"/admin/staff/{without.staff.id}/disable" in row.group(0)

    def test_disabling_asks_first_then_ends_the_persons_sessions(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        sign_in(console, make_person(session, keyring, role=Role.administrator))
        triager = make_person(session, keyring)
        theirs = browser(console)
        assert sign_in(theirs, triager).url.path == "/admin"

        confirm = console.get(f"/admin/staff/{triager.staff.id}/disable")
        assert confirm.status_code == 200
        assert f"Disable the account of {triager.email}?" in confirm.text
        assert theirs.get("/admin").url.path == "/admin"  # nothing happened yet

        done = console.post(
            f"/admin/staff/{triager.staff.id}/disable",
            data={"csrf_token": csrf_of(confirm.text)},
        )
        assert done.url.path == "/admin/staff"
        assert "The account is disabled" in done.text
        assert theirs.get("/admin").url.path == "/admin/login"
        session.refresh(triager.staff)
        assert not triager.staff.active

        confirm = console.get(f"/admin/staff/{triager.staff.id}/enable")
        done = console.post(
            f"/admin/staff/{triager.staff.id}/enable", data={"csrf_token": csrf_of(confirm.text)}
        )
        assert "The account is enabled again." in done.text
        assert sign_in(theirs, triager, triager.recovery_codes[0]).url.path == "/admin"

    def test_resetting_the_second_factor_gives_a_new_invitation_link(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        sign_in(console, make_person(session, keyring, role=Role.administrator))
        triager = make_person(session, keyring)
        confirm = console.get(f"/admin/staff/{triager.staff.id}/reset-second-factor")
        assert "Reset the second factor of" in confirm.text
        done = console.post(
            f"/admin/staff/{triager.staff.id}/reset-second-factor",
            data={"csrf_token": csrf_of(confirm.text)},
        )
        assert done.status_code == 200
        assert re.search(r"http://127\.0\.0\.1:8000/admin/welcome/[\w-]+", done.text)
        session.refresh(triager.staff)
        assert not triager.staff.totp_enabled

    def test_administrators_cannot_disable_themselves(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        admin = make_person(session, keyring, role=Role.administrator)
        page = sign_in(console, admin)
        staff_page = console.get("/admin/staff").text
        assert f"/admin/staff/{admin.staff.id}/disable" not in staff_page
        refused = console.post(
            f"/admin/staff/{admin.staff.id}/disable", data={"csrf_token": csrf_of(page.text)}
        )
        assert refused.status_code == 409
        assert "You cannot disable your own account." in refused.text

    def test_an_unknown_account_or_action_is_not_found(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        sign_in(console, make_person(session, keyring, role=Role.administrator))
        assert console.get("/admin/staff/999999/disable").status_code == 404
        assert console.get("/admin/staff/1/promote").status_code == 404
        assert console.get("/admin/staff/one/disable").status_code == 404


class TestAccount:
    def test_the_password_changes_only_with_the_current_one(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        person = make_person(session, keyring)
        sign_in(console, person)
        page = console.get("/admin/account")
        new = "seagull compass turnip meridian"
        wrong = console.post(
            "/admin/account/password",
            data={
                "current_password": "not it",
                "new_password": new,
                "new_password_again": new,
                "csrf_token": csrf_of(page.text),
            },
        )
        assert wrong.status_code == 422
        assert "This is not your current password." in wrong.text
        weak = console.post(
            "/admin/account/password",
            data={
                "current_password": PASSWORD,
                "new_password": "short",
                "new_password_again": "short",
                "csrf_token": csrf_of(page.text),
            },
        )
        assert 'id="new_password-error">Use at least 12 characters.' in weak.text
        done = console.post(
            "/admin/account/password",
            data={
                "current_password": PASSWORD,
                "new_password": new,
                "new_password_again": new,
                "csrf_token": csrf_of(page.text),
            },
        )
        assert done.url.path == "/admin/account"
        assert "Your password is changed." in done.text

    def test_the_page_lists_the_sessions_and_marks_this_one(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        person = make_person(session, keyring)
        sign_in(console, person)
        sign_in(browser(console), person, person.recovery_codes[0])
        page = console.get("/admin/account").text
        assert page.count("<tr>") == 3  # the header and two sessions
        assert page.count("<strong>This browser</strong>") == 1

    def test_signing_out_everywhere_ends_every_session(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        person = make_person(session, keyring)
        sign_in(console, person)
        other = browser(console)
        sign_in(other, person, person.recovery_codes[0])
        page = console.get("/admin/account")
        done = console.post(
            "/admin/account/sign-out-everywhere", data={"csrf_token": csrf_of(page.text)}
        )
        assert done.url.path == "/admin/login"
        assert "You are signed out on every device." in done.text
        assert console.get("/admin").url.path == "/admin/login"
        assert other.get("/admin").url.path == "/admin/login"

    def test_signing_out_ends_this_session_only(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        person = make_person(session, keyring)
        home = sign_in(console, person)
        other = browser(console)
        sign_in(other, person, person.recovery_codes[0])
        done = console.post("/admin/sign-out", data={"csrf_token": csrf_of(home.text)})
        assert done.url.path == "/admin/login"
        assert "You are signed out." in done.text
        assert "portline_staff" not in console.cookies
        assert console.get("/admin").url.path == "/admin/login"
        assert other.get("/admin").url.path == "/admin"


class TestAuditLog:
    def record(self, session: Session, keyring: KeyRing, count: int, **fields: str) -> None:
        start = datetime(2030, 1, 1, 12, tzinfo=UTC)
        for number in range(count):
            audit_service.record(
                session=session,
                keyring=keyring,
                action=fields.get("action", "case.viewed"),
                now=start + timedelta(minutes=number),
                actor=fields.get("actor", "someone@example.test"),
                object_type="case",
                object_id=str(number + 1),
                detail={"reason": "triage"},
            )
        session.commit()

    def test_an_auditor_reads_the_newest_entries_first_fifty_a_page(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        sign_in(console, make_person(session, keyring, role=Role.auditor))
        self.record(session, keyring, 60, actor="reader@example.test")
        first = console.get("/admin/audit?actor=reader@example.test")
        assert first.status_code == 200
        assert "Entries 1 to 50 of 60" in first.text
        assert first.text.count('data-label="No."') == 50
        numbers = [int(n) for n in re.findall(r'data-label="No\.">(\d+)<', first.text)]
        assert numbers == sorted(numbers, reverse=True)
        assert "<dt>reason</dt><dd>triage</dd>" in first.text
        older = re.search(r'href="(/admin/audit\?[^"]*page=2[^"]*)"', first.text)
        assert older
        second = console.get(older.group(1).replace("&amp;", "&"))
        assert "Entries 51 to 60 of 60" in second.text
        assert second.text.count('data-label="No."') == 10

    def test_filters_narrow_the_log_and_say_when_nothing_matches(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        sign_in(console, make_person(session, keyring, role=Role.auditor))
        self.record(session, keyring, 3, action="case.routed", actor="router@example.test")
        found = console.get(
            "/admin/audit",
            params={
                "action": "case.rout",
                "object_type": "case",
                "object_id": "2",
                "since": "2030-01-01",
                "until": "2030-01-01",
            },
        )
        assert "Entries 1 to 1 of 1" in found.text
        assert 'value="case.rout"' in found.text  # the filters stay filled in
        nothing = console.get("/admin/audit", params={"actor": "nobody-at-all"})
        assert "No entry matches these filters." in nothing.text

    def test_a_date_that_is_not_a_date_is_explained(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        sign_in(console, make_person(session, keyring, role=Role.auditor))
        response = console.get("/admin/audit", params={"since": "yesterday"})
        assert response.status_code == 422
        assert 'id="since-error">This must be a date (YYYY-MM-DD).' in response.text

    def test_only_auditors_read_the_log(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        sign_in(console, make_person(session, keyring, role=Role.administrator))
        assert console.get("/admin/audit").status_code == 403


class TestProtections:
    def test_a_change_without_the_csrf_token_is_refused(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        sign_in(console, make_person(session, keyring, role=Role.administrator))
        triager = make_person(session, keyring)
        refused = console.post(f"/admin/staff/{triager.staff.id}/disable", data={})
        assert refused.status_code == 403
        assert "This form has expired" in refused.text
        refused = console.post(
            f"/admin/staff/{triager.staff.id}/disable", data={"csrf_token": "guess"}
        )
        assert refused.status_code == 403
        assert session.get(Staff, triager.staff.id).active  # type: ignore[union-attr]

    def test_the_second_step_needs_the_token_of_its_own_session(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        person = make_person(session, keyring)
        password_step(console, person.email)
        refused = console.post(
            "/admin/login/second-factor", data={"code": person.code(), "csrf_token": "guess"}
        )
        assert refused.status_code == 403

    def test_a_sign_in_posted_from_another_site_is_refused(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        person = make_person(session, keyring)
        refused = console.post(
            "/admin/login",
            data={"email": person.email, "password": PASSWORD},
            headers={"sec-fetch-site": "cross-site"},
        )
        assert refused.status_code == 403
        assert "set-cookie" not in refused.headers

    @pytest.mark.parametrize("path", ["/admin/login", "/admin/welcome/unknown", "/admin/staff"])
    def test_every_page_has_a_strict_content_security_policy(
        self, console: TestClient, session: Session, keyring: KeyRing, path: str
    ) -> None:
        sign_in(console, make_person(session, keyring, role=Role.administrator))
        response = console.get(path)
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "style-src 'self'" in policy
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
        assert response.headers["cache-control"] == "no-store"
        assert " style=" not in response.text
        assert re.findall(r"<script(?![^>]*\ssrc=)", response.text) == []
        assert "http://" not in response.text and "//cdn" not in response.text

    def test_the_qr_code_is_the_only_markup_that_is_not_escaped(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        sign_in(console, make_person(session, keyring, role=Role.administrator))
        page = console.get("/admin/staff")
        tricky = "<script>alert(1)</script>"
        created = console.post(
            "/admin/staff",
            data={
                "email": "tricky@example.test",
                "display_name": tricky,
                "role": "auditor",
                "csrf_token": csrf_of(page.text),
            },
        )
        assert tricky not in created.text
        assert str(escape(tricky)) in created.text


class TestLanguages:
    def test_a_french_browser_gets_french_pages(self, console: TestClient) -> None:
        page = console.get("/admin/login", headers={"accept-language": "fr-BE,fr;q=0.9,en;q=0.5"})
        assert '<html lang="fr" dir="ltr">' in page.text
        assert "Se connecter" in page.text and "Mot de passe" in page.text
        assert "Password" not in text_of(page.text)

    def test_a_dutch_browser_gets_dutch_pages(self, console: TestClient) -> None:
        page = console.get("/admin/login", headers={"accept-language": "nl"})
        assert '<html lang="nl" dir="ltr">' in page.text
        assert "Wachtwoord" in page.text

    def test_a_language_the_console_lacks_falls_back_to_one_it_has(
        self, console: TestClient
    ) -> None:
        page = console.get("/admin/login", headers={"accept-language": "de-DE,de;q=0.9,fr;q=0.5"})
        assert '<html lang="fr"' in page.text
