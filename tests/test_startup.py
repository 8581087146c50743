"""Several Portline processes started at once on a new database all come up: migrations
and the first run's set-up (the key check) run under one database-wide lock, and each
process that waited for it finds the work done."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, func, make_url, select, text

from api import migrate
from api.db import make_engine
from api.keystore.models import KeyCheck
from tests.databases import ON_POSTGRES, _admin_url
from tests.server import running_servers, server_environment

AT_ONCE = 3


@contextmanager
def empty_database(directory: Path) -> Iterator[str]:
    """The URL of a database nothing has touched yet: no tables, no migrations."""
    if not ON_POSTGRES:
        yield f"sqlite:///{directory / 'portline.db'}"
        return
    name = f"portline_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(_admin_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(_admin_url()).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def key_checks_and_revision(url: str) -> tuple[int, str | None]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            checks = connection.execute(select(func.count()).select_from(KeyCheck)).scalar_one()
            revision = MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
    return checks, revision


class TestStartingTogether:
    # Each attempt is a new database: the race is lost or won in the first second.
    @pytest.mark.parametrize("attempt", range(3))
    def test_three_servers_started_at_once_on_a_new_database_all_serve(
        self, tmp_path: Path, attempt: int
    ) -> None:
        with empty_database(tmp_path) as url:
            environment = server_environment(url, tmp_path)
            with running_servers(environment, tmp_path, count=AT_ONCE) as base_urls:
                for base_url in base_urls:
                    assert httpx.get(f"{base_url}/api/v1/public/config").status_code == 200
            head = ScriptDirectory(str(migrate.MIGRATIONS_DIR)).get_current_head()
            assert key_checks_and_revision(url) == (1, head)
