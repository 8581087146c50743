"""Retention benchmark (issue 12): purge 50,000 closed cases out of 200,000 on PostgreSQL with
the real worker, while the triage queue is timed.

Run ``.venv/bin/python -m bench.retention [--cases 200000] [--purge 50000] [--workers 2]``.

Seeding is bench/queue.py's (``prepare_portline_database``, ``seed``: the same 200,000 cases,
reports and tags, built in bulk on a fresh PostgreSQL database), and then:

- the ``--purge`` longest-closed cases keep their ``closed_at`` (all closed more than the
  ports' 365 days ago, so due); every other closed case that was closed more than its port's
  retention ago gets a ``closed_at`` within it, so exactly ``--purge`` cases are due;
- every report gets 1-4 messages (128 sealed bytes each), every case 0-3 notes, and one report
  in three a container hash (``case_entity``), so a purge deletes rows in every table it
  touches and the tables it scans are of a realistic size;
- VACUUM ANALYZE and a CHECKPOINT, as bench/queue.py does.

The purge is the real path: ``--workers`` processes each run ``api.worker.run`` (the loop of
``portline worker``: schedules, notices, ``work_one_job``), which takes ``retention.sweep``
jobs (``api.retention.jobs.sweep``: up to 500 due cases, one ``retention.purge`` job each) and
then the purge jobs (``purge_case`` in one transaction with the job's ``finish``, then
``reclaim_space``). The workers' own schedule fires the first sweep; the sweep's period is set
to a week, and the benchmark queues the next sweep job itself as soon as no job is pending:
a period of a second would queue the same 500 cases again every second while they are purged.

Meanwhile a thread of this process calls ``api.cases.service.queue`` (the default filter:
open cases by due date, page 1 of 50, a triager as actor, a new session per call, as
bench/queue.py measures it) every ``--interval`` ms, and another looks every ``--interval``
ms for sessions of the database waiting on a lock (``pg_stat_activity``). The same sampling
runs for ``--baseline`` seconds before the purge. Workers are processes, so that their Python
work does not hold this process's GIL and show up as queue latency.

Printed: cases purged, elapsed time, cases per second, the queue's p50/p95/max before and
during the purge, lock waits seen, and the load average. The database is dropped at the end
(unless ``--database-url`` named one).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.synchronize import Event as ProcessEvent
from pathlib import Path

from sqlalchemy import Engine, func, text
from sqlmodel import Session, col, select

from api.cases.models import Case
from api.cases.schemas import CaseStatus, QueueFilter
from api.cases.service import queue
from api.config import Settings
from api.crypto import KEY_BYTES, KeyRing
from api.db import make_engine, utcnow
from api.jobs import service as jobs
from api.jobs.models import Job
from api.retention import jobs as retention
from api.retention import policy
from api.retention.models import PurgedCount
from api.staff.models import Staff
from bench.intake import scratch_database
from bench.queue import (
    DEFAULT_ADMIN_URL,
    PAGE_SIZE,
    _rowcount,
    _u,
    bench_actor,
    cpu_model,
    percentile,
    prepare_portline_database,
    seed,
)

DEFAULT_CASES = 200_000
DEFAULT_PURGE = 50_000
DEFAULT_WORKERS = 2
DEFAULT_INTERVAL_MS = 100
DEFAULT_BASELINE_SECONDS = 20.0
STALL_MS = 500.0  # a queue call slower than this counts as a stall
PROGRESS_SECONDS = 30.0
RETENTION_KINDS = (retention.SWEEP, retention.PURGE)


# Seeding beyond bench/queue.py ---------------------------------------------------------------


def _due_set_sql() -> str:
    """Keep the ``:purge`` longest-closed cases due; bring every other closed case that is
    past its port's retention back within it (closed 0 to retention - 7 days ago: later
    than it was, so still after its receipt and acknowledgement)."""
    return f"""
WITH ranked AS (
    SELECT c.id, p.retention_days,
        row_number() OVER (ORDER BY c.closed_at, c.id) AS rank,
        -- due by the end of the benchmark, a day later at most
        c.closed_at + make_interval(days => p.retention_days - 1) <= :now AS due
    FROM "case" c JOIN port p ON p.id = c.port_id
    WHERE c.status = 'closed' AND c.closed_at IS NOT NULL
)
UPDATE "case" c
SET closed_at = :now - make_interval(
    hours => floor({_u(40, "c.id")} * (r.retention_days - 7) * 24)::int)
FROM ranked r
WHERE c.id = r.id AND r.rank > :purge AND r.due
"""


_MESSAGES_SQL = f"""
INSERT INTO message (report_id, seq, author, visibility, body_sealed, created_hour)
SELECT r.id, s.seq,
    CASE WHEN s.seq % 2 = 1 THEN 'reporter' ELSE 'team' END,
    'reporter',
    decode(repeat(md5(r.id::text || '-' || s.seq), 8), 'hex'),
    r.received_hour + make_interval(hours => s.seq * 24)
FROM report r
CROSS JOIN LATERAL generate_series(1, 1 + floor({_u(41, "r.id")} * 4)::int) AS s(seq)
"""

_NOTES_SQL = f"""
INSERT INTO case_note (case_id, author_id, wrapped_key, body_sealed, created_at)
SELECT c.id, c.assignee_id, decode(md5('key-' || c.id || '-' || n), 'hex'),
    decode(repeat(md5(c.id::text || '-' || n), 8), 'hex'),
    c.received_hour + make_interval(hours => n * 12)
FROM "case" c
CROSS JOIN LATERAL generate_series(1, floor({_u(42, "c.id")} * 4)::int) AS n
"""

_ENTITIES_SQL = f"""
INSERT INTO case_entity (case_id, report_id, kind, value_hash)
SELECT r.case_id, r.id, 'container', md5('container-' || (r.id % 50000))
    || md5('salt-' || r.id)
FROM report r
WHERE r.case_id IS NOT NULL AND {_u(43, "r.id")} < 0.33
"""

_MESSAGE_SEQ_SQL = """
UPDATE report r SET next_message_seq = m.last + 1
FROM (SELECT report_id, max(seq) AS last FROM message GROUP BY report_id) m
WHERE m.report_id = r.id
"""


@dataclass(frozen=True)
class Extra:
    seconds: float
    due: int
    messages: int
    notes: int
    entities: int


def seed_retention(engine: Engine, purge: int, now: datetime) -> Extra:
    """Make exactly ``purge`` cases due, add messages, notes and entity hashes, ANALYZE."""
    started = time.perf_counter()
    with engine.begin() as connection:
        connection.execute(text(_due_set_sql()), {"now": now, "purge": purge})
        messages = _rowcount(connection.execute(text(_MESSAGES_SQL)))
        connection.execute(text(_MESSAGE_SEQ_SQL))
        notes = _rowcount(connection.execute(text(_NOTES_SQL)))
        entities = _rowcount(connection.execute(text(_ENTITIES_SQL)))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE"))
        connection.execute(text("CHECKPOINT"))
    with Session(engine) as session:
        due = len(policy.purgeable(session=session, now=now, limit=purge + 1))
    return Extra(time.perf_counter() - started, due, messages, notes, entities)


_UNINDEXED_FOREIGN_KEYS_SQL = """
SELECT con.conrelid::regclass::text, a.attname, con.confrelid::regclass::text
FROM pg_constraint con
JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = con.conkey[1]
WHERE con.contype = 'f' AND con.confrelid IN ('"case"'::regclass, 'report'::regclass)
    AND NOT EXISTS (
        SELECT 1 FROM pg_index i
        WHERE i.indrelid = con.conrelid AND i.indkey[0] = con.conkey[1])
ORDER BY 1, 2
"""


def unindexed_foreign_keys(engine: Engine) -> list[str]:
    """Columns referencing a case or a report with no index leading with them: deleting a
    case or a report scans their table (ON DELETE checks), and so may a purge's DELETE."""
    with engine.connect() as connection:
        rows = connection.execute(text(_UNINDEXED_FOREIGN_KEYS_SQL)).all()
    return [f"{table}.{column} -> {target}" for table, column, target in rows]


# The workers -----------------------------------------------------------------------------------


def _worker_settings(url: str) -> Settings:
    # A week between scheduled sweeps: the first fires at start, the benchmark queues the
    # others (see the module's docstring). Idle workers look again after 50 ms.
    return Settings(
        database_url=url,
        retention_sweep_seconds=7 * 86_400,
        worker_poll_seconds=0.05,
        log_level="WARNING",
    )


def _worker_process(url: str, key: bytes, stop: ProcessEvent, name: str) -> None:
    """One ``portline worker`` loop (api.worker.run) until ``stop`` is set."""
    import logging

    from api import worker

    logging.basicConfig(level=logging.WARNING)
    # Retention's jobs only: the reminders the seeded open cases would queue (and fail
    # to send without an SMTP server) are not what is measured.
    worker.HANDLERS = {kind: worker.HANDLERS[kind] for kind in RETENTION_KINDS}
    engine = make_engine(url)
    stopping = threading.Event()

    def relay() -> None:
        stop.wait()
        stopping.set()

    threading.Thread(target=relay, daemon=True).start()
    try:
        worker.run(
            engine=engine,
            keyring=KeyRing(key),
            settings=_worker_settings(url),
            stop=stopping,
            worker_id=name,
        )
    finally:
        engine.dispose()


def pending_jobs(session: Session) -> int:
    return int(
        session.exec(
            select(func.count())
            .select_from(Job)
            .where(Job.status == jobs.PENDING, col(Job.kind).in_(RETENTION_KINDS))
        ).one()
    )


def remaining_cases(session: Session, now: datetime) -> int:
    return len(policy.purgeable(session=session, now=now, limit=10_000_000))


# Sampling the queue while the purge runs --------------------------------------------------------


@dataclass
class Samples:
    queue_ms: list[float] = field(default_factory=list)
    lock_waits: int = 0  # samples that saw at least one session waiting on a lock
    lock_waiters_max: int = 0
    lock_queries: set[str] = field(default_factory=set)
    looks: int = 0


def _sample_queue(
    engine: Engine, actor: Staff, now: datetime, interval: float, stop: threading.Event
) -> Samples:
    samples = Samples()
    while not stop.is_set():
        started = time.perf_counter()
        with Session(engine) as session:
            queue(
                session=session,
                actor=actor,
                filters=QueueFilter(),
                now=now,
                page=1,
                page_size=PAGE_SIZE,
            )
        took = time.perf_counter() - started
        samples.queue_ms.append(took * 1000)
        stop.wait(max(0.0, interval - took))
    return samples


_LOCK_WAITERS_SQL = """
SELECT left(regexp_replace(query, '\\s+', ' ', 'g'), 100) FROM pg_stat_activity
WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()
"""


def _watch_locks(engine: Engine, interval: float, stop: threading.Event, into: Samples) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        while not stop.is_set():
            waiting = [str(row[0]) for row in connection.execute(text(_LOCK_WAITERS_SQL))]
            into.looks += 1
            if waiting:
                into.lock_waits += 1
                into.lock_waiters_max = max(into.lock_waiters_max, len(waiting))
                into.lock_queries.update(waiting)
            stop.wait(interval)


@contextmanager
def sampling(engine: Engine, actor: Staff, now: datetime, interval: float) -> Iterator[Samples]:
    """Time the queue and watch for lock waits in two threads until the block ends."""
    stop = threading.Event()
    result: list[Samples] = []
    locks = Samples()

    def run_queue() -> None:
        result.append(_sample_queue(engine, actor, now, interval, stop))

    threads = [
        threading.Thread(target=run_queue, name="queue-sampler"),
        threading.Thread(target=_watch_locks, args=(engine, interval, stop, locks), name="locks"),
    ]
    for thread in threads:
        thread.start()
    combined = Samples()
    try:
        yield combined
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        combined.queue_ms = result[0].queue_ms if result else []
        combined.lock_waits, combined.lock_waiters_max = locks.lock_waits, locks.lock_waiters_max
        combined.lock_queries, combined.looks = locks.lock_queries, locks.looks


def describe(label: str, samples: Samples) -> str:
    values = samples.queue_ms
    stalls = sum(value > STALL_MS for value in values)
    return (
        f"  {label:<22} {len(values):>6} calls  p50 {percentile(values, 0.5):7.1f}  "
        f"p95 {percentile(values, 0.95):7.1f}  max {max(values, default=float('nan')):7.1f} ms  "
        f"> {STALL_MS:.0f} ms: {stalls}  lock waits seen in {samples.lock_waits} of "
        f"{samples.looks} looks (at most {samples.lock_waiters_max} sessions)"
    )


# The purge ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Purged:
    cases: int
    seconds: float
    sweeps: int
    jobs_done: int
    jobs_cancelled: int
    jobs_failed: int
    loads: tuple[float, float]  # 1-minute load average at the start and at the end


def purge_with_workers(engine: Engine, url: str, key: bytes, workers: int, now: datetime) -> Purged:
    """Start the workers, queue a sweep whenever no job is pending, stop when nothing is
    due and nothing pending."""
    with Session(engine) as session:
        before = int(session.exec(select(func.count()).select_from(Case)).one())
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    processes = [
        context.Process(
            target=_worker_process, args=(url, key, stop, f"bench-worker-{number}"), daemon=True
        )
        for number in range(1, workers + 1)
    ]
    load_start = os.getloadavg()[0]
    started = time.perf_counter()
    for process in processes:
        process.start()
    sweeps = 0
    last_progress = started
    try:
        while True:
            time.sleep(0.1)
            if any(not process.is_alive() for process in processes):
                raise RuntimeError("a worker process ended early")
            with Session(engine) as session:
                if pending_jobs(session):
                    pass
                elif not policy.purgeable(session=session, now=utcnow(), limit=1):
                    break
                elif (
                    sweeps
                    or session.exec(select(Job.id).where(Job.kind == retention.SWEEP)).first()
                ):
                    # The workers' schedule fired the first sweep, and it is done: the next.
                    sweeps += 1
                    jobs.enqueue(
                        session=session,
                        kind=retention.SWEEP,
                        once_key=f"{retention.SWEEP}@bench-{sweeps}",
                        run_at=utcnow(),
                        now=utcnow(),
                    )
                    session.commit()
            if time.perf_counter() - last_progress >= PROGRESS_SECONDS:
                last_progress = time.perf_counter()
                with Session(engine) as session:
                    left = int(session.exec(select(func.count()).select_from(Case)).one())
                done = before - left
                print(
                    f"    {last_progress - started:6.0f} s: {done:,} purged "
                    f"({done / (last_progress - started):.1f}/s), load {os.getloadavg()[0]:.2f}",
                    flush=True,
                )
        seconds = time.perf_counter() - started
        load_end = os.getloadavg()[0]
    finally:
        stop.set()
        for process in processes:
            process.join(timeout=60)
            if process.is_alive():
                process.terminate()
    with Session(engine) as session:
        after = int(session.exec(select(func.count()).select_from(Case)).one())
        by_status = dict(
            session.exec(
                select(Job.status, func.count())
                .where(Job.kind == retention.PURGE)
                .group_by(col(Job.status))
            ).all()
        )
    return Purged(
        cases=before - after,
        seconds=seconds,
        sweeps=sweeps + 1,
        jobs_done=int(by_status.get(jobs.DONE, 0)),
        jobs_cancelled=int(by_status.get(jobs.CANCELLED, 0)),
        jobs_failed=int(by_status.get(jobs.FAILED, 0)),
        loads=(load_start, load_end),
    )


def check_after(engine: Engine, now: datetime) -> str:
    """What is left: due cases (none expected), closed cases, and the counts kept."""
    with Session(engine) as session:
        due = remaining_cases(session, now)
        closed = int(
            session.exec(
                select(func.count()).select_from(Case).where(Case.status == CaseStatus.closed)
            ).one()
        )
        kept = session.exec(
            select(func.coalesce(func.sum(PurgedCount.cases), 0), func.count())
        ).one()
    return (
        f"after the purge: {due} cases due, {closed:,} closed cases kept; purged_count holds "
        f"{int(kept[0]):,} cases in {int(kept[1]):,} rows"
    )


# Command line ----------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.retention",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--cases", type=int, default=DEFAULT_CASES, help="cases to seed (default %(default)s)"
    )
    parser.add_argument(
        "--purge",
        type=int,
        default=DEFAULT_PURGE,
        help="closed cases made due and purged (default %(default)s)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=DEFAULT_WORKERS,
        help="worker processes running api.worker.run (default %(default)s)",
    )
    parser.add_argument(
        "--database-url",
        default=None,
        help="an empty PostgreSQL database to use (kept afterwards); default: a fresh "
        f"database created on {DEFAULT_ADMIN_URL.rsplit('/', 1)[0]} (or "
        "$PORTLINE_BENCH_PG_URL) and dropped at the end",
    )
    parser.add_argument(
        "--interval",
        type=int,
        default=DEFAULT_INTERVAL_MS,
        help="ms between two queue calls and between two looks for lock waits "
        "(default %(default)s)",
    )
    parser.add_argument(
        "--baseline",
        type=float,
        default=DEFAULT_BASELINE_SECONDS,
        help="seconds the queue is timed before the purge (default %(default)s)",
    )
    return parser


@contextmanager
def database(url: str | None) -> Iterator[str]:
    if url is not None:
        if not url.startswith("postgresql"):
            raise SystemExit("--database-url: the bulk seeding (bench/queue.py) needs PostgreSQL")
        yield url.replace("postgresql://", "postgresql+psycopg://", 1)
        return
    admin_url = os.environ.get("PORTLINE_BENCH_PG_URL", DEFAULT_ADMIN_URL)
    with scratch_database(
        "postgresql", Path(tempfile.gettempdir()), admin_url, "portline_retention"
    ) as scratch:
        yield scratch


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not 0 < args.purge < args.cases or args.workers < 1:
        raise SystemExit("need 0 < --purge < --cases and --workers >= 1")
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    key = os.urandom(KEY_BYTES)
    interval = args.interval / 1000
    with database(args.database_url) as url:
        engine = make_engine(url)
        try:
            with engine.connect() as connection:
                server = connection.execute(text("SHOW server_version")).scalar_one()
            print(
                f"Retention benchmark: purge {args.purge:,} of {args.cases:,} cases with "
                f"{args.workers} worker process(es), the queue timed every {args.interval} ms\n"
                f"{os.cpu_count()} CPUs ({cpu_model()}), Python {sys.version.split()[0]}, "
                f"PostgreSQL {server}, load average {os.getloadavg()[0]:.2f}",
                flush=True,
            )
            prepare_portline_database(engine)
            seeded = seed(engine, args.cases, now)
            extra = seed_retention(engine, args.purge, now)
            print(
                f"Seeded {seeded.cases:,} cases ({seeded.open_cases:,} open), "
                f"{seeded.reports:,} reports, {seeded.tags:,} tags in {seeded.seconds:.1f} s; "
                f"then {extra.messages:,} messages, {extra.notes:,} notes, {extra.entities:,} "
                f"entity hashes in {extra.seconds:.1f} s. Due to be purged: {extra.due:,}",
                flush=True,
            )
            if extra.due != args.purge:
                raise SystemExit(f"{extra.due} cases are due, not {args.purge}: use fewer")
            for foreign_key in unindexed_foreign_keys(engine):
                print(f"  no index leads with {foreign_key}")
            actor = bench_actor(engine)
            # The purge runs at the real time; the queue is read as of the seeding's hour.
            with sampling(engine, actor, now, interval) as baseline:
                time.sleep(args.baseline)
            print(describe("queue before (baseline)", baseline), flush=True)
            print("  purging ...", flush=True)
            with sampling(engine, actor, now, interval) as during:
                purged = purge_with_workers(engine, url, key, args.workers, now)
            print(describe("queue during the purge", during))
            print(f"  {check_after(engine, utcnow())}")
            rate = purged.cases / purged.seconds if purged.seconds else float("nan")
            print(
                f"\nPurged {purged.cases:,} cases in {purged.seconds:.1f} s: {rate:.1f} cases/s "
                f"with {args.workers} worker(s); {purged.sweeps} sweeps, purge jobs "
                f"{purged.jobs_done:,} done, {purged.jobs_cancelled:,} cancelled, "
                f"{purged.jobs_failed:,} failed.\n"
                f"Queue (default filter, page 1 of {PAGE_SIZE}) p50 / p95 / max: before "
                f"{percentile(baseline.queue_ms, 0.5):.1f} / "
                f"{percentile(baseline.queue_ms, 0.95):.1f} / "
                f"{max(baseline.queue_ms, default=float('nan')):.1f} ms, during "
                f"{percentile(during.queue_ms, 0.5):.1f} / "
                f"{percentile(during.queue_ms, 0.95):.1f} / "
                f"{max(during.queue_ms, default=float('nan')):.1f} ms.\n"
                f"Load average (1 min) at the purge's start {purged.loads[0]:.2f}, at its end "
                f"{purged.loads[1]:.2f}, now {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs."
            )
            for query in sorted(during.lock_queries):
                print(f"  waited on a lock: {query}")
        finally:
            engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
