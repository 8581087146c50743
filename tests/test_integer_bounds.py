"""No integer out of the id columns' range reaches the database: every integer a client
puts in a path, a query or a form answers 404 or 422 with the usual error, on SQLite and
PostgreSQL, never a 500 and never a dropped connection."""

from __future__ import annotations

import types
import typing
from typing import Any

import pytest
from fastapi._compat import ModelField
from fastapi.dependencies.models import Dependant
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.agencies.models import Body
from api.crypto import KeyRing
from api.policy import GRANTS, Permission, Role
from tests.factories import jpeg_bytes, make_staff, sign_in_staff
from tests.mobile.test_pages import post_step
from tests.routes import Walked, walk

TOO_BIG = [2**31, 2**63, 10**20]
# What a person sees instead of an error of the server: not found, or a named problem.
ANSWERS = {404, 422}


def _is_int(annotation: Any) -> bool:
    if annotation is int:
        return True
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _is_int(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return any(_is_int(argument) for argument in typing.get_args(annotation))
    return False


def _role_for(marks: set[str]) -> Role | None:
    """Someone allowed through the route's permission, so the value reaches the handler."""
    for mark in sorted(marks):
        if mark == "public":
            return None
        for role, granted in GRANTS.items():
            if Permission(mark) in granted:
                return role
    return None


def _params(dependant: Dependant, where: str) -> list[ModelField]:
    """The route's parameters in the path or the query, with those its dependencies read
    (the console's case pages take the case id in a shared dependency)."""
    found = list(dependant.path_params if where == "path" else dependant.query_params)
    for dependency in dependant.dependencies:
        found += [param for param in _params(dependency, where) if param not in found]
    return found


def _integer_routes(routes: list[Walked]) -> list[Walked]:
    return [
        found
        for found in routes
        if any(
            _is_int(param.field_info.annotation)
            for param in (
                *_params(found.route.dependant, "path"),
                *_params(found.route.dependant, "query"),
            )
        )
    ]


def _requests(walked: Walked) -> list[tuple[str, str, dict[str, str]]]:
    """(method, path, query) for each integer of the route set to each too big value, the
    other parameters set to something ordinary."""
    path_params = _params(walked.route.dependant, "path")
    query_params = _params(walked.route.dependant, "query")
    ordinary = {
        param.name: "1" if _is_int(param.field_info.annotation) else "x" for param in path_params
    }
    found: list[tuple[str, str, dict[str, str]]] = []
    method = sorted(walked.route.methods or {"GET"})[0]
    for value in TOO_BIG:
        for param in path_params:
            if _is_int(param.field_info.annotation):
                path = walked.path.format(**{**ordinary, param.name: str(value)})
                found.append((method, path, {}))
        for param in query_params:
            if _is_int(param.field_info.annotation):
                path = walked.path.format(**ordinary)
                found.append((method, path, {param.alias: str(value)}))
    return found


class TestIntegersOutOfRange:
    def test_every_integer_parameter_of_every_route_is_bounded(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        routes = _integer_routes(walk(client.app.routes))  # type: ignore[attr-defined]
        # The walk found the id routes of the API and the console (not an empty pass).
        paths = {found.path for found in routes}
        assert "/api/v1/cases/{case_id}" in paths
        assert "/admin/staff/{staff_id}/{action}" in paths
        assert len(routes) > 25
        body_id = session.exec(select(Body.id)).first()
        # A server error is answered as a person would get it (a 500), not raised here.
        anyone = TestClient(client.app, raise_server_exceptions=False)
        clients: dict[Role | None, tuple[TestClient, dict[str, str]]] = {None: (anyone, {})}
        answers: dict[str, int] = {}
        for found in routes:
            role = _role_for(found.marks)
            if role not in clients:
                staff, secret = make_staff(
                    session,
                    keyring,
                    role=role or Role.triager,
                    body_id=body_id if role == Role.liaison else None,
                )
                own = TestClient(client.app, raise_server_exceptions=False)
                clients[role] = (own, sign_in_staff(own, staff, secret))
            signed_in, csrf = clients[role]
            for method, path, query in _requests(found):
                response = signed_in.request(method, path, params=query, headers=csrf)
                answers[f"{method} {path} {query}"] = response.status_code
        wrong = {request: status for request, status in answers.items() if status not in ANSWERS}
        assert wrong == {}

    @pytest.mark.parametrize("value", TOO_BIG)
    def test_a_huge_case_id_answers_with_the_usual_json_error(
        self, client: TestClient, session: Session, keyring: KeyRing, value: int
    ) -> None:
        staff, secret = make_staff(session, keyring, role=Role.triager)
        sign_in_staff(client, staff, secret)
        response = client.get(f"/api/v1/cases/{value}")
        assert response.status_code in ANSWERS
        assert response.json()["error"]["code"] in {"not_found", "invalid"}

    def test_a_huge_staff_id_in_the_console_answers_with_a_page(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        staff, secret = make_staff(session, keyring, role=Role.administrator)
        sign_in_staff(client, staff, secret)
        response = client.get("/admin/staff/99999999999999999999/disable")
        assert response.status_code in ANSWERS
        assert response.headers["content-type"].startswith("text/html")
        assert "<nav" in response.text or "<main" in response.text

    @pytest.mark.parametrize(
        ("field", "path"),
        [
            ("assignee_id", "/api/v1/cases"),
        ],
    )
    def test_a_huge_query_id_is_refused_naming_the_field(
        self, client: TestClient, session: Session, keyring: KeyRing, field: str, path: str
    ) -> None:
        staff, secret = make_staff(session, keyring, role=Role.triager)
        sign_in_staff(client, staff, secret)
        response = client.get(path, params={field: str(2**63)})
        assert response.status_code == 422
        assert field in str(response.json()["error"])


class TestIdsInBodiesAndForms:
    @pytest.mark.parametrize("value", TOO_BIG)
    def test_a_huge_assignee_in_a_case_change_is_refused_naming_it(
        self, client: TestClient, session: Session, keyring: KeyRing, value: int
    ) -> None:
        staff, secret = make_staff(session, keyring, role=Role.triager)
        csrf = sign_in_staff(client, staff, secret)
        response = client.patch("/api/v1/cases/1", json={"assignee_id": value}, headers=csrf)
        assert response.status_code == 422
        assert "assignee_id" in str(response.json()["error"])

    @pytest.mark.parametrize("value", [*TOO_BIG, 999_999])
    def test_a_liaison_account_for_a_body_that_cannot_exist_is_refused(
        self, client: TestClient, session: Session, keyring: KeyRing, value: int
    ) -> None:
        staff, secret = make_staff(session, keyring, role=Role.administrator)
        csrf = sign_in_staff(client, staff, secret)
        response = client.post(
            "/api/v1/staff/accounts",
            json={"email": "officer@example.test", "role": "liaison", "body_id": value},
            headers=csrf,
        )
        assert response.status_code == 422
        assert "body_id" in str(response.json()["error"])

    @pytest.mark.parametrize("value", ["99999999999999999999", "2147483648", "999999"])
    def test_the_console_refuses_a_body_that_cannot_exist_on_its_form(
        self, client: TestClient, session: Session, keyring: KeyRing, value: str
    ) -> None:
        staff, secret = make_staff(session, keyring, role=Role.administrator)
        csrf = sign_in_staff(client, staff, secret)
        response = client.post(
            "/admin/staff",
            data={
                "csrf_token": csrf["X-CSRF-Token"],
                "email": "officer@example.test",
                "role": "liaison",
                "body_id": value,
            },
        )
        assert response.status_code == 422
        assert "There is no such receiving body." in response.text


class TestThePhonesPhotoStep:
    @pytest.mark.parametrize("seq", ["99999999999999999999", "2147483648", "²"])
    def test_removing_a_photo_by_a_number_no_photo_can_have_keeps_the_step(
        self, client: TestClient, seq: str
    ) -> None:
        page = client.get("/report?lang=en").text
        photos = post_step(
            client, page, "photos", files=[("seal.jpg", jpeg_bytes(), "image/jpeg")], go="upload"
        )
        assert photos.status_code == 200, photos.text
        removed = post_step(client, photos.text, "photos", go=f"remove:{seq}")
        assert removed.status_code == 200
        assert "seal.jpg" in removed.text  # nothing was removed, nothing broke
