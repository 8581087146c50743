from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pyotp
import pytest
from sqlalchemy import create_engine, text

from api.config import SettingsError, load_settings
from api.proofs.service import solve
from tests.server import running_server


def portline_environment(data_dir: Path, **environment: str) -> dict[str, str]:
    """This process's environment without its PORTLINE_* settings, and then these."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PORTLINE_")}
    env.update({"PORTLINE_DATA_DIR": str(data_dir), **environment})
    return env


def portline(*args: str, data_dir: Path, **environment: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        env=portline_environment(data_dir, **environment),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


class TestSettings:
    @pytest.mark.parametrize(
        ("variable", "value"),
        [
            ("PORTLINE_POW_DIFFICULTY", "lots"),
            ("PORTLINE_POW_DIFFICULTY", "-1"),
            ("PORTLINE_DATABASE_URL", "mysql://root@localhost/portline"),
            ("PORTLINE_MAX_FILES", "many"),
            ("PORTLINE_LOG_LEVEL", "LOUD"),
        ],
    )
    def test_a_bad_value_is_named_at_start(
        self, monkeypatch: pytest.MonkeyPatch, variable: str, value: str
    ) -> None:
        monkeypatch.setenv(variable, value)
        with pytest.raises(SettingsError, match=variable):
            load_settings()

    def test_the_command_stops_with_the_message_and_no_traceback(self, tmp_path: Path) -> None:
        result = portline("db", "upgrade", data_dir=tmp_path, PORTLINE_POW_DIFFICULTY="lots")
        assert result.returncode == 2
        assert "PORTLINE_POW_DIFFICULTY" in result.stderr
        assert "Traceback" not in result.stderr

    def test_the_defaults_put_sqlite_and_the_key_in_the_data_directory(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        for variable in list(os.environ):
            if variable.startswith("PORTLINE_"):
                monkeypatch.delenv(variable)
        monkeypatch.setenv("PORTLINE_DATA_DIR", str(tmp_path))
        settings = load_settings()
        assert settings.effective_database_url == f"sqlite:///{tmp_path / 'portline.db'}"
        assert settings.effective_key_file == tmp_path / "portline.key"
        assert settings.pow_difficulty > 0


class TestCommands:
    def test_db_upgrade_creates_the_schema(self, tmp_path: Path) -> None:
        result = portline("db", "upgrade", data_dir=tmp_path)
        assert result.returncode == 0, result.stderr
        assert (tmp_path / "portline.db").exists()

    def test_demo_seeds_the_demo_port_once(self, tmp_path: Path) -> None:
        first = portline("demo", data_dir=tmp_path)
        second = portline("demo", data_dir=tmp_path)
        assert first.returncode == second.returncode == 0, first.stderr
        assert "2 ports, 15 zones, 20 categories, 10 receiving bodies" in first.stdout
        assert first.stdout.splitlines()[0] == second.stdout.splitlines()[0]
        # Reports for the triage queue, once: a second run adds none.
        assert "6 demo reports for the triage queue" in first.stdout
        assert "demo reports" not in second.stdout
        engine = create_engine(f"sqlite:///{tmp_path / 'portline.db'}")
        with engine.connect() as connection:
            counted = connection.execute(text('SELECT count(*) FROM "case"')).scalar_one()
        engine.dispose()
        assert counted == 6
        assert (tmp_path / "portline.key").stat().st_mode & 0o077 == 0

    def test_demo_prints_a_console_login_per_role_that_signs_in(self, tmp_path: Path) -> None:
        result = portline("demo", data_dir=tmp_path)
        logins = [
            line.split() for line in result.stdout.splitlines() if "@demo.portline.test" in line
        ]
        assert [login[0] for login in logins] == ["administrator", "triager", "liaison", "auditor"]
        _role, email, password, _word, secret = logins[0]
        environment = {"PORTLINE_DATA_DIR": str(tmp_path), "PORTLINE_DATABASE_URL": ""}
        with (
            running_server(environment, tmp_path / "serve.log") as base_url,
            httpx.Client(base_url=base_url) as client,
        ):
            signed = client.post(
                "/api/v1/staff/session", json={"email": email, "password": password}
            )
            assert signed.status_code == 200, signed.text
            code = client.post(
                "/api/v1/staff/session/second-factor", json={"code": pyotp.TOTP(secret).now()}
            )
            assert code.status_code == 200, code.text
            assert client.get("/api/v1/staff/me").json()["role"] == "administrator"
            # A demo reporter comes back with a printed receipt code.
            receipt = re.search(r"receipt (\d{16})", result.stdout)
            assert receipt, result.stdout
            challenge = client.post("/api/v1/public/challenge").json()
            proof = {
                "challenge": challenge["challenge"],
                "nonce": solve(challenge["challenge"], challenge["difficulty"]),
            }
            opened = client.post(
                "/api/v1/reporter/session", json={"receipt": receipt.group(1), "proof": proof}
            )
            assert opened.status_code == 200, opened.text

    def test_serve_migrates_an_empty_data_directory_then_serves(self, tmp_path: Path) -> None:
        environment = {"PORTLINE_DATA_DIR": str(tmp_path / "fresh"), "PORTLINE_DATABASE_URL": ""}
        with running_server(environment, tmp_path / "serve.log") as base_url:
            config = httpx.get(f"{base_url}/api/v1/public/config").json()
        assert config["ports"] == []  # migrated, not seeded
        assert len(config["languages"]) == 8
