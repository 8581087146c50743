"""Alembic environment: the only way Portline's schema is created or changed."""

from __future__ import annotations

from logging.config import fileConfig
from typing import Any

from alembic import context
from sqlalchemy import Connection, Engine

import api.models  # noqa: F401  (registers every table on the metadata)
from api.config import get_settings
from api.db import make_engine, metadata

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logging", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


# The queue search's GIN trigram indexes (migration 0007) exist on PostgreSQL only: pg_trgm is
# a PostgreSQL extension. They are not declared on the models because a model's index is
# built on every database (postgresql_using and postgresql_ops change how, not whether), and
# SQLite would then either get a useless B-tree or report a missing index. So autogenerate
# skips exactly these, by name, when it finds them in the database.
POSTGRES_ONLY_INDEXES = frozenset(
    {"ix_case_reference_trgm", "ix_case_title_trgm", "ix_case_tag_tag_trgm"}
)


def _include_object(
    _object: Any, name: str | None, type_: str, reflected: bool, _compare_to: Any
) -> bool:
    return not (type_ == "index" and reflected and name in POSTGRES_ONLY_INDEXES)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=_include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if isinstance(connection, Connection):
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url") or get_settings().effective_database_url
    engine: Engine = make_engine(url)
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("Portline's migrations run online only.")
run_migrations_online()
