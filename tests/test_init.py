"""`portline init`: a real installation's first run, without the demo. It installs the
default categories and the first administrator, prints their one-time link, and refuses
to run again, even when two first runs start at the same moment."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from api.agencies.models import Body
from api.crypto import generate_key_text
from api.ports.models import Port
from api.staff.models import Staff
from api.taxonomy.defaults import default_taxonomy
from api.taxonomy.models import Category
from tests.databases import fresh_database
from tests.server import running_server, server_environment
from tests.test_cli import portline, portline_environment

WELCOME = re.compile(r"https://portline\.port\.example/admin/welcome/(\S+)")
ALREADY = "Portline is already set up here: it has an administrator."


def _init(
    environment: dict[str, str], tmp_path: Path, email: str
) -> subprocess.CompletedProcess[str]:
    return portline(
        "init",
        "--email",
        email,
        "--base-url",
        "https://portline.port.example",
        data_dir=tmp_path,
        **environment,
    )


def _counts(engine: Engine) -> dict[str, int]:
    with Session(engine) as session:
        return {
            table.__name__: session.exec(select(func.count()).select_from(table)).one()
            for table in (Staff, Category, Port, Body)
        }


class TestFirstRun:
    def test_init_installs_the_categories_and_the_first_administrator_and_no_demo(
        self, tmp_path: Path
    ) -> None:
        with fresh_database(tmp_path, seed=False) as (url, engine):
            environment = server_environment(url, tmp_path)
            result = _init(environment, tmp_path, "security@port.example")
            assert result.returncode == 0, result.stderr
            link = WELCOME.search(result.stdout)
            assert link is not None, result.stdout
            assert _counts(engine) == {
                "Staff": 1,
                "Category": len(default_taxonomy()),
                "Port": 0,
                "Body": 0,
            }
            with Session(engine) as session:
                administrator = session.exec(select(Staff)).one()
            assert (administrator.email, administrator.role) == (
                "security@port.example",
                "administrator",
            )
            # The printed link is the administrator's way in.
            with running_server(environment, tmp_path / "server.log") as base_url:
                welcome = httpx.get(f"{base_url}/admin/welcome/{link.group(1)}")
            assert welcome.status_code == 200
            assert 'name="password"' in welcome.text

    def test_init_refuses_to_run_a_second_time(self, tmp_path: Path) -> None:
        with fresh_database(tmp_path, seed=False) as (url, engine):
            environment = server_environment(url, tmp_path)
            assert _init(environment, tmp_path, "first@port.example").returncode == 0
            again = _init(environment, tmp_path, "second@port.example")
            assert again.returncode == 1
            assert ALREADY in again.stderr
            assert "Traceback" not in again.stderr
            assert _counts(engine)["Staff"] == 1

    def test_two_first_runs_at_once_make_one_administrator(self, tmp_path: Path) -> None:
        with fresh_database(tmp_path, seed=False) as (url, engine):
            environment = server_environment(url, tmp_path, key=generate_key_text())
            runs = [
                subprocess.Popen(
                    [sys.executable, "-m", "api.cli", "init", "--email", f"admin{n}@port.example"],
                    env=portline_environment(tmp_path, **environment),
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
                for n in range(2)
            ]
            errors = [run.communicate(timeout=120)[1] for run in runs]
            outcomes = sorted(run.returncode for run in runs)
            assert outcomes == [0, 1], errors
            assert any(ALREADY in error for error in errors)
            assert _counts(engine)["Staff"] == 1

    def test_the_help_explains_every_option(self, tmp_path: Path) -> None:
        shown = portline("init", "--help", data_dir=tmp_path)
        assert shown.returncode == 0
        text = " ".join(shown.stdout.split())
        for explained in (
            "--email EMAIL the first administrator's e-mail address",
            "--name NAME how colleagues see them",
            "--base-url BASE_URL the address staff open Portline at",
        ):
            assert explained in text


class TestStaffCreate:
    def test_a_liaison_officer_is_created_for_a_body_named_by_its_code(
        self, tmp_path: Path
    ) -> None:
        with fresh_database(tmp_path) as (url, engine):
            environment = server_environment(url, tmp_path)

            def create(*options: str) -> subprocess.CompletedProcess[str]:
                return portline(
                    "staff",
                    "create",
                    "--role",
                    "liaison",
                    *options,
                    data_dir=tmp_path,
                    **environment,
                )

            made = create("--email", "duty@police.example", "--body", "police-port-unit")
            assert made.returncode == 0, made.stderr
            assert "/admin/welcome/" in made.stdout
            without = create("--email", "other@police.example")
            assert without.returncode == 1
            assert "A liaison officer belongs to one receiving body." in without.stderr
            unknown = create("--email", "third@police.example", "--body", "nobody")
            assert unknown.returncode == 1
            assert "there is no receiving body 'nobody'" in unknown.stderr
            with Session(engine) as session:
                officers = session.exec(select(Staff).where(Staff.role == "liaison")).all()
                police = session.exec(select(Body).where(Body.code == "police-port-unit")).one()
            assert [(officer.email, officer.body_id) for officer in officers] == [
                ("duty@police.example", police.id)
            ]
