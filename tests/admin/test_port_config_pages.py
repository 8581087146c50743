"""Administrators configure ports, their zones and emergency numbers, and the categories, in
the console (issue 11, point 3): each change is made by api/ports/config.py or
api/taxonomy/config.py and audited; a refusal is shown next to its field and changes
nothing; retiring asks first; an administrator of some ports finds nothing of the others."""

from __future__ import annotations

import re
from html import unescape

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from api.audit.models import AuditEntry
from api.crypto import KeyRing
from api.policy import Role
from api.ports.models import EmergencyNumber, Port, Zone
from api.staff.models import StaffPort
from api.taxonomy.models import Category
from tests.admin.people import Person, browser, csrf_of, make_person, sign_in

NEW_PORT = {
    "code": "ZQV",
    "first_language": "nl",
    "languages": ["en"],
    "name-nl": "Haven van Zeequay",
    "name-en": "Port of Zeequay",
    "country": "NL",
    "timezone": "Europe/Amsterdam",
}


@pytest.fixture
def administrator(console: TestClient, session: Session, keyring: KeyRing) -> Person:
    person = make_person(session, keyring, role=Role.administrator)
    sign_in(console, person)
    return person


def _token(console: TestClient, path: str = "/admin/ports") -> str:
    return csrf_of(console.get(path).text)


def _post(console: TestClient, path: str, data: dict[str, object]) -> httpx.Response:
    response: httpx.Response = console.post(path, data={"csrf_token": _token(console), **data})
    return response


def _add_port(console: TestClient, **changes: object) -> httpx.Response:
    return _post(console, "/admin/ports", {**NEW_PORT, **changes})


def _port(session: Session, code: str) -> Port:
    port = session.exec(select(Port).where(Port.code == code)).one()
    session.refresh(port)
    return port


def _zones(session: Session, code: str) -> list[Zone]:
    port = _port(session, code)
    zones = session.exec(
        select(Zone).where(Zone.port_id == port.id).order_by(col(Zone.position))
    ).all()
    for zone in zones:
        session.refresh(zone)
    return sorted(zones, key=lambda zone: zone.position)


def _actions(session: Session, object_id: str) -> list[str]:
    return list(
        session.exec(
            select(AuditEntry.action)
            .where(AuditEntry.object_id == object_id)
            .order_by(col(AuditEntry.seq))
        ).all()
    )


def _field_error(page: str, field_id: str) -> str:
    """The error shown next to the control ``field_id``, which must point at it."""
    found = re.search(rf'<p class="error" id="{re.escape(field_id)}-error">([^<]*)</p>', page)
    assert found, f"no error next to {field_id}"
    control = re.search(rf'<(?:input|select|fieldset)[^>]*id="{re.escape(field_id)}"[^>]*>', page)
    assert control, f"no control {field_id}"
    assert 'aria-invalid="true"' in control.group(0)
    assert f"{field_id}-error" in control.group(0)  # in its aria-describedby
    return unescape(found.group(1))


class TestThePorts:
    def test_the_list_shows_each_port_with_its_languages_zones_and_state(
        self, console: TestClient, administrator: Person
    ) -> None:
        page = console.get("/admin/ports")
        assert page.status_code == 200
        assert 'href="/admin/ports/NHV"' in page.text and "Port of Norderhaven" in page.text
        assert "Add a port" in page.text and 'for="new-port-name-en"' in page.text
        assert ">Name in English</label>" in page.text
        assert ">First language</label>" in page.text and 'name="languages"' in page.text

    def test_an_administrator_adds_a_port_and_lands_on_its_page(
        self, console: TestClient, session: Session, administrator: Person
    ) -> None:
        added = _add_port(console)
        assert added.status_code == 200
        assert added.url.path == "/admin/ports/ZQV"
        assert "The port is added." in added.text
        port = _port(session, "ZQV")
        assert port.languages == ["nl", "en"]
        assert port.names == {"nl": "Haven van Zeequay", "en": "Port of Zeequay"}
        assert (port.name, port.country, port.timezone) == (
            "Haven van Zeequay",
            "NL",
            "Europe/Amsterdam",
        )
        assert _actions(session, "ZQV") == ["port.created"]
        # Staff read the name in their own language, the port's first one otherwise.
        assert "<h1>Port of Zeequay" in added.text
        dutch = console.get("/admin/ports/ZQV", headers={"accept-language": "nl"})
        assert "<h1>Haven van Zeequay" in dutch.text

    def test_a_name_missing_in_the_first_language_is_refused_next_to_it(
        self, console: TestClient, session: Session, administrator: Person
    ) -> None:
        refused = _add_port(console, **{"name-nl": "", "country": "nl"})
        assert refused.status_code == 422
        assert _field_error(refused.text, "new-port-name-nl") == (
            "Give the name in Nederlands, the port's first language."
        )
        assert 'value="Port of Zeequay"' in refused.text  # what was typed is kept
        assert session.exec(select(Port).where(Port.code == "ZQV")).first() is None
        assert _actions(session, "ZQV") == []

    def test_a_bad_time_zone_and_a_code_taken_are_said_at_their_fields(
        self, console: TestClient, session: Session, administrator: Person
    ) -> None:
        refused = _add_port(console, timezone="Mars/Olympus")
        assert refused.status_code == 422
        assert "This is not a time zone" in _field_error(refused.text, "new-port-timezone")
        assert 'value="Mars/Olympus"' in refused.text
        taken = _add_port(console, code="NHV")
        assert taken.status_code == 409
        assert _field_error(taken.text, "new-port-code") == "A port with this code exists already."
        assert _port(session, "NHV").name == "Port of Norderhaven"

    def test_a_port_is_renamed_and_offered_in_another_language(
        self, console: TestClient, session: Session, administrator: Person
    ) -> None:
        _add_port(console)
        page = console.get("/admin/ports/ZQV")
        assert ">Name in Dutch</label>" in page.text and ">Name in English</label>" in page.text
        saved = _post(
            console,
            "/admin/ports/ZQV",
            {
                "name-nl": "Haven Zeequay",
                "name-en": "",
                "first_language": "nl",
                "languages": ["en", "fr"],
                "country": "BE",
                "timezone": "Europe/Brussels",
            },
        )
        assert saved.status_code == 200 and "The port is saved." in saved.text
        port = _port(session, "ZQV")
        assert port.names == {"nl": "Haven Zeequay"}  # an emptied name is removed
        assert (port.languages, port.country, port.timezone) == (
            ["nl", "en", "fr"],
            "BE",
            "Europe/Brussels",
        )
        assert ">Name in French</label>" in saved.text
        assert _actions(session, "ZQV") == ["port.created", "port.changed"]

    def test_a_port_is_retired_after_a_confirmation_then_restored(
        self, console: TestClient, session: Session, administrator: Person
    ) -> None:
        _add_port(console)
        confirm = console.get("/admin/ports/ZQV/retire")
        assert confirm.status_code == 200
        assert "Retire Port of Zeequay?" in confirm.text
        assert _port(session, "ZQV").active  # asking changes nothing
        retired = console.post(
            "/admin/ports/ZQV/retire", data={"csrf_token": csrf_of(confirm.text)}
        )
        assert retired.status_code == 200 and "The port is retired" in retired.text
        assert not _port(session, "ZQV").active
        assert "This port is retired" in retired.text
        listed = console.get("/admin/ports")
        row = re.search(r'<tr id="port-ZQV".*?</tr>', listed.text, re.S)
        assert row and "Retired" in row.group(0)
        restored = console.post(
            "/admin/ports/ZQV/restore", data={"csrf_token": csrf_of(retired.text)}
        )
        assert "The port is restored" in restored.text and _port(session, "ZQV").active
        assert _actions(session, "ZQV")[-2:] == ["port.retired", "port.restored"]

    def test_a_triager_cannot_open_the_ports_or_the_categories(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        other = browser(console)
        sign_in(other, make_person(session, keyring, role=Role.triager))
        assert other.get("/admin/ports/NHV").status_code == 403
        assert other.get("/admin/categories").status_code == 403


class TestZones:
    def test_zones_are_added_renamed_in_two_languages_and_reordered(
        self, console: TestClient, session: Session, administrator: Person
    ) -> None:
        _add_port(console)
        for code, kind, dutch in (("gate-a", "gate", "Poort A"), ("quay-b", "berth", "Kade B")):
            added = _post(
                console,
                "/admin/ports/ZQV/zones",
                {"code": code, "kind": kind, "name-nl": dutch, "name-en": ""},
            )
            assert added.status_code == 200 and "The zone is added" in added.text
        assert [zone.code for zone in _zones(session, "ZQV")] == ["gate-a", "quay-b"]
        edit = console.get("/admin/ports/ZQV/zones/quay-b")
        assert edit.status_code == 200
        assert ">Zone name in Dutch</label>" in edit.text and 'value="Kade B"' in edit.text
        renamed = console.post(
            "/admin/ports/ZQV/zones/quay-b",
            data={
                "csrf_token": csrf_of(edit.text),
                "kind": "container_terminal",
                "name-nl": "Containerkade B",
                "name-en": "Container quay B",
            },
        )
        assert renamed.status_code == 200 and "The zone is saved." in renamed.text
        zone = _zones(session, "ZQV")[1]
        assert zone.names == {"nl": "Containerkade B", "en": "Container quay B"}
        assert (zone.name, zone.kind) == ("Containerkade B", "container_terminal")
        assert "Container quay B" in renamed.text  # read in the staff's language
        moved = console.post(
            "/admin/ports/ZQV/zones/quay-b/move",
            data={"csrf_token": csrf_of(renamed.text), "direction": "up"},
        )
        assert "The order is saved." in moved.text
        assert [zone.code for zone in _zones(session, "ZQV")] == ["quay-b", "gate-a"]
        assert moved.text.index('id="zone-quay-b"') < moved.text.index('id="zone-gate-a"')
        assert _actions(session, "ZQV") == [
            "port.created",
            "port.zone_added",
            "port.zone_added",
            "port.zone_changed",
            "port.zone_moved",
        ]

    def test_a_zone_is_retired_after_a_confirmation_and_stays_listed_as_retired(
        self, console: TestClient, session: Session, administrator: Person
    ) -> None:
        confirm = console.get("/admin/ports/NHV/zones/ct-north/retire")
        assert confirm.status_code == 200
        assert "Retire the zone Container terminal North?" in confirm.text
        assert _zones(session, "NHV")[0].active
        retired = console.post(
            "/admin/ports/NHV/zones/ct-north/retire", data={"csrf_token": csrf_of(confirm.text)}
        )
        assert "The zone is retired" in retired.text
        north = next(zone for zone in _zones(session, "NHV") if zone.code == "ct-north")
        assert not north.active
        row = re.search(r'<tr id="zone-ct-north".*?</tr>', retired.text, re.S)
        assert row and "Retired" in row.group(0) and "/ct-north/restore" in row.group(0)
        assert _actions(session, "NHV")[-1] == "port.zone_retired"
        console.post(
            "/admin/ports/NHV/zones/ct-north/restore", data={"csrf_token": csrf_of(retired.text)}
        )
        session.refresh(north)
        assert north.active

    def test_a_bad_zone_is_refused_next_to_its_fields_and_changes_nothing(
        self, console: TestClient, session: Session, administrator: Person
    ) -> None:
        before = [(zone.code, zone.names) for zone in _zones(session, "NHV")]
        refused = _post(
            console,
            "/admin/ports/NHV/zones",
            {"code": "Bad Code!", "kind": "moon", "name-en": "Somewhere"},
        )
        assert refused.status_code == 422
        _field_error(refused.text, "new-zone-code")
        _field_error(refused.text, "new-zone-kind")
        assert 'value="Somewhere"' in refused.text
        emptied = _post(
            console,
            "/admin/ports/NHV/zones/ct-north",
            {"kind": "gate", "name-en": "", "name-nl": ""},
        )
        assert emptied.status_code == 422
        assert _field_error(emptied.text, "zone-name-en") == (
            "Give the name in English, the port's first language."
        )
        assert [(zone.code, zone.names) for zone in _zones(session, "NHV")] == before
        assert "port.zone_added" not in _actions(session, "NHV")
        assert "port.zone_changed" not in _actions(session, "NHV")


class TestEmergencyNumbers:
    def test_a_number_is_added_edited_and_retired_after_a_confirmation(
        self, console: TestClient, session: Session, administrator: Person
    ) -> None:
        _add_port(console)
        added = _post(
            console,
            "/admin/ports/ZQV/numbers",
            {
                "number": "112",
                "label-nl": "Noodnummer",
                "label-en": "Emergency",
                "when-nl": "Iemand is in gevaar",
                "when-en": "",
            },
        )
        assert added.status_code == 200 and "The emergency number is added" in added.text
        port = _port(session, "ZQV")
        number = session.exec(
            select(EmergencyNumber).where(EmergencyNumber.port_id == port.id)
        ).one()
        assert (number.number, number.labels, number.when) == (
            "112",
            {"nl": "Noodnummer", "en": "Emergency"},
            {"nl": "Iemand is in gevaar"},
        )
        edit = console.get(f"/admin/ports/ZQV/numbers/{number.id}")
        assert ">Label in English</label>" in edit.text
        assert ">When to call, in Dutch</label>" in edit.text
        saved = console.post(
            f"/admin/ports/ZQV/numbers/{number.id}",
            data={
                "csrf_token": csrf_of(edit.text),
                "number": "+31 10 252 1000",
                "label-nl": "Havenpolitie",
                "label-en": "Port police",
                "when-nl": "",
                "when-en": "Someone is in danger now",
            },
        )
        assert saved.status_code == 200 and "The emergency number is saved." in saved.text
        session.refresh(number)
        assert number.number == "+31 10 252 1000"
        assert number.when == {"en": "Someone is in danger now"}
        confirm = console.get(f"/admin/ports/ZQV/numbers/{number.id}/retire")
        assert "Retire the emergency number +31 10 252 1000?" in confirm.text
        console.post(
            f"/admin/ports/ZQV/numbers/{number.id}/retire",
            data={"csrf_token": csrf_of(confirm.text)},
        )
        session.refresh(number)
        assert not number.active
        assert _actions(session, "ZQV") == [
            "port.created",
            "port.number_added",
            "port.number_changed",
            "port.number_retired",
        ]

    def test_a_bad_number_is_refused_next_to_it_and_changes_nothing(
        self, console: TestClient, session: Session, administrator: Person
    ) -> None:
        port = _port(session, "NHV")
        number = session.exec(
            select(EmergencyNumber).where(EmergencyNumber.port_id == port.id)
        ).first()
        assert number is not None
        before = (number.number, dict(number.labels))
        refused = _post(
            console,
            f"/admin/ports/NHV/numbers/{number.id}",
            {"number": "call us", "label-en": "Renamed"},
        )
        assert refused.status_code == 422
        _field_error(refused.text, "number-number")
        assert 'value="call us"' in refused.text and 'value="Renamed"' in refused.text
        session.refresh(number)
        assert (number.number, number.labels) == before
        assert "port.number_changed" not in _actions(session, "NHV")


class TestCategories:
    def _category(self, session: Session, code: str) -> Category:
        category = session.exec(select(Category).where(Category.code == code)).one()
        session.refresh(category)
        return category

    def _codes_of(self, session: Session, kind: str) -> list[str]:
        rows = session.exec(select(Category).where(Category.kind == kind)).all()
        for row in rows:
            session.refresh(row)
        return [row.code for row in sorted(rows, key=lambda row: row.position)]

    def test_the_list_shows_each_kind_in_order_with_its_cases(
        self, console: TestClient, session: Session, administrator: Person
    ) -> None:
        page = console.get("/admin/categories")
        assert page.status_code == 200
        assert 'href="/admin/categories"' in page.text  # in the navigation
        assert '<h2 id="kind-integrity">Integrity</h2>' in page.text
        first = self._codes_of(session, "integrity")[0]
        assert f'id="category-{first}"' in page.text
        assert "Add a category" in page.text

    def test_names_and_hints_are_edited_and_the_category_moves_to_the_other_kind(
        self, console: TestClient, session: Session, administrator: Person
    ) -> None:
        code = self._codes_of(session, "integrity")[0]
        page = console.get(f"/admin/categories/{code}")
        assert page.status_code == 200
        assert ">Name in Arabic</label>" in page.text and ">Hint in French</label>" in page.text
        category = self._category(session, code)
        data: dict[str, object] = {
            f"name-{language}": text for language, text in category.names.items()
        }
        data |= {f"hint-{language}": text for language, text in category.hints.items()}
        data |= {
            "name-fr": "Pot-de-vin",
            "hint-fr": "On vous a offert de l'argent.",
            "kind": "incident",
        }
        saved = console.post(
            f"/admin/categories/{code}", data={"csrf_token": csrf_of(page.text), **data}
        )
        assert saved.status_code == 200 and "The category is saved." in saved.text
        category = self._category(session, code)
        assert category.names["fr"] == "Pot-de-vin"
        assert category.hints["fr"] == "On vous a offert de l'argent."
        assert category.kind == "incident" and not category.cargo_relevant
        assert self._codes_of(session, "incident")[-1] == code  # last in its new kind
        assert code not in self._codes_of(session, "integrity")
        french = console.get("/admin/categories", headers={"accept-language": "fr"})
        assert "Pot-de-vin" in french.text
        assert _actions(session, code) == ["category.changed"]

    def test_a_category_moves_up_and_is_retired_after_a_confirmation(
        self, console: TestClient, session: Session, administrator: Person
    ) -> None:
        first, second = self._codes_of(session, "incident")[:2]
        moved = _post(console, f"/admin/categories/{second}/move", {"direction": "up"})
        assert "The order is saved." in moved.text
        assert self._codes_of(session, "incident")[:2] == [second, first]
        confirm = console.get(f"/admin/categories/{second}/retire")
        assert confirm.status_code == 200 and "Retire the category" in confirm.text
        assert self._category(session, second).active
        retired = console.post(
            f"/admin/categories/{second}/retire", data={"csrf_token": csrf_of(confirm.text)}
        )
        assert "The category is retired" in retired.text
        assert not self._category(session, second).active
        row = re.search(rf'<tr id="category-{second}".*?</tr>', retired.text, re.S)
        assert row and "Retired" in row.group(0)
        assert _actions(session, second) == ["category.moved", "category.retired"]

    def test_a_category_is_added_and_bad_input_is_refused_next_to_its_field(
        self, console: TestClient, session: Session, administrator: Person
    ) -> None:
        refused = _post(
            console,
            "/admin/categories",
            {"code": "fuel-theft", "kind": "incident", "name-en": "x" * 161},
        )
        assert refused.status_code == 422
        assert "too long" in _field_error(refused.text, "new-category-name-en")
        assert session.exec(select(Category).where(Category.code == "fuel-theft")).first() is None
        added = _post(
            console,
            "/admin/categories",
            {
                "code": "fuel-theft",
                "kind": "incident",
                "name-en": "Fuel theft",
                "cargo_relevant": "1",
            },
        )
        assert added.url.path == "/admin/categories/fuel-theft"
        assert "The category is added" in added.text
        category = self._category(session, "fuel-theft")
        assert (category.names, category.cargo_relevant) == ({"en": "Fuel theft"}, True)
        emptied = console.post(
            "/admin/categories/fuel-theft",
            data={"csrf_token": csrf_of(added.text), "kind": "incident", "name-en": ""},
        )
        assert emptied.status_code == 422
        assert _field_error(emptied.text, "category-name-en") == (
            "Give the name in one language at least."
        )
        assert self._category(session, "fuel-theft").names == {"en": "Fuel theft"}
        assert _actions(session, "fuel-theft") == ["category.created"]


class TestAnAdministratorOfSomePorts:
    @pytest.fixture
    def limited(self, console: TestClient, session: Session, keyring: KeyRing) -> TestClient:
        person = make_person(session, keyring, role=Role.administrator)
        kvl = _port(session, "KVL")
        session.add(StaffPort(staff_id=person.staff.id or 0, port_id=kvl.id or 0))
        session.commit()
        sign_in(console, person)
        return console

    def test_finds_nothing_of_another_port_and_adds_no_port(
        self, limited: TestClient, session: Session
    ) -> None:
        listed = limited.get("/admin/ports")
        assert "/admin/ports/KVL" in listed.text and "/admin/ports/NHV" not in listed.text
        assert "Add a port" not in listed.text
        assert limited.get("/admin/ports/KVL").status_code == 200
        number = session.exec(select(EmergencyNumber.id)).first()
        for path in (
            "/admin/ports/NHV",
            "/admin/ports/NHV/retire",
            "/admin/ports/NHV/zones/ct-north",
            "/admin/ports/NHV/zones/ct-north/retire",
            f"/admin/ports/NHV/numbers/{number}",
        ):
            assert limited.get(path).status_code == 404, path
        token = csrf_of(listed.text)
        renamed = limited.post(
            "/admin/ports/NHV/zones/ct-north",
            data={"csrf_token": token, "kind": "gate", "name-en": "Renamed"},
        )
        assert renamed.status_code == 404
        added = limited.post("/admin/ports", data={"csrf_token": token, **NEW_PORT})
        assert added.status_code == 403
        assert "Only an administrator of every port can add a port." in added.text
        assert session.exec(select(Port).where(Port.code == "ZQV")).first() is None

    def test_reads_the_categories_without_changing_them(
        self, limited: TestClient, session: Session
    ) -> None:
        page = limited.get("/admin/categories")
        assert page.status_code == 200
        assert "Add a category" not in page.text and "/move" not in page.text
        code = session.exec(select(Category.code)).first()
        moved = limited.post(
            f"/admin/categories/{code}/move",
            data={"csrf_token": csrf_of(page.text), "direction": "down"},
        )
        assert moved.status_code == 403
