"""Backups: a consistent snapshot of the database, encrypted to operators' age keys.

A backup is an age file (https://age-encryption.org, so ``age -d`` opens it as well as
``portline restore``). Inside: one line of JSON, the manifest (what the snapshot is: which
database, at which migration, made by which Portline, in which hour), then the database
itself: the SQLite file as SQLite's online backup API copied it, or pg_dump's
custom-format archive. Neither holds the key file: it lives outside the database, and a
backup without it opens no report (docs/operations.md says where to keep each).

Nothing readable is left behind: pg_dump streams through the encryption, the SQLite copy
waits in a private temporary directory only while it is encrypted, and the backup file
appears whole (mode 0600) or not at all.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import IO, Any

import pyrage
from alembic.script import ScriptDirectory
from pyrage import x25519
from sqlalchemy import URL, Engine, inspect, text

from api import migrate
from api.config import AGE_RECIPIENT, Settings
from api.db import to_hour, utcnow

FORMAT = "portline-backup"
FORMAT_VERSION = 1
# The manifest is a few hundred bytes; a first line longer than this is not one.
_MANIFEST_LIMIT = 4096
_CHUNK = 1024 * 1024
_PG_DUMP = ("pg_dump", "--format=custom", "--no-owner", "--no-privileges")
_PG_RESTORE = (
    "pg_restore",
    "--no-owner",
    "--no-privileges",
    "--exit-on-error",
    "--single-transaction",
)


class BackupError(Exception):
    """A backup or a restore that cannot be done; the message tells the operator why."""


@dataclass(frozen=True)
class Manifest:
    database: str  # "sqlite" or "postgresql"
    revision: str  # the Alembic revision the snapshot is at
    portline: str  # the version of Portline that made it
    created_hour: datetime  # to the hour, like every other time Portline keeps

    def to_line(self) -> bytes:
        fields = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "database": self.database,
            "revision": self.revision,
            "portline": self.portline,
            "created_hour": self.created_hour.isoformat(),
        }
        return json.dumps(fields, sort_keys=True).encode() + b"\n"

    @classmethod
    def from_line(cls, line: bytes) -> Manifest:
        try:
            fields = json.loads(line)
            if fields["format"] != FORMAT:
                raise ValueError(fields["format"])
            version = fields["format_version"]
            manifest = cls(
                database=str(fields["database"]),
                revision=str(fields["revision"]),
                portline=str(fields["portline"]),
                created_hour=datetime.fromisoformat(fields["created_hour"]),
            )
        except (ValueError, TypeError, KeyError):
            raise BackupError("this file is not a Portline backup") from None
        if version != FORMAT_VERSION:
            raise BackupError(
                f"this backup has format {version}, which this Portline does not read; "
                f"restore it with Portline {manifest.portline} or newer"
            )
        return manifest


# Keys ------------------------------------------------------------------------------------


def parse_recipients(lines: Sequence[str], *, source: str) -> list[str]:
    """The age public keys (``age1…``) in ``lines``: one a line, ``#`` comments and blank
    lines skipped, as in age's own recipients files."""
    keys = []
    for number, line in enumerate(lines, start=1):
        key = line.strip()
        if not key or key.startswith("#"):
            continue
        if not AGE_RECIPIENT.match(key):
            raise BackupError(
                f"{source}, line {number}: not an age public key (age1… as printed by age-keygen)"
            )
        keys.append(key)
    return keys


def read_identities(path: Path) -> list[str]:
    """The age private keys in an identity file as ``age-keygen`` writes it."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise BackupError(f"cannot read the identity file {path}: {error}") from None
    identities = []
    for number, line in enumerate(lines, start=1):
        identity = line.strip()
        if not identity or identity.startswith("#"):
            continue
        try:
            x25519.Identity.from_str(identity)
        except pyrage.IdentityError:
            # Never echo the line: it may be a private key with a typo in it.
            raise BackupError(
                f"{path}, line {number}: not an age identity (AGE-SECRET-KEY-1… as written "
                "by age-keygen)"
            ) from None
        identities.append(identity)
    if not identities:
        raise BackupError(f"{path} holds no age identity (AGE-SECRET-KEY-1…)")
    return identities


# Backup ----------------------------------------------------------------------------------


def backup(
    *, settings: Settings, engine: Engine, out_path: Path, recipients: Sequence[str]
) -> Manifest:
    """Write a snapshot of the database to ``out_path``, encrypted to ``recipients``."""
    if not recipients:
        raise BackupError("a backup needs at least one age public key to encrypt to")
    keys = [x25519.Recipient.from_str(key) for key in parse_recipients(recipients, source="key")]
    _refuse_overwriting(settings, engine, out_path)
    if engine.dialect.name == "sqlite":
        return _backup_sqlite(engine, out_path, keys)
    if engine.dialect.name == "postgresql":
        return _backup_postgres(engine, out_path, keys)
    raise BackupError(f"cannot back up a {engine.dialect.name} database")


def _refuse_overwriting(settings: Settings, engine: Engine, out_path: Path) -> None:
    # A slip of the keyboard must not replace the one file no backup can bring back.
    precious = [settings.effective_key_file]
    if engine.dialect.name == "sqlite" and engine.url.database:
        precious.append(Path(engine.url.database))
    target = out_path.resolve()
    for path in precious:
        if target == path.resolve():
            raise BackupError(f"{out_path} is Portline's own {path.name}: choose another file")


def _manifest(database: str, revision: str | None) -> Manifest:
    if revision is None:
        raise BackupError("this database holds no Portline tables: there is nothing to back up")
    return Manifest(
        database=database,
        revision=revision,
        portline=metadata.version("portline"),
        created_hour=to_hour(utcnow()),
    )


def _backup_sqlite(engine: Engine, out_path: Path, keys: list[Any]) -> Manifest:
    source = _sqlite_path(engine)
    if not source.exists():
        raise BackupError(f"there is no database at {source}")
    with _private_directory() as directory:
        snapshot = directory / "portline.db"
        # One step (pages=-1): the copy is taken under one read transaction, so it is the
        # database as one moment left it, while writers carry on in the WAL.
        with (
            closing(sqlite3.connect(f"{source.resolve().as_uri()}?mode=rw", uri=True)) as live,
            closing(sqlite3.connect(snapshot)) as copy,
        ):
            live.execute("PRAGMA busy_timeout=30000")
            live.backup(copy)
            copy.execute("PRAGMA journal_mode=DELETE")  # one file, no -wal beside it
            manifest = _manifest("sqlite", _sqlite_revision(copy))
        with snapshot.open("rb") as payload:
            _write_encrypted(out_path, keys, manifest, payload)
    return manifest


def _sqlite_revision(connection: sqlite3.Connection) -> str | None:
    try:
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError:
        return None
    return str(row[0]) if row else None


def _backup_postgres(engine: Engine, out_path: Path, keys: list[Any]) -> Manifest:
    dbname, environment = _libpq(engine)
    with engine.connect() as connection, tempfile.TemporaryFile() as errors:
        # The manifest's revision and pg_dump's rows come from one snapshot, exported by
        # this transaction and held until the dump is done: a migration run meanwhile is
        # in neither.
        connection.execution_options(isolation_level="REPEATABLE READ")
        with connection.begin():
            snapshot = connection.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            revision = (
                connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
                if inspect(connection).has_table("alembic_version")
                else None
            )
            manifest = _manifest("postgresql", revision)
            try:
                dump = subprocess.Popen(  # noqa: S603 - fixed arguments, no shell
                    [*_PG_DUMP, f"--snapshot={snapshot}", f"--dbname={dbname}"],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=errors,
                    env=environment,
                )
            except FileNotFoundError:
                raise BackupError(_missing("pg_dump")) from None
            assert dump.stdout is not None

            def dumped() -> None:
                if dump.wait() != 0:
                    raise BackupError(f"pg_dump failed: {_text(errors)}")

            try:
                _write_encrypted(out_path, keys, manifest, dump.stdout, before_rename=dumped)
            finally:
                dump.stdout.close()
                if dump.poll() is None:
                    dump.kill()
                    dump.wait()
    return manifest


def _write_encrypted(
    out_path: Path,
    keys: list[Any],
    manifest: Manifest,
    payload: IO[bytes],
    *,
    before_rename: Callable[[], None] = lambda: None,
) -> None:
    """Encrypt the manifest line and ``payload`` into ``out_path``: a file beside it,
    owner-only, renamed into place once whole (and ``before_rename`` raised nothing)."""
    partial = out_path.with_name(f".{out_path.name}.{secrets.token_hex(4)}.partial")
    descriptor = _create_private(partial, out_path)
    try:
        with os.fdopen(descriptor, "wb") as sealed:
            reader = io.BufferedReader(_Prefixed(manifest.to_line(), payload), _CHUNK)
            pyrage.encrypt_io(reader, sealed, keys)
            sealed.flush()
            os.fsync(sealed.fileno())
        before_rename()
        os.replace(partial, out_path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


class _Prefixed(io.RawIOBase):
    """The manifest line, then the payload, read as one stream."""

    def __init__(self, prefix: bytes, payload: IO[bytes]) -> None:
        self._prefix = prefix
        self._payload = payload

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if self._prefix:
            size = min(len(view), len(self._prefix))
            view[:size] = self._prefix[:size]
            self._prefix = self._prefix[size:]
            return size
        chunk = self._payload.read(len(view))
        view[: len(chunk)] = chunk
        return len(chunk)


# Restore ---------------------------------------------------------------------------------


def read_manifest(*, in_path: Path, identities: Sequence[str]) -> Manifest:
    """What a backup holds, from its first line (the rest is not decrypted)."""
    reader = _ManifestReader()
    with suppress(_ManifestRead):
        _decrypt(in_path, identities, reader)
    return reader.manifest()


def restore(*, engine: Engine, in_path: Path, identities: Sequence[str]) -> Manifest:
    """Restore the backup ``in_path`` onto the empty database of ``engine``, then bring it
    to the latest migration. Refused, with nothing changed, unless the database is empty,
    of the backup's kind, and the backup's migration is one this Portline knows."""
    manifest = read_manifest(in_path=in_path, identities=identities)
    kind = engine.dialect.name
    if manifest.database != kind:
        raise BackupError(
            f"this is a backup of a {_NAMES.get(manifest.database, manifest.database)} "
            f"database; PORTLINE_DATABASE_URL names a {_NAMES.get(kind, kind)} one"
        )
    if manifest.revision not in _known_revisions(engine):
        raise BackupError(
            f"this backup is at migration {manifest.revision}, which this Portline does not "
            f"know: restore it with Portline {manifest.portline} or newer"
        )
    # Under the start-up lock: a Portline starting meanwhile waits, then finds the
    # restored database instead of migrating an empty one beneath the restore.
    with migrate.startup_lock(engine):
        tables = _tables(engine)
        if tables:
            raise BackupError(
                f"the database is not empty (it has {len(tables)} tables, {tables[0]} among "
                "them): restore only onto a new, empty database"
            )
        if kind == "sqlite":
            _restore_sqlite(engine, in_path, identities)
        else:
            _restore_postgres(engine, in_path, identities)
        migrate.upgrade(engine)
    return manifest


_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


def _known_revisions(engine: Engine) -> set[str]:
    scripts = ScriptDirectory.from_config(migrate.alembic_config(engine))
    return {script.revision for script in scripts.walk_revisions()}


def _tables(engine: Engine) -> list[str]:
    if engine.dialect.name == "sqlite" and not _sqlite_path(engine).exists():
        return []  # connecting would create it; nothing is there
    with engine.connect() as connection:
        return sorted(inspect(connection).get_table_names())


def _restore_sqlite(engine: Engine, in_path: Path, identities: Sequence[str]) -> None:
    target = _sqlite_path(engine)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{secrets.token_hex(4)}.restoring")
    descriptor = _create_private(partial, target)
    try:
        with os.fdopen(descriptor, "wb") as restored:
            _decrypt(in_path, identities, _AfterManifest(restored))
            restored.flush()
            os.fsync(restored.fileno())
        with closing(sqlite3.connect(partial)) as check:
            if check.execute("PRAGMA quick_check").fetchone() != ("ok",):
                raise BackupError("the database in this backup is damaged: nothing was restored")
        # The empty database this replaces may have left its journal beside it: it would
        # be read as the restored database's own.
        engine.dispose()
        for leftover in (Path(f"{target}-wal"), Path(f"{target}-shm"), Path(f"{target}-journal")):
            leftover.unlink(missing_ok=True)
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def _restore_postgres(engine: Engine, in_path: Path, identities: Sequence[str]) -> None:
    dbname, environment = _libpq(engine)
    with tempfile.TemporaryFile() as errors:
        try:
            loader = subprocess.Popen(  # noqa: S603 - fixed arguments, no shell
                [*_PG_RESTORE, f"--dbname={dbname}"],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=errors,
                env=environment,
            )
        except FileNotFoundError:
            raise BackupError(_missing("pg_restore")) from None
        assert loader.stdin is not None
        try:
            _decrypt(in_path, identities, _AfterManifest(loader.stdin))
            loader.stdin.close()
        except BaseException as error:
            # Killed before its input ends, pg_restore never commits its one transaction.
            loader.kill()
            loader.wait()
            if isinstance(error, BrokenPipeError):
                raise BackupError(f"pg_restore failed: {_text(errors)}") from None
            raise
        if loader.wait() != 0:
            raise BackupError(f"pg_restore failed, nothing was restored: {_text(errors)}")


def _decrypt(in_path: Path, identities: Sequence[str], writer: Any) -> None:
    keys = [x25519.Identity.from_str(identity) for identity in identities]
    try:
        with in_path.open("rb") as sealed:
            pyrage.decrypt_io(sealed, writer, keys)
    except FileNotFoundError:
        raise BackupError(f"there is no file {in_path}") from None
    except pyrage.DecryptError as error:
        if "no matching keys" in str(error).lower():
            raise BackupError(
                "the identity does not open this backup: it was encrypted to other "
                "public keys; use the private key that belongs to them"
            ) from None
        raise BackupError(f"{in_path} is not an age-encrypted Portline backup") from None
    except OSError as error:
        if isinstance(error, BrokenPipeError):
            raise
        raise BackupError(
            f"{in_path} is damaged or cut short (decryption failed): nothing was restored"
        ) from None


class _ManifestRead(Exception):
    """Raised by the manifest reader to stop decrypting once it has what it needs."""


class _ManifestReader:
    def __init__(self) -> None:
        self._head = bytearray()
        self._done = False

    def write(self, chunk: bytes) -> int:
        if self._done:
            raise _ManifestRead
        self._head += chunk
        if b"\n" in self._head or len(self._head) > _MANIFEST_LIMIT:
            self._done = True
            raise _ManifestRead
        return len(chunk)

    def flush(self) -> None:
        return None

    def manifest(self) -> Manifest:
        line, newline, _rest = bytes(self._head).partition(b"\n")
        if not newline:
            raise BackupError("this file is not a Portline backup")
        return Manifest.from_line(line)


class _AfterManifest:
    """Passes on what follows the manifest line (already read) to ``sink``."""

    def __init__(self, sink: IO[bytes]) -> None:
        self._sink = sink
        self._in_manifest = True

    def write(self, chunk: bytes) -> int:
        size = len(chunk)
        if self._in_manifest:
            _line, newline, chunk = bytes(chunk).partition(b"\n")
            self._in_manifest = not newline
        if chunk:
            self._sink.write(chunk)
        return size

    def flush(self) -> None:
        self._sink.flush()


# Shared ----------------------------------------------------------------------------------


def _sqlite_path(engine: Engine) -> Path:
    database = engine.url.database
    if database in (None, "", ":memory:"):
        raise BackupError("an in-memory SQLite database has nothing to back up or restore")
    assert database is not None
    return Path(database)


def _libpq(engine: Engine) -> tuple[str, dict[str, str]]:
    """The database as pg_dump and pg_restore name it: a libpq URL without the password,
    which goes in their environment instead (a command line is visible to every user)."""
    url = engine.url
    environment = dict(os.environ)
    if url.password is not None:
        environment["PGPASSWORD"] = str(url.password)
    libpq = URL.create(
        "postgresql",
        username=url.username,
        host=url.host,
        port=url.port,
        database=url.database,
        query=url.query,
    )
    return libpq.render_as_string(hide_password=False), environment


def _create_private(path: Path, named: Path) -> int:
    """A new file only its owner may read, for what becomes ``named``."""
    try:
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as error:
        raise BackupError(f"cannot write {named}: {error.strerror}") from None


@contextmanager
def _private_directory() -> Iterator[Path]:
    directory = Path(tempfile.mkdtemp(prefix="portline-backup-"))  # mode 0700
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _missing(program: str) -> str:
    return (
        f"{program} is not installed: install the PostgreSQL client tools (Debian: "
        "postgresql-client), of the server's major version or newer"
    )


def _text(errors: IO[bytes]) -> str:
    errors.seek(0)
    return errors.read().decode("utf-8", errors="replace").strip() or "no message"
