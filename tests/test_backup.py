"""Backups open with age, restore onto an empty database only, and leave the key out."""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import stat
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyrage
import pytest
from alembic.script import ScriptDirectory
from pyrage import x25519
from sqlalchemy import Engine, create_engine, inspect, make_url, text
from sqlmodel import Session

from api import migrate
from api.audit import service as audit_service
from api.config import Settings
from api.crypto import KeyRing, read_key_file
from api.db import make_engine, utcnow
from api.demo import seed_demo, seed_demo_reports, seed_demo_staff
from api.keystore.service import open_keyring
from api.multipart import UploadedFile
from api.reports import service as reports_service
from api.reports.schemas import ReportCreate, ReporterLogin, ReporterMessageIn
from tests.databases import ON_POSTGRES, TEST_DATABASE_URL
from tests.factories import jpeg_bytes, report_payload
from tests.operations_doc import commands

AGE = Path("/usr/bin/age")
PORTLINE = Path(sys.executable).parent / "portline"


def _admin_url() -> str:
    return (
        make_url(TEST_DATABASE_URL)
        .set(drivername="postgresql+psycopg")
        .render_as_string(hide_password=False)
    )


@pytest.fixture
def new_database(tmp_path: Path) -> Iterator[Callable[[], str]]:
    """Make empty databases (not migrated) of the suite's kind; dropped afterwards."""
    made: list[str] = []

    def make() -> str:
        name = f"portline_backup_{uuid.uuid4().hex[:12]}"
        made.append(name)
        if not ON_POSTGRES:
            return f"sqlite:///{tmp_path / 'databases' / name / 'portline.db'}"
        admin = create_engine(_admin_url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        url = make_url(TEST_DATABASE_URL).set(database=name)
        return url.render_as_string(hide_password=False)

    yield make
    if ON_POSTGRES:
        admin = create_engine(_admin_url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            for name in made:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclass
class Installation:
    """One Portline: its database, its key file, and how to run its commands."""

    url: str
    key_file: Path
    data_dir: Path

    def settings(self) -> Settings:
        return Settings.model_validate(
            {
                "database_url": self.url,
                "data_dir": self.data_dir,
                "key_file": self.key_file,
                "pow_difficulty": 0,
            }
        )

    def environment(self, **extra: str) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith("PORTLINE_")}
        env.update(
            {
                "PORTLINE_DATABASE_URL": self.url,
                "PORTLINE_DATA_DIR": str(self.data_dir),
                "PORTLINE_KEY_FILE": str(self.key_file),
                "PATH": f"{PORTLINE.parent}:{env.get('PATH', '')}",
                **extra,
            }
        )
        return env

    def portline(self, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(PORTLINE), *args],
            env=self.environment(**extra),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    @contextmanager
    def engine(self) -> Iterator[Engine]:
        engine = make_engine(self.settings().effective_database_url)
        try:
            yield engine
        finally:
            engine.dispose()

    def tables(self) -> list[str]:
        if not ON_POSTGRES and not Path(make_url(self.url).database or "").exists():
            return []
        with self.engine() as engine, engine.connect() as connection:
            return sorted(inspect(connection).get_table_names())

    def rows(self) -> dict[str, int]:
        with self.engine() as engine, engine.connect() as connection:
            return {
                table: connection.execute(text(f'SELECT count(*) FROM "{table}"')).scalar_one()
                for table in inspect(connection).get_table_names()
            }


@dataclass
class Seeded:
    installation: Installation
    receipts: list[tuple[str, str]]  # reference, receipt
    photo_report: str  # the reference of the report with a photo and a reporter message


@dataclass
class Keys:
    identity_file: Path
    public_key: str


def _keys(directory: Path, name: str = "backup-identity.txt") -> Keys:
    identity = x25519.Identity.generate()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(f"# created for a test\n{identity}\n", encoding="utf-8")
    return Keys(identity_file=path, public_key=str(identity.to_public()))


@pytest.fixture
def keys(tmp_path: Path) -> Keys:
    return _keys(tmp_path / "operator")


def _installation(tmp_path: Path, url: str, key_file: Path) -> Installation:
    data_dir = tmp_path / f"data-{uuid.uuid4().hex[:8]}"
    if not ON_POSTGRES:
        data_dir = Path(make_url(url).database or "").parent
        data_dir.mkdir(parents=True, exist_ok=True)
    return Installation(url=url, key_file=key_file, data_dir=data_dir)


def _seed(installation: Installation) -> Seeded:
    """Demo ports, staff (audited) and reports, and one report with a photo and a reply."""
    settings = installation.settings()
    with installation.engine() as engine:
        migrate.upgrade(engine)
        keyring = open_keyring(settings=settings, engine=engine)  # makes the key file
        with Session(engine, expire_on_commit=False) as session:
            seed_demo(session)
            seed_demo_staff(session, keyring, utcnow())
            session.commit()
            receipts = seed_demo_reports(session, keyring, settings, utcnow())
            session.commit()
            receipt = reports_service.submit_report(
                session=session,
                keyring=keyring,
                settings=settings,
                report_in=ReportCreate.model_validate(report_payload()),
                files=[UploadedFile("files", "harbour gate.jpg", jpeg_bytes())],
                now=utcnow(),
            )
            session.commit()
            report = reports_service.find_by_reference(session=session, reference=receipt.reference)
            assert report is not None
            reports_service.add_reporter_message(
                session=session,
                keyring=keyring,
                report=report,
                message_in=ReporterMessageIn(body="The same men came back on Tuesday."),
                now=utcnow(),
            )
            session.commit()
    return Seeded(
        installation=installation,
        receipts=[*receipts, (receipt.reference, receipt.receipt)],
        photo_report=receipt.reference,
    )


@pytest.fixture
def seeded(tmp_path: Path, new_database: Callable[[], str]) -> Seeded:
    return _seed(_installation(tmp_path, new_database(), tmp_path / "keys" / "portline.key"))


@pytest.fixture
def empty(tmp_path: Path, new_database: Callable[[], str], seeded: Seeded) -> Installation:
    """A new, empty database with the source's key file, where backups are restored."""
    return _installation(tmp_path, new_database(), seeded.installation.key_file)


def _backup(installation: Installation, path: Path, keys: Keys) -> None:
    result = installation.portline("backup", str(path), "--recipient", keys.public_key)
    assert result.returncode == 0, result.stderr
    assert "Backup written" in result.stdout


def _decrypt_with_age(path: Path, keys: Keys) -> bytes:
    assert AGE.exists(), "the backup tests need age (scripts/test installs it: apt-get install age)"
    opened = subprocess.run(
        [str(AGE), "-d", "-i", str(keys.identity_file), str(path)],
        capture_output=True,
        timeout=120,
        check=True,
    )
    return opened.stdout


def _audit_intact(installation: Installation) -> None:
    verified = installation.portline("audit", "verify")
    assert verified.returncode == 0, verified.stderr
    assert "Audit log intact" in verified.stdout


def _sealed_with(path: Path, keys: Keys, manifest_line: bytes, payload: bytes) -> Path:
    """A file made as a backup is, with a manifest of the test's choosing."""
    sealed = io.BytesIO()
    pyrage.encrypt_io(
        io.BytesIO(manifest_line + payload), sealed, [x25519.Recipient.from_str(keys.public_key)]
    )
    path.write_bytes(sealed.getvalue())
    return path


class TestBackupAndRestore:
    def test_a_restored_backup_passes_audit_verify_and_a_receipt_opens_the_report(
        self, tmp_path: Path, seeded: Seeded, empty: Installation, keys: Keys
    ) -> None:
        backup = tmp_path / "portline-backup.age"
        _backup(seeded.installation, backup, keys)

        restored = empty.portline("restore", str(backup), "--identity", str(keys.identity_file))

        assert restored.returncode == 0, restored.stderr
        assert "now at the latest migration" in restored.stdout
        assert "opens it" in restored.stdout
        assert empty.rows() == seeded.installation.rows()
        _audit_intact(empty)
        settings = empty.settings()
        with empty.engine() as engine, Session(engine) as session:
            keyring = KeyRing(read_key_file(empty.key_file))
            for reference, receipt in seeded.receipts:
                token = reports_service.log_in(
                    session=session,
                    keyring=keyring,
                    settings=settings,
                    login=ReporterLogin(receipt=receipt),
                    now=utcnow(),
                )
                report = reports_service.report_for_token(
                    session=session, keyring=keyring, token=token.token, now=utcnow()
                )
                view = reports_service.reporter_view(
                    session=session, keyring=keyring, report=report, language="en"
                )
                assert view.reference == reference
            assert view.reference == seeded.photo_report
            assert [message.body for message in view.messages] == [
                "The same men came back on Tuesday."
            ]
            staff_view = reports_service.staff_view(session=session, keyring=keyring, report=report)
            assert staff_view.narrative == report_payload()["narrative"]
            media_type, photo = reports_service.staff_attachment(
                session=session, keyring=keyring, report=report, seq=1
            )
            assert media_type == "image/jpeg" and photo.startswith(b"\xff\xd8")

    def test_age_opens_the_backup_and_it_never_holds_the_key(
        self, tmp_path: Path, seeded: Seeded, keys: Keys
    ) -> None:
        backup = tmp_path / "portline-backup.age"
        _backup(seeded.installation, backup, keys)

        archive = _decrypt_with_age(backup, keys)

        manifest, _newline, dump = archive.partition(b"\n")
        assert b'"format": "portline-backup"' in manifest
        assert b'"revision": "' in manifest
        assert dump.startswith(b"PGDMP" if ON_POSTGRES else b"SQLite format 3\x00")
        key_text = seeded.installation.key_file.read_text(encoding="ascii").strip()
        key = base64.b64decode(key_text)
        for secret in (key, key_text.encode(), base64.urlsafe_b64encode(key), key.hex().encode()):
            assert secret not in archive
        assert b"SQLite format 3" not in backup.read_bytes()
        assert b"portline-backup" not in backup.read_bytes()

    def test_the_backup_file_is_private_and_nothing_else_is_left(
        self, tmp_path: Path, seeded: Seeded, keys: Keys
    ) -> None:
        scratch = tmp_path / "scratch"
        scratch.mkdir()
        out = tmp_path / "out"
        out.mkdir()
        result = seeded.installation.portline(
            "backup", str(out / "portline-backup.age"), "-r", keys.public_key, TMPDIR=str(scratch)
        )

        assert result.returncode == 0, result.stderr
        assert stat.S_IMODE((out / "portline-backup.age").stat().st_mode) == 0o600
        assert [path.name for path in out.iterdir()] == ["portline-backup.age"]
        assert list(scratch.iterdir()) == []  # the SQLite copy's private directory is gone

    def test_an_older_backup_comes_up_to_the_latest_migration(
        self, tmp_path: Path, new_database: Callable[[], str], keys: Keys
    ) -> None:
        older = _installation(tmp_path, new_database(), tmp_path / "old.key")
        with older.engine() as engine:
            scripts = ScriptDirectory.from_config(migrate.alembic_config(engine))
            head = scripts.get_current_head()
            assert head is not None
            previous = scripts.get_revision(head).down_revision
            assert isinstance(previous, str)
            migrate.upgrade(engine, previous)
        backup = tmp_path / "older.age"
        _backup(older, backup, keys)
        target = _installation(tmp_path, new_database(), tmp_path / "old.key")

        restored = target.portline("restore", str(backup), "-i", str(keys.identity_file))

        assert restored.returncode == 0, restored.stderr
        assert f"(migration {previous})" in restored.stdout
        with target.engine() as engine, engine.connect() as connection:
            assert (
                connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == head
            )

    def test_the_recipients_may_come_from_a_file_or_the_setting(
        self, tmp_path: Path, seeded: Seeded, keys: Keys
    ) -> None:
        other = _keys(tmp_path / "second operator")
        listed = tmp_path / "backup-recipients.txt"
        listed.write_text(f"# the operators\n{keys.public_key}\n\n{other.public_key}\n")
        from_file = tmp_path / "from-file.age"
        from_setting = tmp_path / "from-setting.age"

        by_file = seeded.installation.portline("backup", str(from_file), "-R", str(listed))
        by_setting = seeded.installation.portline(
            "backup",
            str(from_setting),
            PORTLINE_BACKUP_RECIPIENTS=f"{keys.public_key}, {other.public_key}",
        )

        assert by_file.returncode == 0, by_file.stderr
        assert by_setting.returncode == 0, by_setting.stderr
        for backup in (from_file, from_setting):
            for operator in (keys, other):
                assert _decrypt_with_age(backup, operator).startswith(b'{"created_hour"')


class TestRefusals:
    def test_restore_onto_a_database_with_tables_is_refused_and_changes_nothing(
        self, tmp_path: Path, seeded: Seeded, keys: Keys, new_database: Callable[[], str]
    ) -> None:
        backup = tmp_path / "portline-backup.age"
        _backup(seeded.installation, backup, keys)
        other = _installation(tmp_path, new_database(), tmp_path / "other.key")
        with other.engine() as engine:
            migrate.upgrade(engine)
        targets = [seeded.installation, other]
        before = [target.rows() for target in targets]

        for target in targets:
            refused = target.portline("restore", str(backup), "-i", str(keys.identity_file))
            assert refused.returncode == 1
            assert refused.stderr.startswith("portline: the database is not empty")
            assert "Traceback" not in refused.stderr

        assert [target.rows() for target in targets] == before
        _audit_intact(seeded.installation)

    def test_a_wrong_identity_is_refused(
        self, tmp_path: Path, seeded: Seeded, empty: Installation, keys: Keys
    ) -> None:
        backup = tmp_path / "portline-backup.age"
        _backup(seeded.installation, backup, keys)
        stranger = _keys(tmp_path / "stranger")

        refused = empty.portline("restore", str(backup), "-i", str(stranger.identity_file))

        assert refused.returncode == 1
        assert "the identity does not open this backup" in refused.stderr
        assert empty.tables() == []

    def test_a_file_that_is_not_an_identity_is_refused_without_echoing_it(
        self, tmp_path: Path, seeded: Seeded, empty: Installation, keys: Keys
    ) -> None:
        backup = tmp_path / "portline-backup.age"
        _backup(seeded.installation, backup, keys)
        mistyped = tmp_path / "mistyped.txt"
        mistyped.write_text("AGE-SECRET-KEY-1NOTREALLYAKEY\n")

        refused = empty.portline("restore", str(backup), "-i", str(mistyped))

        assert refused.returncode == 1
        assert "line 1: not an age identity" in refused.stderr
        assert "NOTREALLYAKEY" not in refused.stderr

    def test_a_damaged_backup_restores_nothing(
        self, tmp_path: Path, seeded: Seeded, empty: Installation, keys: Keys
    ) -> None:
        backup = tmp_path / "portline-backup.age"
        _backup(seeded.installation, backup, keys)
        cut = tmp_path / "cut.age"
        cut.write_bytes(backup.read_bytes()[: backup.stat().st_size - 200])

        refused = empty.portline("restore", str(cut), "-i", str(keys.identity_file))

        assert refused.returncode == 1
        assert "damaged or cut short" in refused.stderr
        assert empty.tables() == []

    @pytest.mark.parametrize(
        ("manifest", "message"),
        [
            pytest.param(
                "sqlite" if ON_POSTGRES else "postgresql",
                "this is a backup of a",
                id="other-database",
            ),
            pytest.param(
                "9999", "at migration 9999, which this Portline does not know", id="newer"
            ),
            pytest.param("not a manifest", "not a Portline backup", id="not-a-backup"),
        ],
    )
    def test_a_backup_this_database_cannot_take_is_refused(
        self, tmp_path: Path, empty: Installation, keys: Keys, manifest: str, message: str
    ) -> None:
        kind = "sqlite" if not ON_POSTGRES else "postgresql"
        fields = {
            "format": "portline-backup",
            "format_version": 1,
            "database": manifest if manifest in {"sqlite", "postgresql"} else kind,
            "revision": manifest if manifest == "9999" else "0001",
            "portline": "9.9.9",
            "created_hour": datetime(2025, 1, 1, 10, tzinfo=UTC).isoformat(),
        }
        line = (manifest if manifest == "not a manifest" else json.dumps(fields)).encode()
        crafted = _sealed_with(tmp_path / "crafted.age", keys, line + b"\n", b"data")

        refused = empty.portline("restore", str(crafted), "-i", str(keys.identity_file))

        assert refused.returncode == 1
        assert message in refused.stderr
        assert empty.tables() == []

    def test_a_backup_never_writes_over_the_key_file(self, seeded: Seeded, keys: Keys) -> None:
        key_file = seeded.installation.key_file
        before = key_file.read_bytes()

        refused = seeded.installation.portline("backup", str(key_file), "-r", keys.public_key)

        assert refused.returncode == 1
        assert "choose another file" in refused.stderr
        assert key_file.read_bytes() == before

    def test_a_backup_without_a_public_key_is_a_usage_error(
        self, tmp_path: Path, seeded: Seeded
    ) -> None:
        refused = seeded.installation.portline("backup", str(tmp_path / "portline-backup.age"))

        assert refused.returncode == 2
        assert "--recipient" in refused.stderr and "PORTLINE_BACKUP_RECIPIENTS" in refused.stderr
        assert not (tmp_path / "portline-backup.age").exists()


class TestConsistency:
    def test_a_backup_taken_while_reports_are_written_restores_whole(
        self,
        tmp_path: Path,
        seeded: Seeded,
        keys: Keys,
        new_database: Callable[[], str],
    ) -> None:
        source = seeded.installation
        settings = source.settings()
        keyring = KeyRing(read_key_file(source.key_file))
        stop = threading.Event()
        failures: list[BaseException] = []
        written = [0]

        def write_reports(engine: Engine) -> None:
            try:
                while not stop.is_set():
                    with Session(engine) as session:
                        reports_service.submit_report(
                            session=session,
                            keyring=keyring,
                            settings=settings,
                            report_in=ReportCreate.model_validate(report_payload()),
                            files=[],
                            now=utcnow(),
                        )
                        audit_service.record(
                            session=session,
                            keyring=keyring,
                            action="staff.created",
                            now=utcnow(),
                            actor="writer@example.test",
                            object_type="staff",
                            object_id=written[0],
                        )
                        session.commit()
                    written[0] += 1
            except BaseException as error:
                failures.append(error)

        backups = [tmp_path / f"during-{number}.age" for number in range(2)]
        with source.engine() as engine:
            writer = threading.Thread(target=write_reports, args=(engine,))
            writer.start()
            try:
                for backup in backups:
                    _backup(source, backup, keys)
            finally:
                stop.set()
                writer.join(timeout=60)
        assert not failures
        assert written[0] > 0

        for backup in backups:
            target = _installation(tmp_path, new_database(), source.key_file)
            restored = target.portline("restore", str(backup), "-i", str(keys.identity_file))
            assert restored.returncode == 0, restored.stderr
            _audit_intact(target)


class TestOperationsGuide:
    def test_the_guide_s_back_up_and_restore_commands_work_as_written(
        self, tmp_path: Path, seeded: Seeded, empty: Installation
    ) -> None:
        assert AGE.exists(), "the guide's commands need age (scripts/test installs it)"
        assert shutil.which("age-keygen") is not None
        workdir = tmp_path / "operator's directory"
        workdir.mkdir()

        def run(installation: Installation, lines: list[str]) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                ["bash", "-euc", "\n".join(lines)],
                cwd=workdir,
                env=installation.environment(),
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )

        backed_up = run(seeded.installation, commands("Back up"))
        assert backed_up.returncode == 0, backed_up.stderr
        assert '"format": "portline-backup"' in backed_up.stdout
        assert (workdir / "portline-backup.age").exists()

        restored = run(empty, commands("Restore"))
        assert restored.returncode == 0, restored.stderr
        assert "Audit log intact" in restored.stdout
        assert not (workdir / "backup-identity.txt").exists()
        assert empty.rows() == seeded.installation.rows()
