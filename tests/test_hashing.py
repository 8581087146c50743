from __future__ import annotations

import os
import platform
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from passlib.context import CryptContext

from api import hashing
from api.reports import receipts
from api.staff import passwords

RECEIPT = "1234567812345678"
PASSWORD = "correct horse battery staple"


class CountingContext:
    """A real CryptContext that counts how many of its hashes and verifications run at
    once; each holds its slot a little longer, so calls that are let through together
    are sure to overlap."""

    def __init__(self, context: CryptContext) -> None:
        self.context = context
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.calls = 0

    def _counted(self, work: Callable[[], Any]) -> Any:
        with self.lock:
            self.running += 1
            self.calls += 1
            self.most = max(self.most, self.running)
        try:
            time.sleep(0.01)
            return work()
        finally:
            with self.lock:
                self.running -= 1

    def hash(self, secret: str) -> Any:
        return self._counted(lambda: self.context.hash(secret))

    def verify(self, secret: str, stored: str) -> Any:
        return self._counted(lambda: self.context.verify(secret, stored))

    def verify_and_update(self, secret: str, stored: str) -> Any:
        return self._counted(lambda: self.context.verify_and_update(secret, stored))


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> CountingContext:
    """Receipts and passwords both hashing through one counter (at the cheap test
    parameters for passwords, see tests/conftest.py)."""
    counter = CountingContext(passwords._context)
    monkeypatch.setattr(receipts, "_verifiers", counter)
    monkeypatch.setattr(passwords, "_context", counter)
    return counter


def all_at_once(calls: list[Callable[[], object]]) -> None:
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], object]) -> None:
        barrier.wait()
        call()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


class TestGate:
    def test_the_pool_has_one_slot_per_core(self) -> None:
        assert len(os.sched_getaffinity(0)) == hashing.POOL_SIZE

    def test_hashes_beyond_the_pool_wait_for_a_slot(self, counted: CountingContext) -> None:
        receipt_verifier = receipts.make_verifier(RECEIPT)
        password_hash = passwords.hash_password(PASSWORD)
        counted.calls = counted.most = 0
        work: list[Callable[[], object]] = [
            lambda: receipts.make_verifier(RECEIPT),
            lambda: receipts.verify(RECEIPT, receipt_verifier),
            lambda: receipts.verify(RECEIPT, None),
            lambda: passwords.hash_password(PASSWORD),
            lambda: passwords.verify(PASSWORD, password_hash),
            lambda: passwords.verify(PASSWORD, None),
        ]
        calls = work * (4 * hashing.POOL_SIZE)

        all_at_once(calls)

        assert counted.calls == len(calls)
        assert counted.most == hashing.POOL_SIZE

    @pytest.mark.parametrize(
        "call",
        [
            lambda: receipts.make_verifier(RECEIPT),
            lambda: receipts.verify(RECEIPT, None),
            lambda: passwords.hash_password(PASSWORD),
            lambda: passwords.verify(PASSWORD, None),
        ],
        ids=["receipt hash", "receipt verify", "password hash", "password verify"],
    )
    def test_every_hash_takes_a_slot(
        self, counted: CountingContext, monkeypatch: pytest.MonkeyPatch, call: Callable[[], object]
    ) -> None:
        gate = threading.BoundedSemaphore(1)
        monkeypatch.setattr(hashing, "_gate", gate)
        with gate:  # every slot taken
            waiting = threading.Thread(target=call, daemon=True)
            waiting.start()
            waiting.join(timeout=0.2)
            ran_meanwhile = counted.calls
        waiting.join(timeout=10)

        assert ran_meanwhile == 0
        assert counted.calls == 1


# A fresh process: what glibc keeps depends on everything the process allocated before.
HASH_FROM_40_THREADS = """
import threading
from api import hashing
hashing.limit_malloc_arenas()
from api.reports import receipts

def resident_mb():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) // 1024

before = resident_mb()
threads = [
    threading.Thread(target=receipts.make_verifier, args=("1234567812345678",))
    for _ in range(40)
]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(resident_mb() - before)
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc arenas are glibc's")
class TestMemory:
    def test_memory_is_returned_once_the_hashes_are_done(self) -> None:
        environment = {
            name: value for name, value in os.environ.items() if name != hashing.ARENA_VARIABLE
        }
        grown = subprocess.run(
            [sys.executable, "-c", HASH_FROM_40_THREADS],
            env=environment,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        ).stdout

        # Less than one 19 MiB receipt buffer (without the limits: about 280 MB).
        assert int(grown) < 19

    def test_arenas_are_limited_and_passed_to_children(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.delenv(hashing.ARENA_VARIABLE, raising=False)

        assert hashing.limit_malloc_arenas() == hashing.MALLOC_ARENAS
        assert os.environ[hashing.ARENA_VARIABLE] == str(hashing.MALLOC_ARENAS)

    def test_an_operators_limit_is_kept(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv(hashing.ARENA_VARIABLE, "4")

        assert hashing.limit_malloc_arenas() == 4
        assert os.environ[hashing.ARENA_VARIABLE] == "4"
