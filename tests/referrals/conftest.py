from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, delete
from sqlmodel import Session

from api.config import Settings
from api.referrals.models import OutboxJob
from tests.databases import fresh_database
from tests.referrals.factories import WEBHOOK_SECRET
from tests.referrals.receivers import Inbox, WebhookReceiver, smtp_server


@pytest.fixture(scope="package")
def outbox_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Engine]]:
    """A database of the package's own where work really commits, as workers need."""
    with fresh_database(tmp_path_factory.mktemp("outbox")) as database:
        yield database


@pytest.fixture
def live(outbox_database: tuple[str, Engine]) -> tuple[str, Engine]:
    """The package's committing database, with no notice left over from another test."""
    _url, engine = outbox_database
    with Session(engine) as session:
        session.execute(delete(OutboxJob))
        session.commit()
    return outbox_database


@pytest.fixture
def inbox(settings: Settings) -> Iterator[tuple[Settings, Inbox]]:
    """A real SMTP server, and settings that send to it."""
    with smtp_server() as (port, received):
        yield (
            settings.model_copy(
                update={"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_starttls": False}
            ),
            received,
        )


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(WEBHOOK_SECRET.encode()).running() as running:
        yield running
