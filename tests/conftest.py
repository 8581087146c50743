from __future__ import annotations

import base64
import secrets
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from passlib.context import CryptContext
from sqlalchemy import Engine
from sqlmodel import Session

from api.app import create_app
from api.config import Settings
from api.crypto import KeyRing
from api.deps import get_session
from api.proofs.service import RateGuard
from api.staff import passwords
from tests.databases import fresh_database

# Staff passwords and recovery codes are hashed with Argon2id at 64 MiB and three passes:
# right for a person signing in, minutes of CPU for the hundreds of accounts the tests make.
# In-process tests keep the scheme with its smallest parameters; a test marked
# real_password_hashing, and every server started as a process, keep the real ones.
_CHEAP_PASSWORDS = CryptContext(
    schemes=["argon2"],
    argon2__type="ID",
    argon2__memory_cost=1024,
    argon2__time_cost=1,
    argon2__parallelism=1,
)
_CHEAP_DUMMY = _CHEAP_PASSWORDS.hash("not a password of anyone")


@pytest.fixture(autouse=True)
def cheap_password_hashing(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if request.node.get_closest_marker("real_password_hashing") is None:
        monkeypatch.setattr(passwords, "_context", _CHEAP_PASSWORDS)
        monkeypatch.setattr(passwords, "_DUMMY_HASH", _CHEAP_DUMMY)


def make_settings(tmp_path: Path, url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": url,
        "data_dir": tmp_path,
        "key": base64.b64encode(secrets.token_bytes(32)).decode(),
        "pow_difficulty": 0,
    }
    values.update(overrides)
    return Settings.model_validate(values)


@pytest.fixture(scope="session")
def shared_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Engine]]:
    """One migrated database with the demo port for the whole run; tests roll back."""
    with fresh_database(tmp_path_factory.mktemp("db")) as database:
        yield database


@pytest.fixture(scope="session")
def settings(
    shared_database: tuple[str, Engine], tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    return make_settings(tmp_path_factory.mktemp("data"), shared_database[0])


@pytest.fixture(scope="session")
def engine(shared_database: tuple[str, Engine]) -> Engine:
    return shared_database[1]


@pytest.fixture(scope="session")
def keyring(settings: Settings) -> KeyRing:
    assert settings.key is not None
    return KeyRing(base64.b64decode(settings.key))


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session inside a transaction that is rolled back after the test."""
    with engine.connect() as connection:
        transaction = connection.begin()
        with Session(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        ) as test_session:
            yield test_session
        transaction.rollback()


def app_for(
    settings: Settings, engine: Engine, keyring: KeyRing, session: Session | None
) -> FastAPI:
    app = create_app(settings, engine=engine, keyring=keyring)
    if session is not None:
        _serve_from(app, session)
    return app


def _serve_from(app: FastAPI, session: Session) -> None:
    """Make every request of ``app`` run in the test's rolled-back ``session``."""

    def test_session() -> Iterator[Session]:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise

    app.dependency_overrides[get_session] = test_session


@pytest.fixture(scope="session")
def shared_app(settings: Settings, engine: Engine, keyring: KeyRing) -> FastAPI:
    """One application for every test's ``client``: building one costs about 0.1 s, and
    FastAPI's caches of route callables keep thousands of discarded ones alive (some
    40,000 objects each), which made each garbage collection of a run slower than the last."""
    return create_app(settings, engine=engine, keyring=keyring)


@contextmanager
def _client_of(app: FastAPI, session: Session) -> Iterator[TestClient]:
    """A client of a reused ``app``, serving from ``session``, with what the application
    keeps in memory started afresh."""
    app.state.rate_guard = RateGuard()
    app.state.setup_token = None
    _serve_from(app, session)
    try:
        with TestClient(app) as test_client:
            yield test_client
    finally:
        app.dependency_overrides.clear()


@pytest.fixture
def client(shared_app: FastAPI, session: Session) -> Iterator[TestClient]:
    with _client_of(shared_app, session) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def apps_with_settings() -> dict[tuple[tuple[str, object], ...], FastAPI]:
    """The applications of ``client_with``, one per set of changed settings."""
    return {}


@pytest.fixture
def client_with(
    engine: Engine,
    keyring: KeyRing,
    session: Session,
    settings: Settings,
    apps_with_settings: dict[tuple[tuple[str, object], ...], FastAPI],
) -> Callable[..., AbstractContextManager[TestClient]]:
    """A client of an app whose settings differ from the defaults by ``overrides``."""

    @contextmanager
    def open_client(**overrides: object) -> Iterator[TestClient]:
        changes = tuple(sorted(overrides.items()))
        if changes not in apps_with_settings:
            changed = settings.model_copy(update=overrides)
            apps_with_settings[changes] = create_app(changed, engine=engine, keyring=keyring)
        with _client_of(apps_with_settings[changes], session) as test_client:
            yield test_client

    return open_client


@pytest.fixture
def live_database(tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    """A database of the test's own, where requests really commit."""
    with fresh_database(tmp_path) as database:
        yield database
