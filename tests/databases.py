"""Fresh, migrated test databases on SQLite or PostgreSQL.

``PORTLINE_TEST_DATABASE_URL`` picks the server: unset (or ``sqlite``) for SQLite files,
or a PostgreSQL URL whose server may create databases (``postgresql://postgres@127.0.0.1/postgres``).
"""

from __future__ import annotations

import os
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


@contextmanager
def fresh_database(directory: Path, *, seed: bool = True) -> Iterator[tuple[str, Engine]]:
    """A new database at the latest migration (and the demo port), removed afterwards."""
    if ON_POSTGRES:
        name = f"portline_test_{uuid.uuid4().hex[:12]}"
        admin = create_engine(_admin_url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(_admin_url()).set(database=name).render_as_string(hide_password=False)
    else:
        url = f"sqlite:///{directory / f'portline-{uuid.uuid4().hex[:8]}.db'}"
    engine = make_engine(url)
    try:
        migrate.upgrade(engine)
        if seed:
            with Session(engine) as session:
                seed_demo(session)
                session.commit()
        yield url, engine
    finally:
        engine.dispose()
        if ON_POSTGRES:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


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
