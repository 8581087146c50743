"""Engine, sessions and the naming convention shared by every table.

SQLite is the embedded default; PostgreSQL is the production database. On SQLite each
transaction starts with ``BEGIN IMMEDIATE`` so concurrent writers wait for one another
(``busy_timeout``) instead of failing on a stale read snapshot.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, DateTime, Dialect, Engine, MetaData, TypeDecorator, event
from sqlalchemy.pool import ConnectionPoolEntry
from sqlmodel import Session, SQLModel, create_engine

from api.errors import Invalid
from api.i18n import N_

# The naming convention is set in api/__init__.py, before any table exists.
metadata: MetaData = SQLModel.metadata


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_hour(moment: datetime) -> datetime:
    """Round down to the hour: how every reporter-side time is stored."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def next_hour(moment: datetime) -> datetime:
    """Round up to the hour, for expiry times that must not be early."""
    floor = to_hour(moment)
    return floor if floor == moment else floor + timedelta(hours=1)


_WRITER_LOCK_KEY = "portline.sqlite_writer_lock"


class _ProcessTurns:
    """An exclusive ``flock`` on one file, taken by one thread of this process at a time
    (the caller holds the process's own lock around it). The file is opened once per
    process, after a fork too."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._descriptor: int | None = None
        self._pid = 0

    def _file(self) -> int:
        if self._descriptor is None or self._pid != os.getpid():
            self._descriptor = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._pid = os.getpid()
        return self._descriptor

    def acquire(self) -> None:
        fcntl.flock(self._file(), fcntl.LOCK_EX)

    def release(self) -> None:
        if self._descriptor is not None and self._pid == os.getpid():
            fcntl.flock(self._descriptor, fcntl.LOCK_UN)


def _configure_sqlite(engine: Engine) -> None:
    # SQLite lets one writer in at a time and makes the others sleep and retry in no
    # order, so under load some requests lose again and again (seconds of tail latency).
    # Queueing this process's transactions on a lock first keeps the wait short and fair;
    # busy_timeout still covers other processes.
    # Several processes on one file (`portline serve --workers N`, the worker, a command)
    # queue the same way: a process's turn also takes an exclusive lock on a file next to
    # the database, so waiting processes sleep in the kernel until it is released rather
    # than retrying blindly (and a process that dies, kill -9 included, lets go of it).
    writer_lock = threading.Lock()
    database = engine.url.database
    turns = (
        _ProcessTurns(Path(f"{database}.writer-lock"))
        if database not in (None, "", ":memory:")
        else None
    )

    def _release(info: dict[Any, Any]) -> None:
        if info.pop(_WRITER_LOCK_KEY, False):
            if turns is not None:
                turns.release()
            writer_lock.release()

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Take transaction control from pysqlite so BEGIN IMMEDIATE and savepoints work.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        # Erasure (api/retention/purge.py): deleted rows are overwritten with zeros, and a
        # new database gives freed pages back to the file system when asked (a database
        # made before this is converted by its first reclaim_space).
        cursor.execute("PRAGMA secure_delete=ON")
        # Only a new, empty database takes it here: on one in use the pragma writes the
        # header, which waits on (or, after a crash, fails against) the writer's lock.
        if cursor.execute("PRAGMA page_count").fetchone()[0] == 0:
            cursor.execute("PRAGMA auto_vacuum=INCREMENTAL")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        if not writer_lock.acquire(timeout=30):
            raise TimeoutError("the database stayed busy for 30 s")
        if turns is not None:
            try:
                turns.acquire()
            except BaseException:
                writer_lock.release()
                raise
        connection.info[_WRITER_LOCK_KEY] = True
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _on_end(connection: Connection) -> None:
        _release(connection.info)

    @event.listens_for(engine.pool, "reset")
    def _on_reset(_dbapi_connection: Any, record: ConnectionPoolEntry, _state: Any) -> None:
        _release(record.info)


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(item) for item in value.values())
    if isinstance(value, list | tuple):
        return any(_has_nul(item) for item in value)
    return False


def _refuse_nul_characters(engine: Engine) -> None:
    """PostgreSQL cannot store the NUL character in text and its driver fails on one (a
    500); SQLite would keep it. Text from a client reaches queries from many places (paths,
    queries, JSON and forms), so the one check is here, before any statement is sent:
    the request is refused as invalid on both databases, and the transaction stays usable."""

    @event.listens_for(engine, "before_cursor_execute")
    def _check(
        _connection: Connection,
        _cursor: Any,
        _statement: str,
        parameters: Any,
        _context: Any,
        _executemany: bool,
    ) -> None:
        if _has_nul(parameters):
            raise Invalid(N_("This text contains a character that is not allowed."))


def make_engine(url: str, **options: Any) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **options
        )
        _configure_sqlite(engine)
    else:
        options.setdefault("pool_size", 20)
        options.setdefault("max_overflow", 10)
        options.setdefault("pool_recycle", 1800)
        engine = create_engine(url, **options)
    _refuse_nul_characters(engine)
    return engine


def session_scope(engine: Engine) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite drops it)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use datetime.now(UTC)")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
