"""Request metrics in the Prometheus format, and the exposition ``/metrics`` answers with.

Every request is counted under its route's template (``/api/v1/cases/{case_id}``, or
``(no route)``), its method and its status class, and timed under its template and
method. Nothing else ever becomes a label: no id, no path a person typed, no address, no
time. Nor a series' creation time (prometheus_client's ``*_created`` samples), which
would date the first report a process received to the second.

One ``portline serve`` may run several processes. When ``PROMETHEUS_MULTIPROC_DIR`` names
a directory (:func:`prepare_multiprocess_dir`), each process writes its counts there and a
scrape of any of them adds up all of them (prometheus_client's multiprocess mode);
otherwise the counts live in this process. Which of the two is decided when the metrics
are first used, not at import, so the directory may be set up after this module was
imported, as long as it is before the server's processes answer anything.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
    values,
)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

MULTIPROCESS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4

# A method is a label only if it is one of these: a client may send any token as a method.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "other"


def prepare_multiprocess_dir(path: Path) -> None:
    """Make ``path`` where this process and the processes it starts keep their request
    counts, emptied of an earlier run's. Call it before the server's processes start.

    Only prometheus_client's own files (``*.db``) are removed, so a directory named by
    mistake loses nothing else."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()
    os.environ[MULTIPROCESS_VARIABLE] = str(path)


@dataclass(frozen=True)
class _Instruments:
    requests: Counter
    seconds: Histogram
    # What a scrape reads: the instruments themselves, or every process's files.
    source: CollectorRegistry


class _RequestMetrics:
    """The instruments, made on first use in the mode the environment asks for then."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._instruments: _Instruments | None = None

    def instruments(self) -> _Instruments:
        with self._lock:
            if self._instruments is None:
                self._instruments = self._make()
            return self._instruments

    @staticmethod
    def _make() -> _Instruments:
        # (prometheus_client leaves the three functions called here without type hints.)
        disable_created_metrics()  # type: ignore[no-untyped-call]
        directory = os.environ.get(MULTIPROCESS_VARIABLE)
        source = CollectorRegistry()
        if directory:
            # prometheus_client picks its value class when it is imported; this process
            # may have imported it before the directory was set.
            if not getattr(values.ValueClass, "_multiprocess", False):
                values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]
            MultiProcessCollector(source, path=directory)  # type: ignore[no-untyped-call]
        registry = None if directory else source
        return _Instruments(
            requests=Counter(
                "portline_requests",
                "Requests answered, by route template, method and status class.",
                ["route", "method", "status_class"],
                registry=registry,
            ),
            seconds=Histogram(
                "portline_request_seconds",
                "Time to answer a request, by route template and method.",
                ["route", "method"],
                registry=registry,
            ),
            source=source,
        )


_request_metrics = _RequestMetrics()


def observe_request(*, method: str, route: str, status: int, seconds: float) -> None:
    """Count one answered request. ``route`` is its route's template (never its path)."""
    instruments = _request_metrics.instruments()
    label = method if method in METHODS else OTHER_METHOD
    instruments.requests.labels(route, label, f"{status // 100}xx").inc()
    instruments.seconds.labels(route, label).observe(seconds)


# The operations endpoints themselves are no one's report: counted at once, as staff's are.
OPERATIONS_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})

# A reporter's request is counted only once its hour is over, as the log counts it
# (api/logs.py): a counter that moved at one scrape and not the one before would date a
# report or a receipt login to the scrape interval. Bounded: past this many requests in an
# hour on one route, the rest are counted without their latency.
_HELD_LATENCIES = 10_000


@dataclass
class _Held:
    count: int = 0
    latencies: list[float] | None = None


class HeldRequests:
    """Reporter requests of the hour still running, kept in memory until it is over."""

    def __init__(self) -> None:
        self._held: dict[tuple[int, str, str, int], _Held] = {}

    def hold(self, *, hour: int, method: str, route: str, status: int, seconds: float) -> None:
        held = self._held.setdefault((hour, method, route, status), _Held(latencies=[]))
        held.count += 1
        if held.latencies is not None and len(held.latencies) < _HELD_LATENCIES:
            held.latencies.append(seconds)

    def release_finished_hours(self, now_hour: int) -> None:
        for key in [key for key in self._held if key[0] < now_hour]:
            _hour, method, route, status = key
            held = self._held.pop(key)
            instruments = _request_metrics.instruments()
            label = method if method in METHODS else OTHER_METHOD
            instruments.requests.labels(route, label, f"{status // 100}xx").inc(held.count)
            for seconds in held.latencies or []:
                instruments.seconds.labels(route, label).observe(seconds)


class _Scrape:
    """The request metrics and whatever else a scrape reads (the database's gauges)."""

    def __init__(self, collectors: Iterable[Collector]) -> None:
        self._collectors = [_request_metrics.instruments().source, *collectors]

    def collect(self) -> Iterable[Metric]:
        for collector in self._collectors:
            yield from collector.collect()


def exposition(*collectors: Collector) -> bytes:
    """The text ``/metrics`` answers with: the requests of every process, then
    ``collectors``' metrics, read now."""
    return generate_latest(_Scrape(collectors))
