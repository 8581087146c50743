"""Port profiles: a port as one file. The demo's files pass the validator; a mistake is told
with its line and field; import then export gives the same profile back, on SQLite and
PostgreSQL; importing twice changes nothing; a zone still named by cases is never removed,
and a refused import leaves nothing behind."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.agencies.models import Body, BodyJurisdiction, RoutingRule
from api.cases.models import Case
from api.crypto import KeyRing
from api.datafile import DataFileError
from api.db import to_hour, utcnow
from api.errors import Conflict
from api.ports.models import EmergencyNumber, Port, Zone
from api.profiles.schemas import PortProfile
from api.profiles.service import (
    DEMO_PROFILES,
    dump_profile,
    export_profile,
    import_profile,
    read_profile,
)
from api.taxonomy.models import Category
from tests.databases import fresh_database
from tests.factories import post_report, report_payload
from tests.server import server_environment
from tests.test_cli import portline

PROFILE = """\
code = "TST"
name.en = "Port of Testwick"
name.nl = "Haven van Testwijk"
country = "NL"
timezone = "Europe/Amsterdam"
languages = ["en", "nl"]
acknowledge_days = 5
feedback_days = 60

[[zone]]
code = "north"
kind = "container_terminal"
name.en = "North terminal"
name.nl = "Noordterminal"

[[zone]]
code = "gate"
kind = "gate"
name.en = "Gate"

[[zone]]
code = "quay"
kind = "berth"
name.en = "Quay"

[[emergency_number]]
number = "112"
label.en = "Emergency"
label.nl = "Noodnummer"
when.en = "Someone is hurt or in danger now"

[[emergency_number]]
number = "+31 10 000 0000"
label.en = "Port security"

[[body]]
code = "testwick-police"
kind = "police"
name.en = "Testwick police"
acts_in = "port"

[[body]]
code = "testwick-security"
kind = "terminal_security"
name.en = "Testwick terminal security"
notification_email = "security@testwick.example"
acts_in = ["north", "gate"]

[[rule]]
reason = "Seals: terminal security and the police."
bodies = ["testwick-security", "testwick-police"]
category = "seal-tampering"

[[rule]]
reason = "Anything serious at the gate: the police."
bodies = ["testwick-police"]
zone = "gate"
min_severity = 3
"""


def _profile(text: str = PROFILE) -> PortProfile:
    return read_profile(Path("TST.toml"), text)


def _import(session: Session, keyring: KeyRing, profile: PortProfile) -> list[str]:
    return import_profile(session=session, keyring=keyring, profile=profile, now=utcnow()).changes


def _port_id(session: Session) -> int | None:
    return session.exec(select(Port.id).where(Port.code == "TST")).one()


class TestTheFile:
    @pytest.mark.parametrize("path", DEMO_PROFILES, ids=lambda path: path.stem)
    def test_the_demo_profiles_pass_the_validator(self, path: Path) -> None:
        profile = read_profile(path)
        assert profile.zone and profile.emergency_number and profile.body and profile.rule
        # Every name is there in every language the port offers.
        for zone in profile.zone:
            assert set(profile.languages) <= set(zone.name), zone.code

    def test_writing_and_reading_give_the_same_profile(self) -> None:
        profile = _profile()
        assert _profile(dump_profile(profile)) == profile

    @pytest.mark.parametrize(
        ("change", "named"),
        [
            (('kind = "gate"', 'kind = "moat"'), "line 18, zone 2, kind"),
            (('timezone = "Europe/Amsterdam"', 'timezone = "Mars/Olympus"'), "line 5, timezone"),
            (('name.en = "Gate"', 'name.nl = "Poort"'), "line 19, zone 2, name: no text in en"),
            (('code = "quay"', 'code = "north"'), "line 22, zone 3, code: north is given twice"),
            (('zone = "gate"', 'zone = "moat"'), "line 57, rule 2, zone: this port has no zone"),
            (
                ('bodies = ["testwick-police"]', 'bodies = ["army"]'),
                "line 56, rule 2, bodies: the file",
            ),
            (('acts_in = "port"', 'acts_in = "town"'), "line 40, body 1, acts_in: Give"),
            (("feedback_days = 60", "feedback_days = 400"), "line 8, feedback_days"),
            (('number = "112"', 'number = "call us"'), "line 27, emergency_number 1, number"),
            (('country = "NL"', 'colour = "red"'), "line 4, colour"),
            (('languages = ["en", "nl"]', 'languages = ["en", "xx"]'), "line 6, languages"),
        ],
    )
    def test_a_mistake_is_told_with_its_line_and_field(
        self, change: tuple[str, str], named: str
    ) -> None:
        assert change[0] in PROFILE
        with pytest.raises(DataFileError) as refused:
            _profile(PROFILE.replace(change[0], change[1], 1))
        assert f"TST.toml, {named}" in str(refused.value)

    def test_broken_toml_is_told_with_its_line(self) -> None:
        with pytest.raises(DataFileError, match=r"TST\.toml: .*line 2"):
            _profile('code = "TST"\n[[zone]\n')


class TestImportAndExport:
    def test_a_new_port_comes_back_as_it_went_in(self, session: Session, keyring: KeyRing) -> None:
        profile = _profile()
        changes = _import(session, keyring, profile)
        assert changes[0] == "port TST: added"
        assert export_profile(session=session, code="TST") == profile
        port = session.exec(select(Port).where(Port.code == "TST")).one()
        assert (port.name, port.languages, port.acknowledge_days) == (
            "Port of Testwick",
            ["en", "nl"],
            5,
        )
        zones = session.exec(select(Zone).where(Zone.port_id == port.id)).all()
        assert sorted((zone.position, zone.code) for zone in zones) == [
            (1, "north"),
            (2, "gate"),
            (3, "quay"),
        ]

    def test_importing_the_same_file_twice_changes_nothing(
        self, session: Session, keyring: KeyRing
    ) -> None:
        _import(session, keyring, _profile())
        tables = (Port, Zone, EmergencyNumber, Body, BodyJurisdiction, RoutingRule)
        before = {table: session.exec(select(table)).all() for table in tables}
        snapshot = {table: [row.model_dump() for row in rows] for table, rows in before.items()}
        assert _import(session, keyring, _profile()) == []
        after = {
            table: [row.model_dump() for row in session.exec(select(table))] for table in tables
        }
        assert after == snapshot

    @pytest.mark.parametrize("path", DEMO_PROFILES, ids=lambda path: path.stem)
    def test_the_demo_ports_export_as_their_files(self, session: Session, path: Path) -> None:
        # The test database was seeded from these files.
        profile = read_profile(path)
        assert export_profile(session=session, code=profile.code) == profile

    def test_a_change_is_applied_and_listed(self, session: Session, keyring: KeyRing) -> None:
        _import(session, keyring, _profile())
        changed = PROFILE.replace('name.en = "Quay"', 'name.en = "Quays"').replace(
            '[[emergency_number]]\nnumber = "+31 10 000 0000"\nlabel.en = "Port security"\n', ""
        )
        changes = _import(session, keyring, _profile(changed))
        assert changes == [
            'zone quay: name "Quay" -> "Quays"',
            'zone quay: names {"en": "Quay"} -> {"en": "Quays"}',
            "emergency number +31 10 000 0000: removed",
        ]

    def test_a_zone_left_out_is_removed_when_no_case_names_it(
        self, session: Session, keyring: KeyRing
    ) -> None:
        _import(session, keyring, _profile())
        without_quay = PROFILE.replace(
            '[[zone]]\ncode = "quay"\nkind = "berth"\nname.en = "Quay"\n', ""
        )
        assert "zone quay: removed" in _import(session, keyring, _profile(without_quay))
        codes = [zone.code for zone in export_profile(session=session, code="TST").zone]
        assert codes == ["north", "gate"]

    def test_an_import_that_would_remove_a_zone_of_a_case_is_refused(
        self, session: Session, keyring: KeyRing, client: TestClient
    ) -> None:
        _import(session, keyring, _profile())
        session.commit()
        answer = post_report(client, report_payload(port="TST", zone="gate"))
        assert answer.status_code == 201, answer.text
        without_gate = PROFILE.replace(
            '[[zone]]\ncode = "gate"\nkind = "gate"\nname.en = "Gate"\n', ""
        )
        without_gate = without_gate.replace(', "gate"]', "]").replace('zone = "gate"\n', "")
        with pytest.raises(Conflict) as refused:
            _import(session, keyring, _profile(without_gate))
        assert refused.value.params["zones"] == "gate"
        case = session.exec(select(Case).where(Case.port_id == _port_id(session))).one()
        assert refused.value.params["cases"] == case.reference


class TestTheCommands:
    def test_import_export_and_a_refusal_that_leaves_nothing_behind(self, tmp_path: Path) -> None:
        with fresh_database(tmp_path, seed=False) as (url, engine):
            environment = server_environment(url, tmp_path)
            profile_file = tmp_path / "TST.toml"
            profile_file.write_text(PROFILE, encoding="utf-8")

            def run(*args: str) -> tuple[int, str, str]:
                done = portline(*args, data_dir=tmp_path, **environment)
                return done.returncode, done.stdout, done.stderr

            # The taxonomy comes with init; the profile's rules name its categories.
            assert run("init", "--email", "admin@testwick.example")[0] == 0
            code, out, err = run("port", "import", str(profile_file), "--dry-run")
            assert code == 0 and "Would import port TST" in out, err
            assert run("port", "export", "TST")[0] == 1  # the dry run applied nothing
            code, out, err = run("port", "import", str(profile_file))
            assert code == 0 and "Imported port TST" in out, err
            code, out, err = run("port", "import", str(profile_file))
            assert (code, out) == (0, "Port TST already matches the file: nothing changed.\n")
            code, exported, err = run("port", "export", "TST")
            assert code == 0, err
            assert read_profile(profile_file, exported) == read_profile(profile_file)

            reference = "PL-TST-0001"
            with Session(engine) as session:
                gate = session.exec(select(Zone).where(Zone.code == "gate")).one()
                category = session.exec(select(Category)).first()
                assert category is not None and category.id is not None
                session.add(
                    Case(
                        reference=reference,
                        kind=category.kind,
                        category_id=category.id,
                        port_id=gate.port_id,
                        zone_id=gate.id,
                        received_hour=to_hour(utcnow()),
                        acknowledge_due=utcnow(),
                    )
                )
                session.commit()
            # Renaming a zone and removing the one the case names: refused, and the rename
            # is not applied either.
            broken = PROFILE.replace('name.en = "Quay"', 'name.en = "Quays"')
            broken = broken.replace(
                '[[zone]]\ncode = "gate"\nkind = "gate"\nname.en = "Gate"\n', ""
            )
            broken = broken.replace(', "gate"]', "]").replace('zone = "gate"\n', "")
            profile_file.write_text(broken, encoding="utf-8")
            code, out, err = run("port", "import", str(profile_file))
            assert code == 1 and "gate" in err and reference in err, (out, err)
            assert run("port", "export", "TST")[1] == exported

            profile_file.write_text(broken.replace('code = "quay"', 'code = "Quay"'), "utf-8")
            code, _out, err = run("port", "import", str(profile_file))
            assert code == 1 and "TST.toml, line" in err and "zone" in err
