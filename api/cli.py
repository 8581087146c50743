"""The ``portline`` command."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
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

PUBLIC_URL_VARIABLE = "PORTLINE_PUBLIC_URL"


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


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    import subprocess

    from sqlmodel import Session

    from api import migrate
    from api.db import utcnow
    from api.demo import seed_demo, seed_demo_reports, seed_demo_staff
    from api.keystore.service import open_keyring

    if args.worker and not args.serve:
        print(
            "portline: demo --worker runs a worker beside the server: add --serve.", file=sys.stderr
        )
        return 2
    address = _listening_at(args)
    if args.serve and PUBLIC_URL_VARIABLE not in os.environ:
        # Unless told otherwise, the demo hands out links at the address it serves.
        os.environ[PUBLIC_URL_VARIABLE] = address
        settings = settings.model_copy(update={"public_url": address})
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
        print(f"the receipt code at {settings.public_url}/my-report, for example:")
        for reference, receipt in receipts[:2]:
            print(f"  {reference}  receipt {receipt}")
    else:
        print(
            f"\nThe demo already exists in {settings.effective_database_url}: nothing was added.\n"
            "Its reports' receipt codes were printed only when it was made; Portline keeps no\n"
            f"copy it could show again. Send a new report at {settings.public_url}/ for a new\n"
            "code, or start afresh in an empty data directory:\n"
            "  PORTLINE_DATA_DIR=$(mktemp -d) portline demo"
        )
    print(f"\nConsole logins ({settings.public_url}/admin; new passwords on every run).")
    print("Add the secret to any authenticator app for the 6-digit codes:")
    for login in logins:
        print(
            f"  {login.role:<14} {login.email:<28} {login.password:<32} secret {login.totp_secret}"
        )
    print()
    if settings.public_url.rstrip("/") != address:
        print(
            f"Links printed here and sent by e-mail start with {settings.public_url} "
            f"({PUBLIC_URL_VARIABLE}); Portline listens at {address}/."
        )
    if not args.worker:
        print(
            "Notices to receiving bodies, reminders and retention purges wait until a worker\n"
            "runs: portline worker in another terminal, or portline demo --serve --worker."
        )
    if not args.serve:
        print(f"Serve it with: portline serve --host {args.host} --port {args.port}")
        return 0
    sys.stdout.flush()
    worker = (
        subprocess.Popen([sys.executable, "-m", "api.cli", "worker"], preexec_fn=_end_with_parent)
        if args.worker
        else None
    )
    if worker is not None:
        print(f"A worker is running beside the server (process {worker.pid}).", flush=True)
    try:
        return cmd_serve(settings, args)
    finally:
        if worker is not None:
            worker.terminate()
            try:
                worker.wait(timeout=args.graceful_timeout)
            except subprocess.TimeoutExpired:
                worker.kill()


def _listening_at(args: argparse.Namespace) -> str:
    """The address ``serve`` (or ``demo --serve``) listens at, from its --host and --port."""
    return f"http://{args.host}:{args.port}"


def _end_with_parent() -> None:
    """In a child, before it runs: on Linux, end it with SIGTERM when its parent ends, even
    by a signal that leaves the parent no time to stop it (uvicorn ends a server stopped by
    SIGTERM with that signal again, once it has shut down)."""
    import ctypes
    import signal

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # elsewhere the parent's own stop is all there is


def default_workers(settings: Settings) -> int:
    """How many processes ``serve`` starts unless told: one per core on PostgreSQL; one on
    the embedded SQLite, whose single writer gains nothing from more."""
    if settings.effective_database_url.startswith("sqlite"):
        return 1
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from api import hashing
    from api.app import SETUP_DIGEST_VARIABLE
    from api.logs import logging_config
    from api.operations import metrics

    # Before any thread starts, and through the environment for uvicorn's processes.
    hashing.limit_malloc_arenas()
    workers = args.workers or default_workers(settings)
    engine, _keyring = _ready(settings)
    setup_token = _setup_token(engine)
    engine.dispose()  # each process opens its own connections
    # What the processes share comes down through the environment: the set-up token's
    # digest (the token itself is only printed), read by api.app.create_app_in_process.
    os.environ.pop(SETUP_DIGEST_VARIABLE, None)
    if setup_token:
        os.environ[SETUP_DIGEST_VARIABLE] = setup_token[1].digest
    # /metrics adds up every process's request counts from files kept in one directory:
    # PROMETHEUS_MULTIPROC_DIR if set, else one per listening port in the data directory
    # (so two `serve` on one machine keep theirs apart).
    chosen = os.environ.get(metrics.MULTIPROCESS_VARIABLE)
    metrics.prepare_multiprocess_dir(
        Path(chosen) if chosen else settings.data_dir / "metrics" / f"serve-{args.port}"
    )
    address = _listening_at(args)
    processes = "one process" if workers == 1 else f"{workers} processes"
    print(
        f"Portline is running at {address}/ in {processes} (API docs: /api/docs); links "
        f"that leave the server start with {settings.public_url} ({PUBLIC_URL_VARIABLE})."
    )
    if setup_token:
        # On the server's console only, never through logging: log lines may be shipped
        # elsewhere, and this one opens an empty installation to whoever reads it.
        print(
            f"No administrator yet. Open {settings.public_url}/admin/setup?token={setup_token[0]} "
            "to create the first one (or run portline init).",
            file=sys.stderr,
            flush=True,
        )
    sys.stdout.flush()
    uvicorn.run(
        "api.app:create_app_in_process",
        factory=True,
        workers=workers,
        host=args.host,
        port=args.port,
        # Every process logs the same way: no client address, no uvicorn access log.
        log_config=logging_config(settings.log_level),
        access_log=False,
        proxy_headers=False,
        forwarded_allow_ips="",
        server_header=False,
        h11_max_incomplete_event_size=64 * 1024,
        # SIGTERM: stop accepting, let the requests in hand finish (up to this long).
        timeout_graceful_shutdown=args.graceful_timeout,
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
    from api.staff.service import invitation_link

    print(f"Account created: {account.staff.email} ({account.staff.role}).")
    print("To choose a password and set up the second factor, open within 3 days:")
    print(f"  {invitation_link(base_url, account.invitation)}")


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
    _print_invitation(account, args.base_url or settings.public_url)
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
    _print_invitation(account, args.base_url or settings.public_url)
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


def cmd_backup(settings: Settings, args: argparse.Namespace) -> int:
    from pathlib import Path

    from api import backup

    try:
        recipients = _backup_recipients(settings, args)
        if not recipients:
            print(
                "portline: no age public key to encrypt to: give --recipient or "
                "--recipients-file, or set PORTLINE_BACKUP_RECIPIENTS",
                file=sys.stderr,
            )
            return 2
        out_path = Path(args.file)
        manifest = backup.backup(
            settings=settings, engine=_engine(settings), out_path=out_path, recipients=recipients
        )
    except backup.BackupError as error:
        print(f"portline: {error}", file=sys.stderr)
        return 1
    print(
        f"Backup written to {out_path} ({out_path.stat().st_size} bytes): the "
        f"{_DATABASE_NAMES[manifest.database]} database at migration {manifest.revision}, "
        f"encrypted to {len(recipients)} public key(s)."
    )
    print(
        f"It holds no key: keep a copy of {_key_source(settings)} apart from the backups; "
        "without it no report in them can be read."
    )
    return 0


_DATABASE_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


def _backup_recipients(settings: Settings, args: argparse.Namespace) -> list[str]:
    """The public keys of the command line; without any, those of the setting."""
    from pathlib import Path

    from api import backup

    keys = backup.parse_recipients(args.recipient, source="--recipient")
    for name in args.recipients_file:
        try:
            lines = Path(name).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as error:
            raise backup.BackupError(f"cannot read the recipients file {name}: {error}") from None
        keys += backup.parse_recipients(lines, source=name)
    if args.recipient or args.recipients_file:
        return keys
    return settings.backup_recipient_keys


def _key_source(settings: Settings) -> str:
    return "PORTLINE_KEY" if settings.key else f"the key file {settings.effective_key_file}"


def cmd_restore(settings: Settings, args: argparse.Namespace) -> int:
    from pathlib import Path

    from api import backup

    engine = _engine(settings)
    try:
        identities = [
            identity for name in args.identity for identity in backup.read_identities(Path(name))
        ]
        manifest = backup.restore(engine=engine, in_path=Path(args.file), identities=identities)
    except backup.BackupError as error:
        print(f"portline: {error}", file=sys.stderr)
        return 1
    print(
        f"Restored {args.file}, a backup made in the hour of "
        f"{manifest.created_hour:%Y-%m-%d %H:00} UTC by Portline {manifest.portline} "
        f"(migration {manifest.revision}); the database is now at the latest migration."
    )
    return _restored_key(settings, engine)


def _restored_key(settings: Settings, engine: Engine) -> int:
    """Whether the configured key opens the restored database (the key is not in backups)."""
    from api.keystore.service import open_keyring

    if not settings.key and not settings.effective_key_file.exists():
        print(
            f"Now put the key file that was in use when the backup was made at "
            f"{settings.effective_key_file} (mode 0600): without it Portline does not start "
            "and no report opens."
        )
        return 0
    try:
        open_keyring(settings=settings, engine=engine)
    except KeyFileError as error:
        print(f"portline: the backup is restored, but {error}", file=sys.stderr)
        return 1
    print(f"{_key_source(settings).capitalize()} opens it. Check with `portline audit verify`.")
    return 0


def cmd_key_rotate(settings: Settings, args: argparse.Namespace) -> int:
    from api import migrate, rotation

    engine = _engine(settings)
    with migrate.startup_lock(engine):
        migrate.upgrade(engine)
    rotation.rotate(
        settings=settings,
        engine=engine,
        say=lambda line: print(line, flush=True),
        batch_size=args.batch_size,
        prepare=args.prepare,
    )
    if args.prepare:
        return 0
    print(
        "Back up the key file now, and keep the previous one with the backups made "
        "before this rotation: they need it. Processes whose key file is a copy made at "
        "their start (systemd credentials) must be restarted."
    )
    return 0


def cmd_key_status(settings: Settings, _args: argparse.Namespace) -> int:
    from sqlmodel import Session

    from api import rotation
    from api.crypto import sealed_key_id
    from api.keystore.models import KeyCheck
    from api.keystore.service import live_keys, open_keyring

    engine = _engine(settings)
    keyring = open_keyring(settings=settings, engine=engine)
    with Session(engine) as session:
        check = session.get_one(KeyCheck, 1)
        counts = rotation.count_by_key(session)
    held = ", ".join(str(kek_id) for kek_id in sorted(keyring.kek_ids))
    print(
        f"Key file: key {held}. New data keys are wrapped with key {sealed_key_id(check.sealed)}."
    )
    print(f"Keys stored values may name: {', '.join(map(str, sorted(live_keys(check))))}.")
    for name, by_key in counts.items():
        shown = ", ".join(f"key {kek_id}: {count}" for kek_id, count in sorted(by_key.items()))
        print(f"  {name}: {shown or 'none'}")
    return 0


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
    # Each of the N loops takes its own notices and jobs; they share the engine's pool.
    loops = [
        threading.Thread(
            target=worker.run,
            kwargs={
                "engine": engine,
                "keyring": keyring,
                "settings": settings,
                "stop": stop,
                "once": args.once,
            },
            name=f"portline-worker-{index}",
        )
        for index in range(args.concurrency)
    ]
    for loop in loops:
        loop.start()
    while any(loop.is_alive() for loop in loops):
        for loop in loops:
            loop.join(timeout=0.5)
    return 0


def _positive(text: str) -> int:
    """A whole number of at least 1, for counts and durations on the command line."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="portline",
        description="Portline: the reporting line seaports trust. "
        "Settings come from PORTLINE_* environment variables.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    # How to serve: the options of serve, which demo --serve takes too.
    serving = argparse.ArgumentParser(add_help=False)
    serving.add_argument(
        "--host",
        default="127.0.0.1",
        help="the address to listen on; keep the default behind a reverse proxy "
        "(default: %(default)s)",
    )
    serving.add_argument(
        "--port", type=int, default=8000, help="the port to listen on (default: %(default)s)"
    )
    serving.add_argument(
        "--workers",
        type=_positive,
        default=0,
        metavar="N",
        help="how many processes to serve with (default: one per core on PostgreSQL, one on "
        "the embedded SQLite); each opens its own database connections",
    )
    serving.add_argument(
        "--graceful-timeout",
        type=_positive,
        default=30,
        metavar="SECONDS",
        help="on SIGTERM, how long the requests in hand may take to finish before the "
        "processes stop anyway (default: %(default)s)",
    )
    serve = commands.add_parser(
        "serve", parents=[serving], help="apply migrations, then serve the app"
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
        default="",
        help="the address staff open Portline at, for the printed link "
        "(default: PORTLINE_PUBLIC_URL, http://127.0.0.1:8000 unless set)",
    )
    init.add_argument(
        "--port-profile",
        default="",
        metavar="FILE",
        help="also add the first port from its profile file (see `portline port import`)",
    )
    init.set_defaults(handler=cmd_init)

    demo = commands.add_parser(
        "demo",
        parents=[serving],
        help="seed a demo port with taxonomy, bodies, reports and console logins",
        description="Seeds what the demo lacks (a second run adds no reports and prints new "
        "console passwords), then prints the console logins and, the first time, receipt "
        "codes of demo reports. With --serve, links handed out start with the address it "
        "serves unless PORTLINE_PUBLIC_URL says otherwise.",
    )
    demo.add_argument(
        "--serve", action="store_true", help="serve the demo once it is seeded, as serve does"
    )
    demo.add_argument(
        "--worker",
        action="store_true",
        help="with --serve, also run a worker beside the server, which delivers the notices "
        "to receiving bodies and stops with it",
    )
    demo.set_defaults(handler=cmd_demo)

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
        default="",
        help="the address staff open Portline at, for the printed link "
        "(default: PORTLINE_PUBLIC_URL, http://127.0.0.1:8000 unless set)",
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
    worker.add_argument(
        "--concurrency",
        type=_positive,
        default=1,
        metavar="N",
        help="how many notices and jobs this process works at once, each in its own loop "
        "(default: %(default)s); on PostgreSQL, more processes on more machines also work",
    )
    worker.set_defaults(handler=cmd_worker)

    key = commands.add_parser(
        "key",
        help="the key file: rotate the key-encryption key, see which keys are in use",
        description="The key file holds the key-encryption keys (kek N), which wrap every "
        "report's data key, and the installation's lookup and signing keys, which never "
        'change. See docs/operations.md, "Rotate the keys".',
    )
    key_commands = key.add_subparsers(dest="key_command", required=True)
    rotate = key_commands.add_parser(
        "rotate",
        help="add a new key-encryption key, wrap every data key with it, retire the old one",
        description="Adds key N+1 to the key file, makes it the key new data keys are "
        "wrapped with, wraps every stored data key and second-factor secret again in "
        "batches, then retires the old key and removes it from the key file. Safe while "
        "Portline serves. Interrupted (a crash, kill -9), run it again: it resumes. "
        "Back up the key file before and after.",
    )
    rotate.add_argument(
        "--batch-size",
        type=_positive,
        default=500,
        metavar="N",
        help="rows wrapped again per transaction (default: %(default)s)",
    )
    rotate.add_argument(
        "--prepare",
        action="store_true",
        help="only add the new key to the key file and stop: for processes that read a copy "
        "of the key file at their start (systemd's LoadCredential), restart them, then run "
        "`portline key rotate` again to finish",
    )
    rotate.set_defaults(handler=cmd_key_rotate)
    key_commands.add_parser(
        "status", help="the keys in the key file and how many values each one seals"
    ).set_defaults(handler=cmd_key_status)

    audit = commands.add_parser("audit", help="the audit log")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    audit_commands.add_parser(
        "verify", help="check the hash chain; exits 1 naming the first broken entry"
    ).set_defaults(handler=cmd_audit_verify)

    backup_command = commands.add_parser(
        "backup",
        help="write an encrypted snapshot of the database, for `portline restore`",
        description="Writes FILE: a consistent snapshot of the database (SQLite's online "
        "backup, or pg_dump on PostgreSQL), taken while Portline runs, encrypted with age to "
        "the operators' public keys (make a key pair with age-keygen, and keep its private "
        "key off this server; `age -d` opens the file too). FILE appears whole, mode 0600, or "
        "not at all. It never holds the key file (PORTLINE_KEY_FILE): back that up "
        "separately, apart from these backups, for without it no report, message or "
        "attachment in them can ever be read. See docs/operations.md.",
        epilog="Without --recipient or --recipients-file, the backup is encrypted to the "
        "keys in PORTLINE_BACKUP_RECIPIENTS.",
    )
    backup_command.add_argument(
        "file", metavar="FILE", help="where to write the backup (replaced if it exists)"
    )
    backup_command.add_argument(
        "--recipient",
        "-r",
        action="append",
        default=[],
        metavar="AGE_PUBLIC_KEY",
        help="encrypt to this age public key (age1…, as age-keygen prints it); repeat it "
        "for several: any one of their private keys opens the backup",
    )
    backup_command.add_argument(
        "--recipients-file",
        "-R",
        action="append",
        default=[],
        metavar="FILE",
        help="encrypt to every public key in FILE (one a line, # for comments, as "
        "`age -R` reads it); repeatable",
    )
    backup_command.set_defaults(handler=cmd_backup)

    restore = commands.add_parser(
        "restore",
        help="restore a backup onto a new, empty database",
        description="Decrypts FILE (written by `portline backup`) with an age private key and "
        "restores it onto the empty database that PORTLINE_DATABASE_URL names (SQLite: "
        "portline.db in PORTLINE_DATA_DIR, which must not exist yet or hold no tables), then "
        "applies this Portline's migrations. Stop Portline first. Refused, with nothing "
        "changed, onto a database with tables in it, with a backup of the other kind of "
        "database, or with a private key the backup was not encrypted to. Portline then "
        "needs the key file that was in use when the backup was made (PORTLINE_KEY_FILE); "
        "`portline audit verify` checks both.",
    )
    restore.add_argument("file", metavar="FILE", help="the backup to restore")
    restore.add_argument(
        "--identity",
        "-i",
        action="append",
        required=True,
        metavar="FILE",
        help="an age identity file: the private key (AGE-SECRET-KEY-1…) as age-keygen wrote "
        "it; repeat it to try several",
    )
    restore.set_defaults(handler=cmd_restore)
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
