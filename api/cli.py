"""The ``portline`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from api.config import Settings, SettingsError, load_settings
from api.crypto import KeyFileError, KeyRing
from api.db import make_engine
from api.policy import Role

if TYPE_CHECKING:
    from api.errors import DomainError
    from api.installation import SetupToken
    from api.profiles.schemas import PortProfile
    from api.profiles.service import Imported
    from api.staff.service import NewAccount


def _engine(settings: Settings) -> Engine:
    if settings.effective_database_url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return make_engine(settings.effective_database_url)


def cmd_db_upgrade(settings: Settings, _args: argparse.Namespace) -> int:
    from api import migrate

    engine = _engine(settings)
    with migrate.startup_lock(engine):
        migrate.upgrade(engine)
    print("Database is at the latest migration.")
    return 0


def cmd_demo(settings: Settings, _args: argparse.Namespace) -> int:
    from sqlmodel import Session

    from api import migrate
    from api.db import utcnow
    from api.demo import seed_demo, seed_demo_reports, seed_demo_staff
    from api.keystore.service import open_keyring

    engine = _engine(settings)
    # Seeding adds what is missing, so two seeds at once would both add it: it waits too.
    with migrate.startup_lock(engine), Session(engine, expire_on_commit=False) as session:
        migrate.upgrade(engine)
        keyring = open_keyring(settings=settings, engine=engine)
        summary = seed_demo(session)
        logins = seed_demo_staff(session, keyring, utcnow())
        session.commit()
        receipts = seed_demo_reports(session, keyring, settings, utcnow())
        session.commit()
    print(
        f"Demo port ready: {summary.ports} ports, {summary.zones} zones, "
        f"{summary.categories} categories, {summary.bodies} receiving bodies."
    )
    if receipts:
        print(f"\n{len(receipts)} demo reports for the triage queue. A reporter comes back with")
        print("the receipt code at http://127.0.0.1:8000/my-report, for example:")
        for reference, receipt in receipts[:2]:
            print(f"  {reference}  receipt {receipt}")
    print("\nConsole logins (http://127.0.0.1:8000/admin; new passwords on every run).")
    print("Add the secret to any authenticator app for the 6-digit codes:")
    for login in logins:
        print(
            f"  {login.role:<14} {login.email:<28} {login.password:<32} secret {login.totp_secret}"
        )
    return 0


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import create_app
    from api.logs import logging_config

    engine, keyring = _ready(settings)
    setup_token = _setup_token(engine)
    app = create_app(
        settings,
        engine=engine,
        keyring=keyring,
        setup_token=setup_token[1] if setup_token else None,
    )
    address = f"http://{args.host}:{args.port}"
    print(f"Portline is running at {address}/ (API docs: /api/docs)")
    if setup_token:
        # On the server's console only, never through logging: log lines may be shipped
        # elsewhere, and this one opens an empty installation to whoever reads it.
        print(
            f"No administrator yet. Open {address}/admin/setup?token={setup_token[0]} "
            "to create the first one (or run portline init).",
            file=sys.stderr,
            flush=True,
        )
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


def _setup_token(engine: Engine) -> tuple[str, SetupToken] | None:
    """The console's one-time set-up token, while no administrator exists (see
    api.installation.SetupToken); None once one does, so the page is never offered."""
    from sqlmodel import Session

    from api import installation

    with Session(engine) as session:
        if installation.is_installed(session):
            return None
    return installation.SetupToken.draw()


def _ready(settings: Settings) -> tuple[Engine, KeyRing]:
    """Migrate and open the key ring under the start-up lock (see api.migrate)."""
    from api import migrate
    from api.keystore.service import open_keyring

    engine = _engine(settings)
    with migrate.startup_lock(engine):
        migrate.upgrade(engine)
        keyring = open_keyring(settings=settings, engine=engine)
    return engine, keyring


def _refusal(error: DomainError) -> int:
    """Print a refused change the way a person reads it (its field's message, if any)."""
    from api.i18n import translate

    problem = error.fields[0] if error.fields else None
    message, params = (
        (problem.message, problem.params) if problem else (error.message, error.params)
    )
    print(f"portline: {translate(message, 'en', params)}", file=sys.stderr)
    return 1


def _print_invitation(account: NewAccount, base_url: str) -> None:
    print(f"Account created: {account.staff.email} ({account.staff.role}).")
    print("To choose a password and set up the second factor, open within 3 days:")
    print(f"  {base_url.rstrip('/')}/admin/welcome/{account.invitation}")


def cmd_init(settings: Settings, args: argparse.Namespace) -> int:
    from sqlmodel import Session

    from api import installation, migrate
    from api.db import utcnow
    from api.errors import DomainError
    from api.profiles.service import import_profile

    profile = _read_profile(args.port_profile) if args.port_profile else None
    if args.port_profile and profile is None:
        return 1
    engine, keyring = _ready(settings)
    # Under the start-up lock: two first runs at once take turns, and the second is refused.
    with migrate.startup_lock(engine), Session(engine, expire_on_commit=False) as session:
        try:
            account = installation.install(
                session=session,
                keyring=keyring,
                email=args.email,
                display_name=args.name,
                now=utcnow(),
            )
            imported = (
                import_profile(
                    session=session,
                    keyring=keyring,
                    profile=profile,
                    now=utcnow(),
                    actor="portline init",
                )
                if profile
                else None
            )
        except DomainError as error:
            return _refusal(error)
        session.commit()
    print("Portline is set up, with its default categories of reports.")
    if imported:
        _print_import(imported, applied=True)
    _print_invitation(account, args.base_url)
    print("Then sign in at /admin to add your port, its zones and emergency numbers,")
    print("the receiving bodies and the staff; run `portline serve` to open it.")
    return 0


def _read_profile(path: str) -> PortProfile | None:
    from pathlib import Path

    from api.datafile import DataFileError
    from api.profiles.service import read_profile

    try:
        return read_profile(Path(path))
    except DataFileError as error:
        print(f"portline: the port profile cannot be used:\n{error}", file=sys.stderr)
        return None


def _print_import(imported: Imported, *, applied: bool) -> None:
    if not imported.changes:
        print(f"Port {imported.port} already matches the file: nothing changed.")
        return
    done = "Imported" if applied else "Would import"
    dry = "" if applied else " (--dry-run: nothing applied)"
    print(f"{done} port {imported.port}{dry}: {len(imported.changes)} changes.")
    for line in imported.changes:
        print(f"  {line}")


def cmd_port_import(settings: Settings, args: argparse.Namespace) -> int:
    from sqlmodel import Session

    from api.db import utcnow
    from api.errors import DomainError
    from api.profiles.service import import_profile

    profile = _read_profile(args.file)
    if profile is None:
        return 1
    engine, keyring = _ready(settings)
    with Session(engine, expire_on_commit=False) as session:
        try:
            imported = import_profile(
                session=session,
                keyring=keyring,
                profile=profile,
                now=utcnow(),
                actor="portline port import",
            )
        except DomainError as error:
            return _refusal(error)
        if args.dry_run:
            session.rollback()
        else:
            session.commit()
    _print_import(imported, applied=not args.dry_run)
    return 0


def cmd_port_export(settings: Settings, args: argparse.Namespace) -> int:
    from pathlib import Path

    from sqlmodel import Session

    from api.errors import DomainError
    from api.profiles.service import dump_profile, export_profile

    engine, _keyring = _ready(settings)
    with Session(engine) as session:
        try:
            text = dump_profile(export_profile(session=session, code=args.code))
        except DomainError as error:
            return _refusal(error)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"Port {args.code} written to {args.output}.")
    else:
        sys.stdout.write(text)
    return 0


def cmd_staff_create(settings: Settings, args: argparse.Namespace) -> int:
    from sqlmodel import Session, select

    from api.agencies.models import Body
    from api.db import utcnow
    from api.errors import DomainError
    from api.staff import service as staff_service

    engine, keyring = _ready(settings)
    with Session(engine, expire_on_commit=False) as session:
        body_id = None
        if args.body:
            body_id = session.exec(select(Body.id).where(Body.code == args.body)).first()
            if body_id is None:
                print(f"portline: there is no receiving body {args.body!r}.", file=sys.stderr)
                return 1
        try:
            account = staff_service.create_account(
                session=session,
                keyring=keyring,
                actor=None,
                email=args.email,
                role=Role(args.role),
                display_name=args.name,
                body_id=body_id,
                ports=args.port,
                now=utcnow(),
            )
        except DomainError as error:
            return _refusal(error)
        session.commit()
    _print_invitation(account, args.base_url)
    if args.port:
        print(f"It sees only the ports {', '.join(sorted(set(args.port)))}.")
    return 0


def cmd_audit_verify(settings: Settings, _args: argparse.Namespace) -> int:
    from sqlmodel import Session

    from api.audit import service as audit_service
    from api.keystore.service import open_keyring

    engine = _engine(settings)
    keyring = open_keyring(settings=settings, engine=engine)
    with Session(engine) as session:
        verdict = audit_service.verify(session=session, keyring=keyring)
    if verdict.intact:
        print(f"Audit log intact: {verdict.entries} entries.")
        return 0
    print(
        f"Audit log BROKEN at entry {verdict.broken_seq}: {verdict.reason} "
        f"({verdict.entries} entries before it hold).",
        file=sys.stderr,
    )
    return 1


def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    import logging.config
    import signal
    import threading

    from api import worker
    from api.logs import logging_config

    logging.config.dictConfig(logging_config(settings.log_level))
    # Started with the server on a new database, the worker may be first: it migrates too.
    engine, keyring = _ready(settings)
    stop = threading.Event()
    # SIGTERM (a deploy, systemd, a container stop) lets the notice in hand finish first.
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signal_number, lambda _number, _frame: stop.set())
    worker.run(engine=engine, keyring=keyring, settings=settings, stop=stop, once=args.once)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="portline",
        description="Portline: the reporting line seaports trust. "
        "Settings come from PORTLINE_* environment variables.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="apply migrations, then serve the app")
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="the address to listen on; keep the default behind a reverse proxy "
        "(default: %(default)s)",
    )
    serve.add_argument(
        "--port", type=int, default=8000, help="the port to listen on (default: %(default)s)"
    )
    serve.set_defaults(handler=cmd_serve)

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="apply every pending migration").set_defaults(
        handler=cmd_db_upgrade
    )

    init = commands.add_parser(
        "init",
        help="set up a real installation: the default categories and the first administrator",
        description="The first run of a real installation: installs the default categories "
        "of reports and creates the first administrator, printing their one-time link to "
        "choose a password and set up the code app. Refuses to run once an administrator "
        "exists.",
    )
    init.add_argument("--email", required=True, help="the first administrator's e-mail address")
    init.add_argument("--name", default="", help="how colleagues see them (optional)")
    init.add_argument(
        "--base-url",
        default="http://127.0.0.1:8000",
        help="the address staff open Portline at, for the printed link (default: %(default)s)",
    )
    init.add_argument(
        "--port-profile",
        default="",
        metavar="FILE",
        help="also add the first port from its profile file (see `portline port import`)",
    )
    init.set_defaults(handler=cmd_init)

    commands.add_parser("demo", help="seed a demo port with taxonomy and bodies").set_defaults(
        handler=cmd_demo
    )

    port = commands.add_parser(
        "port",
        help="ports as profile files: import one, export one",
        description="A port profile is one TOML file with the port's name, languages, "
        "deadlines, zones, emergency numbers, receiving bodies and routing rules. Export a "
        "port to see the format; the demo's are in api/profiles/data/.",
    )
    port_commands = port.add_subparsers(dest="port_command", required=True)
    port_import = port_commands.add_parser(
        "import",
        help="make a port what its profile file says (adds the port if it is new)",
        description="Makes the port what FILE says: adds, changes and removes its zones, "
        "emergency numbers and rules, adds or changes the bodies it names. Importing the "
        "same file again changes nothing. A zone still named by cases is never removed: "
        "the import is refused with their references, and nothing is applied.",
    )
    port_import.add_argument("file", metavar="FILE", help="the port profile (TOML)")
    port_import.add_argument(
        "--dry-run",
        action="store_true",
        help="list what the import would change, and change nothing",
    )
    port_import.set_defaults(handler=cmd_port_import)
    port_export = port_commands.add_parser(
        "export", help="write a port's profile file (to standard output by default)"
    )
    port_export.add_argument("code", metavar="CODE", help="the port's code, for example NHV")
    port_export.add_argument(
        "--output", "-o", metavar="FILE", default="", help="write to FILE instead"
    )
    port_export.set_defaults(handler=cmd_port_export)

    staff = commands.add_parser("staff", help="staff accounts")
    staff_commands = staff.add_subparsers(dest="staff_command", required=True)
    create = staff_commands.add_parser(
        "create", help="create an account; prints its invitation link"
    )
    create.add_argument(
        "--role",
        required=True,
        choices=[role.value for role in Role],
        help="what the account may do: %(choices)s",
    )
    create.add_argument("--email", required=True, help="the person's e-mail address")
    create.add_argument(
        "--body",
        default="",
        metavar="CODE",
        help="the receiving body a liaison officer works for (required with --role liaison)",
    )
    create.add_argument(
        "--port",
        action="append",
        default=[],
        metavar="CODE",
        help="limit a triager or an administrator to this port; repeat it for several "
        "(default: every port). The cases, bodies, rules and figures of other ports are "
        "invisible to them",
    )
    create.add_argument("--name", default="", help="how colleagues see them (optional)")
    create.add_argument(
        "--base-url",
        default="http://127.0.0.1:8000",
        help="the address staff open Portline at, for the printed link (default: %(default)s)",
    )
    create.set_defaults(handler=cmd_staff_create)

    worker = commands.add_parser(
        "worker",
        help="do the background work: referral notices (e-mail, webhook), retention purges",
        description="Delivers the outbox's notices to receiving bodies and works the jobs "
        "(the retention sweep every PORTLINE_RETENTION_SWEEP_SECONDS, one purge per closed "
        "case past its port's retention). Run as many as you like: each job is done once.",
    )
    worker.add_argument(
        "--once", action="store_true", help="do what is due now (notices and jobs), then exit"
    )
    worker.set_defaults(handler=cmd_worker)

    audit = commands.add_parser("audit", help="the audit log")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    audit_commands.add_parser(
        "verify", help="check the hash chain; exits 1 naming the first broken entry"
    ).set_defaults(handler=cmd_audit_verify)
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
