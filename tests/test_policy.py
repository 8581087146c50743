"""One authorisation policy: every route declares what it needs, and each role gets
exactly what it should."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from api.crypto import KeyRing
from api.policy import Role
from tests.factories import make_staff, sign_in_staff
from tests.routes import walk


class TestEveryRouteDeclaresItsPermission:
    def test_no_route_is_left_without_a_permission_or_a_public_mark(
        self, client: TestClient
    ) -> None:
        routes = walk(client.app.routes)  # type: ignore[attr-defined]
        assert len(routes) > 20
        unmarked = [
            f"{sorted(found.route.methods or ())} {found.path}"
            for found in routes
            if not found.marks
        ]
        assert unmarked == []

    def test_no_route_is_both_public_and_restricted(self, client: TestClient) -> None:
        for found in walk(client.app.routes):  # type: ignore[attr-defined]
            assert not ("public" in found.marks and len(found.marks) > 1), found.path


# What each role gets from the staff API: 200 allowed, 403 refused by the policy.
MATRIX: list[tuple[str, dict[Role, int]]] = [
    ("/api/v1/staff/me", dict.fromkeys(Role, 200)),
    ("/api/v1/staff/me/sessions", dict.fromkeys(Role, 200)),
    (
        "/api/v1/staff/accounts",
        {Role.administrator: 200, Role.triager: 403, Role.liaison: 403, Role.auditor: 403},
    ),
    (
        "/api/v1/cases",
        {Role.administrator: 403, Role.triager: 200, Role.liaison: 403, Role.auditor: 403},
    ),
    (
        "/api/v1/dashboard",
        {Role.administrator: 403, Role.triager: 200, Role.liaison: 403, Role.auditor: 403},
    ),
    (
        "/api/v1/dashboard.csv",
        {Role.administrator: 403, Role.triager: 200, Role.liaison: 403, Role.auditor: 403},
    ),
    (
        "/api/v1/audit",
        {Role.administrator: 403, Role.triager: 403, Role.liaison: 403, Role.auditor: 200},
    ),
    (
        "/api/v1/bodies",
        {Role.administrator: 200, Role.triager: 403, Role.liaison: 403, Role.auditor: 403},
    ),
    (
        "/api/v1/routing-rules",
        {Role.administrator: 200, Role.triager: 200, Role.liaison: 403, Role.auditor: 403},
    ),
]


class TestRoleMatrix:
    @pytest.mark.parametrize("role", list(Role), ids=[role.value for role in Role])
    def test_each_role_gets_exactly_what_it_should(
        self, client: TestClient, session: Session, keyring: KeyRing, role: Role
    ) -> None:
        from sqlmodel import select

        from api.agencies.models import Body

        body_id = session.exec(select(Body.id)).first() if role == Role.liaison else None
        staff, secret = make_staff(session, keyring, role=role, body_id=body_id)
        sign_in_staff(client, staff, secret)
        for path, expected in MATRIX:
            assert client.get(path).status_code == expected[role], (role, path)

    def test_nobody_signed_in_gets_401_everywhere(self, client: TestClient) -> None:
        for path, _expected in MATRIX:
            response = client.get(path)
            assert response.status_code == 401, path
            assert response.json()["error"]["code"] == "unauthorized"

    def test_the_service_layer_refuses_even_when_a_route_would_not(
        self, session: Session, keyring: KeyRing
    ) -> None:
        from api.errors import Forbidden
        from api.staff import service

        triager, _secret = make_staff(session, keyring, role=Role.triager)
        with pytest.raises(Forbidden):
            service.list_accounts(session=session, actor=triager)
        with pytest.raises(Forbidden):
            service.set_active(
                session=session,
                keyring=keyring,
                actor=triager,
                staff_id=triager.id or 0,
                active=False,
                now=triager.created_at,
            )
