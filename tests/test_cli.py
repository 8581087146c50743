from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pyotp
import pytest
from sqlalchemy import create_engine, text

from api.cli import build_parser
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

    def test_a_second_demo_says_it_exists_and_how_to_get_receipts_again(
        self, tmp_path: Path
    ) -> None:
        portline("demo", data_dir=tmp_path)
        again = portline("demo", "--port", "9123", data_dir=tmp_path)
        assert again.returncode == 0, again.stderr
        assert "The demo already exists" in again.stdout
        assert "PORTLINE_DATA_DIR=$(mktemp -d) portline demo" in again.stdout
        # It says where it would serve, that links start elsewhere, and what a worker does.
        assert "Serve it with: portline serve --host 127.0.0.1 --port 9123" in again.stdout
        assert "start with http://127.0.0.1:8000 (PORTLINE_PUBLIC_URL)" in again.stdout
        assert "Portline listens at http://127.0.0.1:9123/" in again.stdout
        assert "wait until a worker" in again.stdout

    def test_a_demo_worker_needs_the_server_it_runs_beside(self, tmp_path: Path) -> None:
        refused = portline("demo", "--worker", data_dir=tmp_path)
        assert refused.returncode == 2
        assert "add --serve" in refused.stderr
        assert not (tmp_path / "portline.db").exists()

    def test_the_readmes_demo_serves_with_a_worker_and_links_at_its_own_address(
        self, tmp_path: Path
    ) -> None:
        log = tmp_path / "demo.log"
        environment = {"PORTLINE_DATA_DIR": str(tmp_path / "var"), "PORTLINE_DATABASE_URL": ""}
        command = ["bash", "scripts/demo", "--port", "{port}", "--worker"]
        with running_server(environment, log, command=command) as base_url:
            printed = log.read_text()
            assert f"Console logins ({base_url}/admin;" in printed
            assert "wait until a worker" not in printed
            worker = re.search(r"A worker is running beside the server \(process (\d+)\)", printed)
            assert worker, printed
            worker_pid = int(worker.group(1))
            # The worker works: it schedules the retention sweep in the demo's database.
            engine = create_engine(f"sqlite:///{tmp_path / 'var' / 'portline.db'}")
            deadline = time.monotonic() + 30
            with engine.connect() as connection:
                while not connection.execute(text("SELECT count(*) FROM job_schedule")).scalar():
                    assert time.monotonic() < deadline, log.read_text()
                    time.sleep(0.2)
            engine.dispose()
        # Stopping the demo stops its worker.
        deadline = time.monotonic() + 30
        while Path(f"/proc/{worker_pid}").exists() and _alive(worker_pid):
            assert time.monotonic() < deadline, "the worker outlived the demo"
            time.sleep(0.1)

    def test_serve_migrates_an_empty_data_directory_then_serves(self, tmp_path: Path) -> None:
        environment = {"PORTLINE_DATA_DIR": str(tmp_path / "fresh"), "PORTLINE_DATABASE_URL": ""}
        with running_server(environment, tmp_path / "serve.log") as base_url:
            config = httpx.get(f"{base_url}/api/v1/public/config").json()
        assert config["ports"] == []  # migrated, not seeded
        assert len(config["languages"]) == 8


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, exited but not yet reaped, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


class TestHelp:
    def test_every_command_and_option_says_what_it_does(self) -> None:
        missing: list[str] = []

        def walk(parser: argparse.ArgumentParser, path: str) -> None:
            for action in parser._actions:
                if isinstance(action, argparse._SubParsersAction):
                    helps = {choice.dest: choice.help for choice in action._choices_actions}
                    for name, command in action.choices.items():
                        if not helps.get(name):
                            missing.append(f"{path} {name}")
                        walk(command, f"{path} {name}")
                elif not action.help or action.help == argparse.SUPPRESS:
                    missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")

        walk(build_parser(), "portline")
        assert missing == []
