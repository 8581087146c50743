"""Running Alembic from Portline itself (``portline db upgrade``, ``serve``, tests)."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"

# The pg_advisory_lock key of start-up: the ASCII bytes of "portline" read as a big-endian
# signed 64-bit integer (0x706F72746C696E65). Advisory locks belong to one database, so
# Portline databases sharing a server do not wait for one another.
STARTUP_LOCK_KEY = int.from_bytes(b"portline", "big", signed=True)


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["configure_logging"] = False
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` in one transaction (on PostgreSQL and SQLite)."""
    with engine.begin() as connection:
        config = alembic_config(engine)
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def downgrade(engine: Engine, revision: str) -> None:
    with engine.begin() as connection:
        config = alembic_config(engine)
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


@contextmanager
def startup_lock(engine: Engine) -> Iterator[None]:
    """Hold the database-wide start-up lock: migrations and the first run's set-up.

    Processes started together take turns; each one that waited re-runs the same steps
    and finds them done (migrations at head, the key check stored). The lock is released
    when the block ends, or by the operating system or the server when the process dies.
    """
    if engine.dialect.name == "postgresql":
        with _advisory_lock(engine):
            yield
    else:
        with _file_lock(engine):
            yield


@contextmanager
def _advisory_lock(engine: Engine) -> Iterator[None]:
    # A session lock on a connection of its own, outside any transaction: migrations and
    # set-up run on other connections, and nothing keeps a transaction open while waiting.
    with engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT")
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": STARTUP_LOCK_KEY})
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": STARTUP_LOCK_KEY})


@contextmanager
def _file_lock(engine: Engine) -> Iterator[None]:
    # Not SQLite's writer lock: that lasts one transaction on one connection, and
    # migrations, the key check and the demo seed each take it on connections of their own
    # (holding it across them would make them wait for themselves). An flock on a file
    # beside the database spans them all and has no busy timeout.
    database = engine.url.database
    in_memory = database in {None, "", ":memory:"}  # this process's alone: nobody to wait for
    descriptor = None if in_memory else _open_lock_file(f"{database}-startup-lock")
    if descriptor is None:
        yield
        return
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # closing the file releases the lock


def _open_lock_file(path: str) -> int | None:
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except (FileNotFoundError, PermissionError):
        # Where the lock file cannot be made, neither can SQLite's journal: the first
        # statement then fails with SQLite's own error, which names the problem.
        return None
