"""``portline key rotate``: while the server serves and reporters submit, killed half-way
and resumed, and the old key opening nothing afterwards; on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlmodel import Session, col

from api.audit.models import AuditEntry
from api.config import Settings
from api.crypto import (
    DecryptionError,
    KeyFileError,
    KeyRing,
    generate_key_text,
    parse_key_text,
    read_key_file,
    seal,
    sealed_key_id,
)
from api.keystore.models import KeyCheck
from api.keystore.service import live_keys, open_keyring
from api.policy import Role
from api.reports import service as reports_service
from api.reports.schemas import ReportCreate, ReporterLogin
from api.rotation import COLUMNS, count_by_key, rotate
from api.staff import service as staff_service
from api.staff.models import Staff
from tests.conftest import app_for, make_settings
from tests.factories import make_staff, post_report, report_payload
from tests.server import running_server, signed_in
from tests.test_cli import portline, portline_environment


def legacy_key_file(directory: Path) -> tuple[Path, KeyRing]:
    """A key file as every installation before key rotation has one: one master key."""
    path = directory / "portline.key"
    text = generate_key_text()
    path.write_text(text + "\n")
    path.chmod(0o600)
    return path, KeyRing(parse_key_text(text, source="test"))


def environment_of(url: str, directory: Path, key_file: Path) -> dict[str, str]:
    return {
        "PORTLINE_DATABASE_URL": url,
        "PORTLINE_DATA_DIR": str(directory),
        "PORTLINE_KEY_FILE": str(key_file),
        "PORTLINE_POW_DIFFICULTY": "0",
        "PORTLINE_LOG_LEVEL": "WARNING",
    }


def settings_of(url: str, directory: Path, key_file: Path) -> Settings:
    return make_settings(directory, url, key=None, key_file=key_file, pow_difficulty=0)


def submit(session: Session, keyring: KeyRing, settings: Settings, text: str) -> str:
    receipt = reports_service.submit_report(
        session=session,
        keyring=keyring,
        settings=settings,
        report_in=ReportCreate.model_validate(report_payload(narrative=text)),
        files=[],
        now=datetime.now(UTC),
    )
    session.commit()
    return receipt.receipt


def assert_all_under(engine: Engine, kek_id: int, old: KeyRing) -> None:
    """Every wrapped value names ``kek_id``, and the old key opens none of them."""
    with Session(engine) as session:
        counts = count_by_key(session)
        assert all(set(by_key) <= {kek_id} for by_key in counts.values()), counts
        for wrapped in COLUMNS:
            for (sealed,) in session.execute(
                select(wrapped.column).where(wrapped.column.is_not(None))
            ):
                assert sealed[:1] == b"\x02" and sealed_key_id(sealed) == kek_id
                with pytest.raises(DecryptionError):
                    old.open_secret(sealed, label=b"data-key")
        check = session.get_one(KeyCheck, 1)
        assert sealed_key_id(check.sealed) == kek_id
        assert live_keys(check) == {kek_id}


def audit_actions(engine: Engine) -> list[str]:
    with Session(engine) as session:
        ordered = select(col(AuditEntry.action)).order_by(col(AuditEntry.seq))
        actions = session.execute(ordered).scalars()
        return [action for action in actions if action.startswith("key.")]


class TestRotationWhileServing:
    def test_reporters_submit_throughout_and_everything_opens_with_the_new_key_only(
        self, live_database: tuple[str, Engine], tmp_path: Path
    ) -> None:
        url, engine = live_database
        key_file, old = legacy_key_file(tmp_path)
        before = key_file.read_bytes()
        environment = environment_of(url, tmp_path, key_file)
        settings = settings_of(url, tmp_path, key_file)
        keyring = open_keyring(settings=settings, engine=engine)
        with Session(engine, expire_on_commit=False) as session:
            receipts = [
                submit(session, keyring, settings, f"Before, number {n}.") for n in range(12)
            ]
            triager, totp_secret = make_staff(session, keyring, role=Role.triager)
            session.commit()

        during: list[httpx.Response] = []
        stop = threading.Event()
        with running_server(environment, tmp_path / "serve.log") as base_url:

            def reporter() -> None:
                with httpx.Client(base_url=base_url, timeout=60) as phone:
                    while not stop.is_set():
                        during.append(post_report(phone, report_payload(narrative="During.")))

            reporters = [threading.Thread(target=reporter) for _ in range(3)]
            for thread in reporters:
                thread.start()
            try:
                rotated = portline(
                    "key", "rotate", "--batch-size", "3", data_dir=tmp_path, **environment
                )
            finally:
                stop.set()
                for thread in reporters:
                    thread.join()
            assert rotated.returncode == 0, rotated.stderr
            assert "Done: every value is under key 2; retired: 1." in rotated.stdout
            assert len(during) >= 3
            assert [answer.status_code for answer in during] == [201] * len(during), [
                answer.text for answer in during if answer.status_code != 201
            ]
            # The server started with key 1 only; it reads the new key file by itself.
            receipts += [answer.json()["receipt"] for answer in during]
            with httpx.Client(base_url=base_url, timeout=60) as phone:
                after = post_report(phone, report_payload(narrative="After."))
                assert after.status_code == 201, after.text
                receipts.append(after.json()["receipt"])
                for receipt in receipts:
                    login = phone.post("/api/v1/reporter/session", json={"receipt": receipt})
                    assert login.status_code == 200, login.text
                    bearer = {"Authorization": f"Bearer {login.json()['token']}"}
                    # Writing and reading a message opens the report's data key.
                    written = phone.post(
                        "/api/v1/reporter/messages", json={"body": "Still there?"}, headers=bearer
                    )
                    assert written.status_code == 201, written.text
                    report = phone.get("/api/v1/reporter/report", headers=bearer)
                    assert report.status_code == 200, report.text
                    assert [m["body"] for m in report.json()["messages"]] == ["Still there?"]
            with httpx.Client(base_url=base_url, timeout=60) as console:
                signed_in(console, triager.email, totp_secret)  # its secret, sealed again

        material = read_key_file(key_file)
        assert set(material.keks) == {2}
        assert material.lookup == old.material.lookup  # receipts and the audit chain stay
        assert_all_under(engine, 2, old)
        assert audit_actions(engine) == ["key.rotated", "key.retired"]
        verified = portline("audit", "verify", data_dir=tmp_path, **environment)
        assert verified.returncode == 0, verified.stderr
        status = portline("key", "status", data_dir=tmp_path, **environment)
        assert status.returncode == 0, status.stderr
        assert "Key file: key 2. New data keys are wrapped with key 2." in status.stdout

        # The key file from before: Portline refuses to start with it.
        (tmp_path / "old.key").write_bytes(before)
        (tmp_path / "old.key").chmod(0o600)
        old_environment = {**environment, "PORTLINE_KEY_FILE": str(tmp_path / "old.key")}
        refused = portline("key", "status", data_dir=tmp_path, **old_environment)
        assert refused.returncode == 2
        assert "current key is key 2, but the key file holds key 1" in refused.stderr


class TestInterrupted:
    def test_a_rotation_killed_half_way_is_finished_by_running_it_again(
        self, live_database: tuple[str, Engine], tmp_path: Path
    ) -> None:
        url, engine = live_database
        key_file, old = legacy_key_file(tmp_path)
        environment = environment_of(url, tmp_path, key_file)
        settings = settings_of(url, tmp_path, key_file)
        keyring = open_keyring(settings=settings, engine=engine)
        with Session(engine, expire_on_commit=False) as session:
            receipts = [submit(session, keyring, settings, f"Report {n}.") for n in range(300)]

        with subprocess.Popen(
            [sys.executable, "-m", "api.cli", "key", "rotate", "--batch-size", "1"],
            env=portline_environment(tmp_path, **environment),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        ) as process:
            assert process.stdout is not None
            for line in process.stdout:
                if "report data keys: 5 of" in line:
                    process.kill()  # kill -9, half-way through the report data keys
                    break
            process.wait(timeout=60)
        assert process.returncode == -9

        halfway = read_key_file(key_file)
        assert set(halfway.keks) == {1, 2}
        with Session(engine) as session:
            reports = count_by_key(session)["report data keys"]
        assert reports.get(1, 0) > 0 and reports.get(2, 0) >= 5, reports

        resumed = portline("key", "rotate", data_dir=tmp_path, **environment)
        assert resumed.returncode == 0, resumed.stderr
        assert "Resuming the rotation to key 2." in resumed.stdout
        assert set(read_key_file(key_file).keks) == {2}
        assert_all_under(engine, 2, old)
        assert audit_actions(engine) == ["key.rotated", "key.retired"]
        assert portline("audit", "verify", data_dir=tmp_path, **environment).returncode == 0
        new = open_keyring(settings=settings, engine=engine)
        with Session(engine) as session:
            for receipt in receipts[::50]:
                token = reports_service.log_in(
                    session=session,
                    keyring=new,
                    settings=settings,
                    login=ReporterLogin(receipt=receipt),
                    now=datetime.now(UTC),
                )
                assert token.token

    def test_a_second_rotation_adds_key_3_and_retires_key_2(
        self, live_database: tuple[str, Engine], tmp_path: Path
    ) -> None:
        url, engine = live_database
        key_file, _old = legacy_key_file(tmp_path)
        settings = settings_of(url, tmp_path, key_file)
        keyring = open_keyring(settings=settings, engine=engine)
        with Session(engine, expire_on_commit=False) as session:
            submit(session, keyring, settings, "One.")
        said: list[str] = []
        assert rotate(settings=settings, engine=engine, say=said.append) == 2
        second = KeyRing(read_key_file(key_file))
        assert rotate(settings=settings, engine=engine, say=said.append) == 3
        assert set(read_key_file(key_file).keks) == {3}
        assert_all_under(engine, 3, second)


class TestAProcessLeftBehind:
    def test_a_process_with_only_a_retired_key_refuses_to_seal_with_a_503(
        self, live_database: tuple[str, Engine], tmp_path: Path
    ) -> None:
        """A server whose key file is a copy made at its start (a systemd credential),
        not restarted after a rotation: it must not wrap with a key nothing can open."""
        url, engine = live_database
        key_file, old = legacy_key_file(tmp_path)
        settings = settings_of(url, tmp_path, key_file)
        keyring = open_keyring(settings=settings, engine=engine)
        with Session(engine, expire_on_commit=False) as session:
            submit(session, keyring, settings, "Before.")
        rotate(settings=settings, engine=engine, say=lambda _line: None)
        stale = KeyRing(old.material)  # no reload: it cannot see the new key file
        with TestClient(app_for(settings, engine, stale, None)) as client:
            answer = post_report(client)
        assert answer.status_code == 503, answer.text
        assert answer.json()["error"]["code"] == "unavailable"
        assert_all_under(engine, 2, old)

    def test_a_key_file_from_before_a_rotation_is_refused_at_start(
        self, live_database: tuple[str, Engine], tmp_path: Path
    ) -> None:
        url, engine = live_database
        key_file, _old = legacy_key_file(tmp_path)
        before = key_file.read_bytes()
        settings = settings_of(url, tmp_path, key_file)
        open_keyring(settings=settings, engine=engine)
        rotate(settings=settings, engine=engine, say=lambda _line: None)
        key_file.write_bytes(before)
        with pytest.raises(KeyFileError, match="current key is key 2"):
            open_keyring(settings=settings, engine=engine)


class TestSealedValues:
    def test_every_sealed_value_names_its_key_and_old_values_still_open(self) -> None:
        keyring = KeyRing(os.urandom(32))
        wrapped = keyring.wrap(os.urandom(32))
        assert sealed_key_id(wrapped) == 1
        own = seal(os.urandom(32), b"text", label=b"x")
        assert sealed_key_id(own) == 0
        # A value sealed before key ids (version 1: no id) opens as key 1's.
        nonce = os.urandom(12)
        kek = keyring.material.keks[1]
        legacy = b"\x01" + nonce + AESGCM(kek).encrypt(nonce, b"k" * 32, b"data-key")
        assert keyring.unwrap(legacy) == b"k" * 32
        # The id is bound: changing it breaks the seal, it cannot be relabelled.
        relabelled = wrapped[:1] + (2).to_bytes(4, "big") + wrapped[5:]
        other = KeyRing(keyring.material.with_new_kek(), current=2)
        with pytest.raises(DecryptionError):
            other.unwrap(relabelled)

    def test_a_second_factor_sealed_before_key_ids_is_sealed_again(
        self, live_database: tuple[str, Engine], tmp_path: Path
    ) -> None:
        url, engine = live_database
        key_file, _old = legacy_key_file(tmp_path)
        settings = settings_of(url, tmp_path, key_file)
        keyring = open_keyring(settings=settings, engine=engine)
        with Session(engine, expire_on_commit=False) as session:
            submit(session, keyring, settings, "One.")
            staff, secret = make_staff(session, keyring)
            # As sealed before key ids: version 1, under a key derived from the lookup key.
            legacy_key = bytes.fromhex(keyring.lookup_hash("staff-totp-key", "v1"))
            nonce = os.urandom(12)
            staff.totp_secret_sealed = (
                b"\x01"
                + nonce
                + AESGCM(legacy_key).encrypt(nonce, secret.encode(), b"staff.totp_secret")
            )
            session.add(staff)
            session.commit()
            assert staff_service.open_totp_secret(keyring, staff.totp_secret_sealed) == secret
        rotate(settings=settings, engine=engine, say=lambda _line: None)
        new = KeyRing(read_key_file(key_file))
        with Session(engine) as session:
            resealed = session.get_one(Staff, staff.id).totp_secret_sealed
        assert resealed is not None and sealed_key_id(resealed) == 2 and resealed[:1] == b"\x02"
        assert staff_service.open_totp_secret(new, resealed) == secret
