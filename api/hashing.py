"""One gate for every Argon2 hash and verification in a process, and the memory they
use handed back to the system.

Argon2 is memory-hard by design: a receipt verifier needs 19 MiB, a staff password
64 MiB. Without a gate, each of the 40 request threads could hold a buffer at once, and
glibc gave each thread its own malloc arena (up to 8 per core) that kept its freed 19 MiB
for next time: one process grew to about 600 MB and stayed there. So hashes queue for one
slot per core, glibc keeps one arena, and once no hash is running the freed buffers are
returned (docs/benchmarks.md, issue 13).
"""

from __future__ import annotations

import ctypes
import os
import platform
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

ARENA_VARIABLE = "MALLOC_ARENA_MAX"
# Python code allocates under the GIL, one thread at a time, so more arenas buy little
# but each keeps its own freed Argon2 buffers: one measured 40 MB less than two at the
# same throughput.
MALLOC_ARENAS = 1
_M_ARENA_MAX = -8  # glibc's malloc.h

_GLIBC = platform.libc_ver()[0] == "glibc"
_malloc_trim: Callable[[int], int] | None = ctypes.CDLL(None).malloc_trim if _GLIBC else None


def _cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


POOL_SIZE = _cores()
_gate = threading.BoundedSemaphore(POOL_SIZE)
_running_lock = threading.Lock()
_running = 0


@contextmanager
def slot() -> Iterator[None]:
    """Hold one of the process's ``POOL_SIZE`` Argon2 slots, waiting for one when all are
    taken; the last hash out returns the free memory to the system."""
    global _running
    with _gate:
        with _running_lock:
            _running += 1
        try:
            yield
        finally:
            with _running_lock:
                _running -= 1
                last = _running == 0
    # Only when no hash runs, so under load (a hash always waiting) it costs nothing; an
    # idle server's next hash pays for it, ~6 ms of page faults.
    if last and _malloc_trim is not None:
        _malloc_trim(0)


def limit_malloc_arenas() -> int | None:
    """Keep glibc to ``MALLOC_ARENAS`` malloc arenas (or to ``MALLOC_ARENA_MAX``, when
    the operator set it), in this process and, through the environment, in its children.

    Takes effect for arenas not yet made, so call it before the request threads start.
    Returns the limit, or ``None`` where the C library is not glibc (nothing to do)."""
    if not _GLIBC:
        return None
    configured = os.environ.get(ARENA_VARIABLE, "")
    limit = int(configured) if configured.isdigit() and int(configured) > 0 else MALLOC_ARENAS
    # glibc reads the variable only when a process starts: it is set here for the
    # processes started from this one (uvicorn's workers), and mallopt covers this one.
    os.environ[ARENA_VARIABLE] = str(limit)
    ctypes.CDLL(None).mallopt(_M_ARENA_MAX, limit)
    return limit
