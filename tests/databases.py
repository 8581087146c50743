"""Fresh, migrated test databases on SQLite or PostgreSQL.

``PORTLINE_TEST_DATABASE_URL`` picks the server: unset (or ``sqlite``) for SQLite files,
or a PostgreSQL URL whose server may create databases (``postgresql://postgres@127.0.0.1/postgres``).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, make_url, text
from sqlmodel import Session

from api import migrate
from api.db import make_engine
from api.demo import seed_demo

TEST_DATABASE_URL = os.environ.get("PORTLINE_TEST_DATABASE_URL", "sqlite")
ON_POSTGRES = TEST_DATABASE_URL.startswith("postgresql")


def _admin_url() -> str:
    return (
        make_url(TEST_DATABASE_URL)
        .set(drivername="postgresql+psycopg")
        .render_as_string(hide_password=False)
    )


# Each process migrates (and seeds) one template per kind the first time one is asked for,
# then copies it: PostgreSQL's CREATE DATABASE ... TEMPLATE, a file copy on SQLite. Running
# every migration for each of the suite's hundred live databases cost about a minute.
_TEMPLATES: dict[bool, str] = {}


def _template(seed: bool) -> str:
    """The name (PostgreSQL) or file path (SQLite) of this process's template database."""
    if seed not in _TEMPLATES:
        if ON_POSTGRES:
            name = f"portline_template_{uuid.uuid4().hex[:12]}"
            _create_database(name, template=None)
            atexit.register(_drop_database, name)
            url = _database_url(name)
        else:
            directory = tempfile.mkdtemp(prefix="portline-template-")
            atexit.register(shutil.rmtree, directory, ignore_errors=True)
            name = str(Path(directory) / "template.db")
            url = f"sqlite:///{name}"
        engine = make_engine(url)
        try:
            migrate.upgrade(engine)
            if seed:
                with Session(engine) as session:
                    seed_demo(session)
                    session.commit()
        finally:
            engine.dispose()  # a PostgreSQL template is copied only with no one connected
        _TEMPLATES[seed] = name
    return _TEMPLATES[seed]


def _database_url(name: str) -> str:
    return make_url(_admin_url()).set(database=name).render_as_string(hide_password=False)


def _create_database(name: str, *, template: str | None) -> None:
    admin = create_engine(_admin_url(), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            copied = f' TEMPLATE "{template}"' if template else ""
            connection.execute(text(f'CREATE DATABASE "{name}"{copied}'))
    finally:
        admin.dispose()


def _drop_database(name: str) -> None:
    admin = create_engine(_admin_url(), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@contextmanager
def fresh_database(directory: Path, *, seed: bool = True) -> Iterator[tuple[str, Engine]]:
    """A new database at the latest migration (and the demo port), removed afterwards."""
    template = _template(seed)
    if ON_POSTGRES:
        name = f"portline_test_{uuid.uuid4().hex[:12]}"
        _create_database(name, template=template)
        url = _database_url(name)
    else:
        path = directory / f"portline-{uuid.uuid4().hex[:8]}.db"
        # Closing its last connection folded the template's write-ahead log into the file.
        shutil.copyfile(template, path)
        url = f"sqlite:///{path}"
    engine = make_engine(url)
    try:
        yield url, engine
    finally:
        engine.dispose()
        if ON_POSTGRES:
            _drop_database(name)


def raw_dump(url: str, engine: Engine) -> bytes:
    """Every byte a thief with the database would have: the SQLite files, or every row
    of every table on PostgreSQL (bytea as raw bytes, everything else as text)."""
    if not ON_POSTGRES:
        path = Path(make_url(url).database or "")
        return b"".join(
            candidate.read_bytes()
            for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-shm"))
            if candidate.exists()
        )
    chunks: list[bytes] = []
    with engine.connect() as connection:
        tables = connection.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        ).scalars()
        for table in list(tables):
            for row in connection.execute(text(f'SELECT * FROM "{table}"')):
                for value in row:
                    chunks.append(
                        bytes(value)
                        if isinstance(value, bytes | memoryview)
                        else str(value).encode()
                    )
    return b"\n".join(chunks)
