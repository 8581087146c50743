"""Triage queue benchmark (issue 5): the queue's first page over 200,000 cases on PostgreSQL.

Run ``.venv/bin/python -m bench.queue [--cases 200000] [--repeats 50] [--try-index]``.

It creates a fresh PostgreSQL database, migrates it (``api.migrate.upgrade``), seeds the demo
(``api.demo.seed_demo``) and five triagers, then inserts the cases in bulk with one
``INSERT ... SELECT generate_series`` (plus one report per case, a second report for one case
in ten, and tags for one case in five), runs VACUUM ANALYZE and a CHECKPOINT. The spread is deterministic (hashes
of the row number, not ``random()``), so every run builds the same data:

- status: 80% closed, then new 4%, acknowledged 4%, in progress 6%, waiting for the reporter
  3%, referred 3%;
- category (and so kind) skewed towards the first categories, port 70/30, zone per port
  (10% none), cargo direction only for cargo-relevant categories, severity 1-4 or none,
  assignee one of the five triagers (most new cases unassigned);
- received over three years (closed), the last 3 weeks (new) or the last 4 months (other open
  cases); ``acknowledge_due``, ``acknowledged_at``, ``feedback_due``, ``due_at`` and
  ``closed_at`` follow from it as the service sets them (closed cases have no ``due_at``);
- titles such as "Seal broken at gate 3 #12345", references such as ``C-7K3QX0MZ``.

Then it times ``api.cases.service.queue`` in process (real SQLModel session, a triager as
actor, page 1 of 50 rows) for ten typical filters: a few warm-up calls, then ``--repeats``
timed calls, each in a new session as a request would have. In the same session it then
times ``status_counts`` with the same filters, as the admin queue page calls both. A few
more search terms (a common word, a term too short for a trigram) are measured the same way
and shown apart from the ten filters. A filter whose page (both calls) misses the target at
p95 gets its slowest SQL statement shown with EXPLAIN ANALYZE.

``--try-index`` is an experiment on the benchmark database only: after the measurement it
creates each candidate index in turn (``CANDIDATE_INDEXES``, or the ``--index`` statements
given), runs ANALYZE, measures all filters again and drops it. Nothing in the models or migrations
changes. The database is dropped at the end, whatever happens.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, event, text
from sqlalchemy.engine import CursorResult
from sqlmodel import Session, col, select

from api.cases.models import Case
from api.cases.schemas import CaseStatus, QueueFilter
from api.cases.service import queue, status_counts
from api.db import make_engine
from api.policy import Role
from api.staff.models import Staff
from bench.intake import scratch_database

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_CASES = 200_000
DEFAULT_REPEATS = 50
WARMUPS = 3
PAGE_SIZE = 50
TARGET_P95_MS = 50.0
TRIAGERS = 5

REFERENCE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # as api.cases.service
TAGS: tuple[str, ...] = (
    "rip-on-rip-off",
    "reefer",
    "night-shift",
    "badge-sharing",
    "gate-pin",
    "fence-hole",
    "seal-swap",
    "cocaine",
    "cigarettes",
    "cash-payment",
    "planner",
    "straddle-carrier",
    "release-code",
    "phishing",
    "drone",
    "small-boat",
    "stowaway",
    "fuel-theft",
    "copper-theft",
    "cctv-blind-spot",
    "truck-driver",
    "customs-scan",
    "lashing-crew",
    "empty-depot",
    "transhipment-hub",
    "repeat-reporter",
    "media-interest",
    "police-informed",
    "insider",
    "weekend",
)
TITLES: tuple[str, ...] = (
    "Seal broken at gate 3",
    "Container moved off plan",
    "Stranger between the stacks",
    "Gate left open at night",
    "Badge reader lets anyone in",
    "Driver paid the planner",
    "Fresh screws on container door",
    "Packages found in reefer unit",
    "Small boat alongside ship at anchor",
    "Hole in the fence near the rail yard",
    "Release codes sent to outsiders",
    "Fake e-mail asking for passwords",
    "Fuel missing from straddle carrier",
    "Threat against a lashing crew member",
    "Customs scan skipped for one container",
    "Shifts only for those who look away",
    "Car waiting near the stacks",
    "Voices from inside a container",
    "Cut cable at the quay crane",
    "Invoice does not match the cargo",
)
RESOLUTIONS: tuple[str, ...] = ("resolved", "referred", "no_action", "duplicate")

_OPEN = "('new', 'acknowledged', 'in_progress', 'waiting_for_reporter', 'referred')"
_INDEX_A = f'CREATE INDEX bench_ix_case_open_due ON "case" (due_at, id) WHERE status IN {_OPEN}'
_INDEX_B = 'CREATE INDEX bench_ix_case_status_due_id ON "case" (status, due_at, id)'
_INDEX_D = 'CREATE INDEX bench_ix_case_due_id ON "case" (due_at, id)'

# Indexes tried by --try-index, one candidate at a time: (what it is for, its statements).
CANDIDATE_INDEXES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("A: open cases in queue order, partial (due_at, id) WHERE status IN open", (_INDEX_A,)),
    ("B: queue order within one status, (status, due_at, id)", (_INDEX_B,)),
    ("D: queue order for all cases, (due_at, id)", (_INDEX_D,)),
    ("A + B", (_INDEX_A, _INDEX_B)),
    ("B + D", (_INDEX_B, _INDEX_D)),
)


# The database ----------------------------------------------------------------------------------


def prepare_portline_database(engine: Engine) -> None:
    """Migrate and seed the demo ports, taxonomy and bodies."""
    from api import migrate
    from api.demo import seed_demo

    migrate.upgrade(engine)
    with Session(engine) as session:
        seed_demo(session)
        session.commit()


# Seeding ---------------------------------------------------------------------------------------


def _u(seed: int, row: str) -> str:
    """A uniform draw in [0, 1) as a SQL expression: a hash of a row number and a seed."""
    return f"((hashint8extended({row}::bigint, {seed}) & 2147483647)::float8 / 2147483648.0)"


def _draws(count: int, row: str = "g") -> str:
    """Columns u1 .. u<count>: independent uniform draws for the row."""
    return ", ".join(f"{_u(seed, row)} AS u{seed}" for seed in range(1, count + 1))


def _pick(array: str, draw: str, skew: float = 1.0) -> str:
    """One element of a SQL array; skew > 1 favours the first elements."""
    position = draw if skew == 1.0 else f"power({draw}, {skew})"
    return f"({array})[1 + floor({position} * cardinality({array}))::int]"


def _array(values: Sequence[str]) -> str:
    return "ARRAY[" + ", ".join(f"'{value}'" for value in values) + "]::text[]"


def _reference(prefix: str, number: str) -> str:
    """A unique, random-looking reference for a row number: two rounds of xor-shift and
    multiply by an odd number, each a bijection modulo 2**40, and 40 bits are exactly 8
    characters of the 32-letter alphabet."""
    modulo = 1 << 40
    return f"""(
        SELECT '{prefix}' || string_agg(
            substr('{REFERENCE_ALPHABET}', ((m2 >> (5 * i)) & 31)::int + 1, 1), '' ORDER BY i)
        FROM (SELECT ((m1 # (m1 >> 20)) * 5555555) % {modulo} AS m2
            FROM (SELECT ((m0 # (m0 >> 20)) * 3148357) % {modulo} AS m1
                FROM (SELECT ({number}::bigint * 738219491 + 12345) % {modulo} AS m0) AS s0
            ) AS s1
        ) AS s2
        CROSS JOIN generate_series(0, 7) AS i
    )"""


def _cases_sql() -> str:
    return f"""
WITH lookup AS (
    SELECT
        (SELECT array_agg(id ORDER BY id) FROM category) AS category_ids,
        (SELECT array_agg(kind ORDER BY id) FROM category) AS category_kinds,
        (SELECT array_agg(cargo_relevant ORDER BY id) FROM category) AS category_cargo,
        (SELECT array_agg(id ORDER BY id) FROM port) AS port_ids,
        (SELECT array_agg(z.id ORDER BY z.id) FROM zone z
            WHERE z.port_id = (SELECT min(id) FROM port)) AS first_zones,
        (SELECT array_agg(z.id ORDER BY z.id) FROM zone z
            WHERE z.port_id = (SELECT max(id) FROM port)) AS second_zones,
        (SELECT array_agg(id ORDER BY id) FROM staff WHERE role = 'triager') AS staff_ids
),
drawn AS (
    SELECT g, {_draws(16)} FROM generate_series(1, :cases) AS g
),
shaped AS (
    SELECT d.*,
        CASE WHEN u1 < 0.80 THEN 'closed' WHEN u1 < 0.84 THEN 'new'
            WHEN u1 < 0.88 THEN 'acknowledged' WHEN u1 < 0.94 THEN 'in_progress'
            WHEN u1 < 0.97 THEN 'waiting_for_reporter' ELSE 'referred' END AS status,
        1 + floor(power(u2, 1.6) * cardinality(l.category_ids))::int AS category,
        CASE WHEN u3 < 0.7 THEN 1 ELSE 2 END AS port
    FROM drawn d CROSS JOIN lookup l
),
timed AS (
    SELECT s.*,
        -- Hours between receipt and now: three years for closed cases, a backlog for the
        -- open ones (new: the last three weeks, most recent; others: 8 days to 4 months).
        :now - make_interval(hours => CASE s.status
            WHEN 'closed' THEN 48 + floor(u7 * (1095 * 24 - 48))::int
            WHEN 'new' THEN floor(power(u7, 3) * 21 * 24)::int
            ELSE 8 * 24 + floor(u7 * 112 * 24)::int END) AS received,
        CASE WHEN s.status = 'new' THEN NULL
            ELSE floor(u8 * 7 * 24)::int END AS acknowledge_after_hours
    FROM shaped s
)
INSERT INTO "case" (
    reference, status, kind, category_id, port_id, zone_id, cargo_direction, severity,
    assignee_id, tlp, title, received_hour, acknowledge_due, acknowledged_at, feedback_due,
    due_at, closed_at, resolution
)
SELECT
    {_reference("C-", "s.g")},
    s.status,
    l.category_kinds[s.category],
    l.category_ids[s.category],
    p.id,
    CASE WHEN u4 < 0.10 THEN NULL
        WHEN s.port = 1 THEN {_pick("l.first_zones", "u5", 1.2)}
        ELSE {_pick("l.second_zones", "u5", 1.2)} END,
    CASE WHEN NOT l.category_cargo[s.category] THEN 'not_applicable'
        WHEN u6 < 0.40 THEN 'inbound' WHEN u6 < 0.70 THEN 'outbound'
        WHEN u6 < 0.85 THEN 'transhipment' ELSE 'not_applicable' END,
    CASE WHEN s.status = 'new' THEN
            CASE WHEN u10 < 0.7 THEN NULL ELSE 1 + floor(u11 * 4)::int END
        WHEN u10 < 0.05 THEN NULL WHEN u10 < 0.10 THEN 1 WHEN u10 < 0.35 THEN 2
        WHEN u10 < 0.75 THEN 3 ELSE 4 END,
    CASE WHEN s.status = 'new' AND u12 < 0.8 THEN NULL
        WHEN s.status <> 'new' AND u12 < 0.05 THEN NULL
        ELSE {_pick("l.staff_ids", "u13", 1.3)} END,
    CASE WHEN u14 < 0.1 THEN 'RED' WHEN u14 < 0.2 THEN 'GREEN' ELSE 'AMBER' END,
    {_pick(_array(TITLES), "u15")} || ' #' || s.g,
    s.received,
    s.received + make_interval(days => p.acknowledge_days),
    s.received + make_interval(hours => s.acknowledge_after_hours),
    s.received + make_interval(hours => s.acknowledge_after_hours, days => p.feedback_days),
    CASE s.status
        WHEN 'closed' THEN NULL
        WHEN 'new' THEN s.received + make_interval(days => p.acknowledge_days)
        ELSE s.received
            + make_interval(hours => s.acknowledge_after_hours, days => p.feedback_days) END,
    CASE WHEN s.status = 'closed' THEN least(:now, s.received
        + make_interval(hours => s.acknowledge_after_hours + floor(u9 * 100 * 24)::int)) END,
    CASE WHEN s.status = 'closed' THEN {_pick(_array(RESOLUTIONS), "u16", 1.5)} ELSE '' END
FROM timed s
CROSS JOIN lookup l
JOIN port p ON p.id = l.port_ids[s.port]
ORDER BY s.g
"""


def _reports_sql() -> str:
    """One report per case, and a second (a duplicate linked in) for one case in ten."""
    return f"""
INSERT INTO report (
    reference, case_id, kind, category_id, port_id, zone_id, occurred_on, occurred_approximate,
    cargo_direction, language, confidential, status, received_hour, wrapped_key,
    narrative_sealed, receipt_lookup, receipt_verifier, reporter_token_generation,
    next_message_seq, next_attachment_seq
)
SELECT
    {_reference("R-", "n.number + 1000000000")},
    c.id, c.kind, c.category_id, c.port_id, c.zone_id, (c.received_hour - interval '1 day')::date,
    false, c.cargo_direction, 'en', {_u(30, "c.id")} < 0.2, 'received', c.received_hour,
    '\\x00'::bytea, '\\x00'::bytea, md5('bench-' || n.number), 'bench', 0, 1, 1
FROM (
    SELECT id AS case_id, id AS number FROM "case"
    UNION ALL
    SELECT id, :cases + id FROM "case" WHERE {_u(31, "id")} < 0.1
) n
JOIN "case" c ON c.id = n.case_id
ORDER BY n.number
"""


def _tags_sql() -> str:
    """One case in five gets a tag, two in five of those a second one (never the same)."""
    tags = _array(TAGS)
    count = len(TAGS)
    return f"""
INSERT INTO case_tag (case_id, tag)
SELECT t.id, ({tags})[1 + picked.position]
FROM (
    SELECT id, floor(power({_u(20, "id")}, 1.5) * {count})::int AS first,
        floor({_u(21, "id")} * {count - 1})::int AS step, {_u(22, "id")} AS draw
    FROM "case"
) t
CROSS JOIN LATERAL (VALUES (t.first, true), ((t.first + 1 + t.step) % {count}, false))
    AS picked(position, primary_tag)
WHERE t.draw < 0.20 AND (picked.primary_tag OR t.draw < 0.08)
"""


@dataclass(frozen=True)
class Seeded:
    seconds: float
    case_insert_seconds: float
    cases: int
    reports: int
    tags: int
    open_cases: int
    table_mb: float


def seed(engine: Engine, cases: int, now: datetime) -> Seeded:
    """Five triagers, then the cases, reports and tags in bulk, then ANALYZE."""
    started = time.perf_counter()
    with Session(engine) as session:
        for number in range(1, TRIAGERS + 1):
            session.add(
                Staff(
                    email=f"triager{number}@bench.portline.test",
                    display_name=f"Bench triager {number}",
                    role=Role.triager.value,
                    created_at=now,
                )
            )
        session.commit()
    with engine.begin() as connection:
        parameters = {"cases": cases, "now": now}
        inserting = time.perf_counter()
        inserted_cases = _rowcount(connection.execute(text(_cases_sql()), parameters))
        case_insert_seconds = time.perf_counter() - inserting
        reports = _rowcount(connection.execute(text(_reports_sql()), parameters))
        tags = _rowcount(connection.execute(text(_tags_sql())))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE"))
    seconds = time.perf_counter() - started
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        # Write out what seeding dirtied now rather than while the queue is measured.
        connection.execute(text("CHECKPOINT"))
    with engine.connect() as connection:
        open_cases = connection.execute(
            text("SELECT count(*) FROM \"case\" WHERE status <> 'closed'")
        ).scalar_one()
        size = connection.execute(text("SELECT pg_total_relation_size('\"case\"')")).scalar_one()
    return Seeded(
        seconds, case_insert_seconds, inserted_cases, reports, tags, open_cases, size / 1_048_576
    )


def _rowcount(result: Any) -> int:
    assert isinstance(result, CursorResult)
    return int(result.rowcount)


# Measuring -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    name: str
    filters: QueueFilter


@dataclass
class Measured:
    scenario: Scenario
    samples_ms: list[float]  # queue()
    counts_ms: list[float]  # status_counts(), after queue() in the same session
    total: int
    rows: int

    def p(self, fraction: float) -> float:
        return percentile(self.samples_ms, fraction)

    @property
    def passed(self) -> bool:
        return self.p(0.95) < TARGET_P95_MS

    @property
    def page_ms(self) -> list[float]:
        """Both calls, as the admin queue page makes them."""
        return [
            queued + counted
            for queued, counted in zip(self.samples_ms, self.counts_ms, strict=True)
        ]

    @property
    def page_passed(self) -> bool:
        return percentile(self.page_ms, 0.95) < TARGET_P95_MS


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(fraction * len(ordered) + 0.5)))
    return ordered[rank - 1]


def scenarios(engine: Engine, now: datetime) -> list[Scenario]:
    """The ten filters, with values taken from the seeded data."""
    with Session(engine) as session:
        assignee = session.exec(
            select(Staff.id).where(Staff.role == Role.triager.value).order_by(col(Staff.id))
        ).first()
        # A fragment of the reference of an open case, as a triager would type it.
        reference = session.exec(
            select(Case.reference)
            .where(col(Case.status) == CaseStatus.in_progress.value)
            .order_by(col(Case.id))
        ).first()
    assert assignee is not None and reference is not None
    return [
        Scenario("default (open, by due date)", QueueFilter()),
        Scenario("overdue", QueueFilter(overdue=True)),
        Scenario("port + zone (NHV, gate-main)", QueueFilter(port="NHV", zone="gate-main")),
        Scenario(
            "category + kind (seal-tampering, incident)",
            QueueFilter(category="seal-tampering", kind="incident"),
        ),
        Scenario("severity 1", QueueFilter(severity=1)),
        Scenario(f"assignee ({assignee})", QueueFilter(assignee_id=assignee)),
        Scenario(f'search reference "{reference[2:7]}"', QueueFilter(search=reference[2:7])),
        Scenario('search tag "cocaine"', QueueFilter(search="cocaine")),
        Scenario("status closed", QueueFilter(status=[CaseStatus.closed])),
        Scenario("cargo outbound", QueueFilter(cargo_direction="outbound")),
    ]


def search_scenarios() -> list[Scenario]:
    """Search terms beyond the ten filters: words in many titles, and terms shorter than a
    trigram, which no index serves."""
    return [
        Scenario('search word "reefer" (titles and a tag)', QueueFilter(search="reefer")),
        Scenario('search word "gate" (titles and a tag)', QueueFilter(search="gate")),
        Scenario('search word "the"', QueueFilter(search="the")),
        Scenario('search 2 characters "ga"', QueueFilter(search="ga")),
    ]


def bench_actor(engine: Engine) -> Staff:
    """A triager with its attributes loaded, usable outside its session."""
    with Session(engine, expire_on_commit=False) as session:
        actor = session.exec(select(Staff).where(Staff.role == Role.triager.value)).first()
        assert actor is not None
        return actor


def measure(
    engine: Engine, actor: Staff, scenario: Scenario, now: datetime, repeats: int
) -> Measured:
    samples: list[float] = []
    counts: list[float] = []
    total = rows = 0
    for run in range(WARMUPS + repeats):
        with Session(engine) as session:
            started = time.perf_counter()
            page = queue(
                session=session,
                actor=actor,
                filters=scenario.filters,
                now=now,
                page=1,
                page_size=PAGE_SIZE,
            )
            queued = time.perf_counter()
            status_counts(session=session, actor=actor, filters=scenario.filters, now=now)
            counted = time.perf_counter()
        if run >= WARMUPS:
            samples.append((queued - started) * 1000)
            counts.append((counted - queued) * 1000)
        total, rows = page.total, len(page.rows)
    return Measured(scenario, samples, counts, total, rows)


@dataclass(frozen=True)
class Statement:
    sql: str
    parameters: Any
    ms: float


@contextmanager
def recorded_statements(engine: Engine) -> Iterator[list[Statement]]:
    """Every SQL statement the engine runs meanwhile, with its parameters and time."""
    recorded: list[Statement] = []
    started: list[float] = []

    def before(
        _conn: Connection, _cursor: Any, _sql: str, _params: Any, _context: Any, _many: bool
    ) -> None:
        started.append(time.perf_counter())

    def after(
        _conn: Connection, _cursor: Any, sql: str, params: Any, _context: Any, _many: bool
    ) -> None:
        recorded.append(Statement(sql, params, (time.perf_counter() - started.pop()) * 1000))

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        yield recorded
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)


def explain(engine: Engine, actor: Staff, scenario: Scenario, now: datetime) -> str:
    """Per-statement times of one page (queue and status_counts), and EXPLAIN ANALYZE of the
    slowest statement."""
    with recorded_statements(engine) as statements, Session(engine) as session:
        queue(
            session=session,
            actor=actor,
            filters=scenario.filters,
            now=now,
            page=1,
            page_size=PAGE_SIZE,
        )
        status_counts(session=session, actor=actor, filters=scenario.filters, now=now)
    lines = ["    statements of one page (ms):"]
    for statement in statements:
        first_line = " ".join(statement.sql.split())[:90]
        lines.append(f"      {statement.ms:7.1f}  {first_line}")
    slowest = max(statements, key=lambda statement: statement.ms)
    with engine.connect() as connection:
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + slowest.sql, slowest.parameters)
        plan = [str(row[0]) for row in cursor.fetchall()]
        cursor.close()
    lines.append("    EXPLAIN ANALYZE of the slowest:")
    lines.extend(f"      {line}" for line in plan)
    return "\n".join(lines)


def measure_all(
    engine: Engine, actor: Staff, cases: list[Scenario], now: datetime, repeats: int
) -> list[Measured]:
    results = []
    for scenario in cases:
        result = measure(engine, actor, scenario, now, repeats)
        results.append(result)
        print(
            f"  {scenario.name:<44} total {result.total:>7,}  rows {result.rows:>2}  "
            f"p50 {result.p(0.5):6.1f}  p95 {result.p(0.95):6.1f}  "
            f"max {max(result.samples_ms):6.1f} ms  {_mark(result.passed)}  "
            f"status_counts p95 {percentile(result.counts_ms, 0.95):6.1f}  "
            f"both p95 {percentile(result.page_ms, 0.95):6.1f} ms  {_mark(result.page_passed)}",
            flush=True,
        )
    return results


def _mark(passed: bool) -> str:
    return "PASS" if passed else "MISS"


def _index_name(statement: str) -> str | None:
    words = statement.split()
    if len(words) > 2 and words[0].upper() == "CREATE" and words[1].upper() == "INDEX":
        return words[2].strip('"')
    return None


def try_indexes(
    engine: Engine,
    actor: Staff,
    cases: list[Scenario],
    now: datetime,
    repeats: int,
    baseline: list[Measured],
    candidates: Sequence[tuple[str, Sequence[str]]],
) -> list[tuple[str, list[Measured]]]:
    """Experiment: each candidate alone, measured against the baseline, then dropped."""
    outcomes = []
    for label, statements in candidates:
        names = [name for name in map(_index_name, statements) if name]
        print(f"\n--try-index {label}:")
        try:
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                started = time.perf_counter()
                for statement in statements:
                    print(f"  {statement}")
                    connection.execute(text(statement))
                connection.execute(text("ANALYZE"))
                built = time.perf_counter() - started
                connection.execute(text("CHECKPOINT"))
                size = sum(
                    connection.execute(
                        text("SELECT pg_relation_size(CAST(:name AS regclass))"), {"name": name}
                    ).scalar_one()
                    for name in names
                )
            print(f"  built in {built:.1f} s, {size / 1_048_576:.1f} MB")
            # A new pool: connections that prepared statements before the index would keep
            # plans that do not know it.
            engine.dispose()
            results = measure_all(engine, actor, cases, now, repeats)
            outcomes.append((label, results))
            print("  p95 against the baseline:")
            for before, after in zip(baseline, results, strict=True):
                print(
                    f"    {before.scenario.name:<44} {before.p(0.95):6.1f} -> "
                    f"{after.p(0.95):6.1f} ms  {_mark(after.passed)}"
                )
        finally:
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                for name in names:
                    connection.execute(text(f'DROP INDEX IF EXISTS "{name}"'))
            engine.dispose()
    return outcomes


def try_index_table(baseline: list[Measured], outcomes: list[tuple[str, list[Measured]]]) -> str:
    """p95 per filter: the baseline, then each candidate."""
    labels = [label.split(":")[0] for label, _results in outcomes]
    rows = [
        "| filter | p95 ms now | " + " | ".join(f"with {label}" for label in labels) + " |",
        "| --- | --- |" + " --- |" * len(labels),
    ]
    for position, before in enumerate(baseline):
        cells = [before.scenario.name, f"{before.p(0.95):.1f}"]
        cells += [f"{results[position].p(0.95):.1f}" for _label, results in outcomes]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def markdown_table(results: list[Measured]) -> str:
    rows = [
        "| filter | matching cases | p50 ms | p95 ms | max ms | p95 < 50 ms "
        "| status_counts p95 ms | both p95 ms | both p95 < 50 ms |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for result in results:
        rows.append(
            f"| {result.scenario.name} | {result.total:,} | {result.p(0.5):.1f} | "
            f"{result.p(0.95):.1f} | {max(result.samples_ms):.1f} | {_mark(result.passed)} | "
            f"{percentile(result.counts_ms, 0.95):.1f} | {percentile(result.page_ms, 0.95):.1f} | "
            f"{_mark(result.page_passed)} |"
        )
    return "\n".join(rows)


# Command line ----------------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.queue",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--cases", type=int, default=DEFAULT_CASES, help="cases to insert")
    parser.add_argument("--repeats", type=int, default=DEFAULT_REPEATS, help="timed calls")
    parser.add_argument(
        "--admin-url",
        default=os.environ.get("PORTLINE_BENCH_PG_URL", DEFAULT_ADMIN_URL),
        help="a PostgreSQL URL that may create databases",
    )
    parser.add_argument(
        "--explain", action="store_true", help="show EXPLAIN ANALYZE for every filter"
    )
    parser.add_argument(
        "--try-index",
        action="store_true",
        help="experiment: measure again with each candidate index (benchmark database only)",
    )
    parser.add_argument(
        "--index",
        action="append",
        default=[],
        metavar="SQL",
        help="statements (separated by ;) to try instead of the built-in candidates; repeatable",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    with scratch_database(
        "postgresql", Path(tempfile.gettempdir()), args.admin_url, "portline_queue"
    ) as url:
        engine = make_engine(url)
        try:
            with engine.connect() as connection:
                server = connection.execute(text("SHOW server_version")).scalar_one()
            print(
                f"Triage queue benchmark: {args.cases:,} cases, page 1 of {PAGE_SIZE}, "
                f"{WARMUPS} warm-ups + {args.repeats} calls per filter\n"
                f"{os.cpu_count()} CPUs ({cpu_model()}), "
                f"Python {sys.version.split()[0]}, PostgreSQL {server}, "
                f"load average {os.getloadavg()[0]:.2f}"
            )
            prepare_portline_database(engine)
            seeded = seed(engine, args.cases, now)
            print(
                f"Seeded {seeded.cases:,} cases ({seeded.open_cases:,} open), "
                f"{seeded.reports:,} reports, {seeded.tags:,} tags in {seeded.seconds:.1f} s "
                f"(the cases' INSERT ... SELECT generate_series {seeded.case_insert_seconds:.1f} s, "
                f"then reports, tags, VACUUM ANALYZE); case table with its indexes "
                f"{seeded.table_mb:.0f} MB\n"
            )
            actor = bench_actor(engine)
            cases = scenarios(engine, now)
            outcomes: list[tuple[str, list[Measured]]] = []
            results = measure_all(engine, actor, cases, now, args.repeats)
            more = measure_all(engine, actor, search_scenarios(), now, args.repeats)
            for result in results:
                if args.explain or not result.page_passed:
                    print(f"\n{result.scenario.name}:")
                    print(explain(engine, actor, result.scenario, now))
            if args.try_index or args.index:
                candidates = (
                    [
                        (
                            f"--index {number}",
                            [part.strip() for part in sql.split(";") if part.strip()],
                        )
                        for number, sql in enumerate(args.index, start=1)
                    ]
                    if args.index
                    else list(CANDIDATE_INDEXES)
                )
                outcomes = try_indexes(engine, actor, cases, now, args.repeats, results, candidates)
            passed = sum(result.passed for result in results)
            # Anything else running on the machine slows every figure: say how busy it was.
            print(
                f"\nTarget p95 < {TARGET_P95_MS:.0f} ms: {passed} of {len(results)} filters "
                f"PASS. Seeding took {seeded.seconds:.1f} s. Load average (1 min) at the end: "
                f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs.\n"
            )
            print(markdown_table(results))
            print("\nMore search terms (not among the ten filters):\n")
            print(markdown_table(more))
            if outcomes:
                print(f"\n--try-index, p95 in ms (target < {TARGET_P95_MS:.0f}):\n")
                print(try_index_table(results, outcomes))
        finally:
            engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
