"""The ``portline`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from api.config import Settings, SettingsError, load_settings
from api.crypto import KeyFileError
from api.db import make_engine


def _engine(settings: Settings) -> Engine:
    if settings.effective_database_url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return make_engine(settings.effective_database_url)


def cmd_db_upgrade(settings: Settings, _args: argparse.Namespace) -> int:
    from api import migrate

    migrate.upgrade(_engine(settings))
    print("Database is at the latest migration.")
    return 0


def cmd_demo(settings: Settings, _args: argparse.Namespace) -> int:
    from sqlmodel import Session

    from api import migrate
    from api.demo import seed_demo
    from api.keystore.service import open_keyring

    engine = _engine(settings)
    migrate.upgrade(engine)
    open_keyring(settings=settings, engine=engine)
    with Session(engine) as session:
        summary = seed_demo(session)
        session.commit()
    print(
        f"Demo port ready: {summary.ports} ports, {summary.zones} zones, "
        f"{summary.categories} categories, {summary.bodies} receiving bodies."
    )
    return 0


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from api import migrate
    from api.app import create_app
    from api.logs import logging_config

    engine = _engine(settings)
    migrate.upgrade(engine)
    app = create_app(settings, engine=engine)
    print(f"Portline is running at http://{args.host}:{args.port}/ (API docs: /api/docs)")
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_config=logging_config(settings.log_level),
        access_log=False,
        proxy_headers=False,
        server_header=False,
        h11_max_incomplete_event_size=64 * 1024,
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="portline",
        description="Portline: the reporting line seaports trust. "
        "Settings come from PORTLINE_* environment variables.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="apply migrations, then serve the app")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(handler=cmd_serve)

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="apply every pending migration").set_defaults(
        handler=cmd_db_upgrade
    )

    commands.add_parser("demo", help="seed a demo port with taxonomy and bodies").set_defaults(
        handler=cmd_demo
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        result: int = args.handler(settings, args)
    except (SettingsError, KeyFileError) as error:
        print(f"portline: {error}", file=sys.stderr)
        return 2
    except OperationalError as error:
        print(f"portline: cannot use the database: {error.orig}", file=sys.stderr)
        return 2
    return result


if __name__ == "__main__":
    sys.exit(main())
