from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, insert, select, text
from sqlmodel import Session

from api.config import Settings
from api.crypto import KeyFileError, KeyRing, generate_key_text
from api.keystore.models import KeyCheck
from api.keystore.service import open_keyring
from tests.databases import ON_POSTGRES


def _settings(tmp_path: Path, url: str, **values: object) -> Settings:
    return Settings.model_validate({"data_dir": tmp_path, "database_url": url, **values})


class TestKeyFile:
    def test_the_first_run_creates_a_key_file_only_its_owner_can_read(
        self, live_database: tuple[str, Engine], tmp_path: Path
    ) -> None:
        url, engine = live_database
        open_keyring(settings=_settings(tmp_path, url), engine=engine)
        key_file = tmp_path / "portline.key"
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600

    def test_the_same_key_opens_the_database_again(
        self, live_database: tuple[str, Engine], tmp_path: Path
    ) -> None:
        url, engine = live_database
        settings = _settings(tmp_path, url)
        first = open_keyring(settings=settings, engine=engine)
        second = open_keyring(settings=settings, engine=engine)
        assert first.unwrap(second.wrap(b"k" * 32)) == b"k" * 32

    def test_a_wrong_key_is_refused_with_a_clear_message(
        self, live_database: tuple[str, Engine], tmp_path: Path
    ) -> None:
        url, engine = live_database
        open_keyring(settings=_settings(tmp_path, url), engine=engine)
        other = _settings(tmp_path, url, key=generate_key_text())
        with pytest.raises(KeyFileError, match="does not match this database"):
            open_keyring(settings=other, engine=engine)

    def test_a_missing_key_file_is_refused_once_the_database_holds_sealed_data(
        self, live_database: tuple[str, Engine], tmp_path: Path
    ) -> None:
        url, engine = live_database
        open_keyring(settings=_settings(tmp_path, url), engine=engine)
        (tmp_path / "portline.key").unlink()
        with pytest.raises(KeyFileError, match="is missing"):
            open_keyring(settings=_settings(tmp_path, url), engine=engine)
        assert not (tmp_path / "portline.key").exists()

    def test_a_malformed_key_file_is_refused(
        self, live_database: tuple[str, Engine], tmp_path: Path
    ) -> None:
        url, engine = live_database
        key_file = tmp_path / "bad.key"
        key_file.write_text("not a key\n")
        key_file.chmod(0o600)
        with pytest.raises(KeyFileError, match="not a Portline key"):
            open_keyring(settings=_settings(tmp_path, url, key_file=key_file), engine=engine)

    def test_a_key_file_others_can_read_is_refused(
        self, live_database: tuple[str, Engine], tmp_path: Path
    ) -> None:
        url, engine = live_database
        key_file = tmp_path / "open.key"
        key_file.write_text(generate_key_text())
        key_file.chmod(0o644)
        with pytest.raises(KeyFileError, match="chmod 600"):
            open_keyring(settings=_settings(tmp_path, url, key_file=key_file), engine=engine)


def _sealed_check(engine: Engine, settings: Settings) -> bytes:
    """The check a first run with ``settings`` stores, taken out of the database again."""
    open_keyring(settings=settings, engine=engine)
    with Session(engine) as session:
        check = session.get_one(KeyCheck, 1)
        sealed = check.sealed
        session.delete(check)
        session.commit()
    return sealed


def _open_while_another_first_run_stores(
    engine: Engine, settings: Settings, sealed: bytes
) -> Future[KeyRing]:
    """Open the key ring while another process's first run has stored ``sealed`` as the
    check but not yet committed: the opening finds no check, then collides with this one."""
    with ThreadPoolExecutor(1) as pool, engine.connect() as other:
        other.begin()
        other.execute(insert(KeyCheck).values(id=1, sealed=sealed))
        opening = pool.submit(open_keyring, settings=settings, engine=engine)
        if ON_POSTGRES:  # on SQLite the opening's first read already waits for the commit
            _wait_until_a_query_waits_for_a_lock(engine)
        other.commit()
    return opening


def _wait_until_a_query_waits_for_a_lock(engine: Engine) -> None:
    waiting = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    deadline = time.monotonic() + 10
    with engine.connect() as connection:
        while connection.execute(waiting).scalar_one() == 0:
            assert time.monotonic() < deadline, "the opening never reached the insert"
            time.sleep(0.02)
            connection.rollback()


class TestFirstRunsAtOnce:
    """Two first runs that meet (without the start-up lock) agree on one check."""

    def test_the_check_another_first_run_stored_with_the_same_key_is_accepted(
        self, live_database: tuple[str, Engine], tmp_path: Path
    ) -> None:
        url, engine = live_database
        settings = _settings(tmp_path, url, key=generate_key_text())
        opening = _open_while_another_first_run_stores(
            engine, settings, _sealed_check(engine, settings)
        )
        keyring = opening.result()
        assert keyring.unwrap(keyring.wrap(b"k" * 32)) == b"k" * 32
        with engine.connect() as connection:
            assert connection.execute(select(func.count()).select_from(KeyCheck)).scalar_one() == 1

    def test_the_check_another_first_run_stored_with_another_key_refuses_this_one(
        self, live_database: tuple[str, Engine], tmp_path: Path
    ) -> None:
        url, engine = live_database
        winner = _settings(tmp_path, url, key=generate_key_text())
        opening = _open_while_another_first_run_stores(
            engine,
            _settings(tmp_path, url, key=generate_key_text()),
            _sealed_check(engine, winner),
        )
        with pytest.raises(KeyFileError, match="does not match this database"):
            opening.result()
        open_keyring(settings=winner, engine=engine)


class TestStartWithAWrongKey:
    def test_serve_stops_with_a_message_and_no_traceback(
        self, live_database: tuple[str, Engine], tmp_path: Path
    ) -> None:
        url, engine = live_database
        open_keyring(settings=_settings(tmp_path, url), engine=engine)
        environment = {
            **os.environ,
            "PORTLINE_DATABASE_URL": url,
            "PORTLINE_DATA_DIR": str(tmp_path),
            "PORTLINE_KEY": generate_key_text(),
        }
        result = subprocess.run(
            [sys.executable, "-m", "api.cli", "serve", "--port", "1"],
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 2
        assert "does not match this database" in result.stderr
        assert "Traceback" not in result.stderr
