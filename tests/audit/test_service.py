"""The audit log is append-only and hash-chained: any edit or deletion is found."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session

from api.audit import service
from api.crypto import KeyRing, generate_key_text, parse_key_text


def _fill(engine: Engine, keyring: KeyRing, count: int = 5) -> None:
    with Session(engine) as session:
        for number in range(count):
            service.record(
                session=session,
                keyring=keyring,
                action="staff.created",
                now=datetime.now(UTC),
                actor=f"admin{number}@example.test",
                object_type="staff",
                object_id=number,
            )
        session.commit()


def _verdict(engine: Engine, keyring: KeyRing) -> service.Verdict:
    with Session(engine) as session:
        return service.verify(session=session, keyring=keyring)


@pytest.fixture
def chained(live_database: tuple[str, Engine]) -> tuple[Engine, KeyRing]:
    _url, engine = live_database
    keyring = KeyRing(parse_key_text(generate_key_text(), source="test"))
    _fill(engine, keyring)
    return engine, keyring


def _raw(engine: Engine, sql: str) -> None:
    with engine.begin() as connection:
        connection.execute(text(sql))


class TestAuditChain:
    def test_an_untouched_log_verifies(self, chained: tuple[Engine, KeyRing]) -> None:
        verdict = _verdict(*chained)
        assert verdict.intact and verdict.entries == 5

    def test_an_edited_entry_is_named(self, chained: tuple[Engine, KeyRing]) -> None:
        engine, keyring = chained
        _raw(engine, "UPDATE audit_entry SET actor = 'someone-else' WHERE seq = 3")
        verdict = _verdict(engine, keyring)
        assert verdict.broken_seq == 3 and "changed" in verdict.reason

    def test_a_deleted_entry_is_named(self, chained: tuple[Engine, KeyRing]) -> None:
        engine, keyring = chained
        _raw(engine, "DELETE FROM audit_entry WHERE seq = 2")
        assert _verdict(engine, keyring).broken_seq == 2

    def test_deleting_the_last_entries_is_caught(self, chained: tuple[Engine, KeyRing]) -> None:
        engine, keyring = chained
        _raw(engine, "DELETE FROM audit_entry WHERE seq >= 4")
        verdict = _verdict(engine, keyring)
        assert verdict.broken_seq == 4 and "missing" in verdict.reason

    def test_rewriting_the_chain_without_the_key_is_caught(
        self, chained: tuple[Engine, KeyRing]
    ) -> None:
        engine, keyring = chained
        _raw(engine, "UPDATE audit_head SET seq = 3")
        assert _verdict(engine, keyring).broken_seq == 3

    def test_a_new_entry_follows_the_last(self, chained: tuple[Engine, KeyRing]) -> None:
        engine, keyring = chained
        _fill(engine, keyring, 1)
        assert _verdict(engine, keyring).entries == 6


class TestAuditVerifyCommand:
    def _run(self, url: str, key: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
        environment = {
            **os.environ,
            "PORTLINE_DATABASE_URL": url,
            "PORTLINE_DATA_DIR": str(tmp_path),
            "PORTLINE_KEY": key,
        }
        return subprocess.run(
            [sys.executable, "-m", "api.cli", "audit", "verify"],
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def test_the_command_exits_non_zero_and_names_the_first_broken_entry(
        self, live_database: tuple[str, Engine], tmp_path: Path
    ) -> None:
        from api.config import Settings
        from api.keystore.service import open_keyring

        url, engine = live_database
        key = generate_key_text()
        keyring = open_keyring(
            settings=Settings.model_validate(
                {"database_url": url, "data_dir": tmp_path, "key": key}
            ),
            engine=engine,
        )
        _fill(engine, keyring)
        good = self._run(url, key, tmp_path)
        assert good.returncode == 0, good.stderr
        assert "intact: 5 entries" in good.stdout
        _raw(engine, "UPDATE audit_entry SET action = 'nothing.happened' WHERE seq = 2")
        broken = self._run(url, key, tmp_path)
        assert broken.returncode == 1
        assert "entry 2" in broken.stderr
